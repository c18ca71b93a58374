/**
 * kraken-rx-execution: the package root. The model types, the Kraken client and signing, every operator,
 * the execution handler, the paper exchange, the order journals, the Redis bus and the PostgreSQL lease, and the clocks (scaled for the demo, idle-advancing
 * for end-to-end tests).
 */
export * from './model';
export * from './kraken';
export * from './operators';
export * from './streams';
export * from './paper';
export * from './journal';
export * from './bus';
export * from './cluster';
export { ScaledScheduler } from './time/scaled-scheduler';
export { IdleClock } from './time/idle-clock';
export { type TimerHandle, type Timers, realTimers } from './time/timers';
export { type LinkTracker, UNTRACKED } from './time/link-tracker';
export { ConfigError, defaultConfig, loadConfig, mergeConfig, parseConfig } from './config/config';
