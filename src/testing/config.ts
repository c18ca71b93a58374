import { type ExecutionConfig } from '../model/config';

/** Overrides of an `ExecutionConfig`, section by section (`{ breaker: { cooldownMs: 5_000 } }`). */
export type ConfigOverrides = {
  readonly [K in keyof ExecutionConfig]?: ExecutionConfig[K] extends object ? Partial<ExecutionConfig[K]> : ExecutionConfig[K];
};

/**
 * The handler's config for tests: Kraken's shapes with short intervals (a 1 s monitor tick, a 3 s breaker
 * cool-down, 300 ms first back-off), no jitter surprises (the kit seeds it), in virtual (or idle-clock) ms.
 *
 * @param overrides sections to change; each is merged over the defaults
 */
export function testConfig(overrides: ConfigOverrides = {}): ExecutionConfig {
  const base: ExecutionConfig = {
    mode: 'paper',
    logLevel: 'silent',
    exchange: { url: 'http://127.0.0.1:0', tier: 'starter', requestTimeoutMs: 10_000, validateOnly: false },
    // deadlineMs: room for a timed-out private call or two ahead in the key's queue.
    entry: { limitTimeoutMs: 60_000, deadlineMs: 30_000, maxConcurrentPlacements: 4 },
    protection: { mode: 'stop-resting', takeProfitPollMs: 1_000 },
    monitor: { minIntervalMs: 1_000, maxIntervalMs: 6_000 },
    retry: { maxAttempts: 6, initialDelayMs: 300, maxDelayMs: 3_000, multiplier: 2, jitter: 0.2 },
    lookup: { attempts: 8, intervalMs: 1_000 },
    breaker: { failureThreshold: 6, cooldownMs: 3_000 },
    paper: { port: 0, seed: 42, tier: 'starter' },
  };
  return {
    mode: overrides.mode ?? base.mode,
    logLevel: overrides.logLevel ?? base.logLevel,
    exchange: { ...base.exchange, ...overrides.exchange },
    entry: { ...base.entry, ...overrides.entry },
    protection: { ...base.protection, ...overrides.protection },
    monitor: { ...base.monitor, ...overrides.monitor },
    retry: { ...base.retry, ...overrides.retry },
    lookup: { ...base.lookup, ...overrides.lookup },
    breaker: { ...base.breaker, ...overrides.breaker },
    paper: { ...base.paper, ...overrides.paper },
  };
}
