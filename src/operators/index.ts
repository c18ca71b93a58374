export * from './intent';
export * from './halt-gate';
export * from './translate';
export * from './rate-limit';
export * from './retry-backoff';
export * from './fill-deltas';
export * from './circuit-breaker';
export * from './queue-map';
