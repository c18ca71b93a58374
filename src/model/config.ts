/** Kraken account tiers, which set both rate limiters. `unlimited` exists only on the paper exchange. */
export type Tier = 'starter' | 'intermediate' | 'pro' | 'unlimited';

export type ProtectionMode = 'stop-resting' | 'both-resting';

/** `websocket`: the push feed with REST as the safety net; `rest`: polling only. */
export type FeedMode = 'websocket' | 'rest';

export type LogLevelName = 'trace' | 'debug' | 'info' | 'warn' | 'error' | 'silent';

/** Retry with exponential backoff and jitter. */
export interface RetryPolicyConfig {
  readonly maxAttempts: number;
  readonly initialDelayMs: number;
  readonly maxDelayMs: number;
  readonly multiplier: number;
  /** 0..1: the share of each delay that is randomised. */
  readonly jitter: number;
}

/** Everything the handler can be told. `config.json` holds every key with its default. */
export interface ExecutionConfig {
  /** `paper`: start the embedded paper exchange; `live`: talk to `exchange.url` with env credentials. */
  readonly mode: 'paper' | 'live';
  readonly logLevel: LogLevelName;
  readonly exchange: {
    readonly url: string;
    readonly tier: Tier;
    readonly requestTimeoutMs: number;
    /** Only ask the exchange to validate orders; nothing is placed. */
    readonly validateOnly: boolean;
  };
  readonly entry: {
    /** Limit entries: cancel the unfilled rest after this long, unless the signal says otherwise. */
    readonly limitTimeoutMs: number;
    /** Kraken `deadline`: how long the exchange may queue an AddOrder (2 s .. 60 s). */
    readonly deadlineMs: number;
    /** How many placements may be in flight at once. */
    readonly maxConcurrentPlacements: number;
    /**
     * The fat-finger band: a limit, stop-loss or take-profit price further than this fraction from the pair's
     * last price (0.1 = 10 %) is rejected, both prices named. Absent or null: no band (the shipped config.json
     * sets 0.1).
     */
    readonly maxPriceDeviation?: number | null;
  };
  readonly protection: {
    readonly mode: ProtectionMode;
    /** How often the client-side take-profit watch reads the ticker. */
    readonly takeProfitPollMs: number;
  };
  readonly monitor: {
    /** Fastest OpenOrders tick while orders are open. */
    readonly minIntervalMs: number;
    /** Slowest tick when the REST budget runs low. */
    readonly maxIntervalMs: number;
  };
  readonly retry: RetryPolicyConfig;
  /** Resolving an ambiguous placement by looking the client order id up. */
  readonly lookup: {
    readonly attempts: number;
    readonly intervalMs: number;
  };
  readonly breaker: {
    readonly failureThreshold: number;
    readonly cooldownMs: number;
  };
  /**
   * Where fills and order changes come from. Absent: `websocket` when the handler is given a feed (`HandlerDeps.feed`),
   * else `rest`. `websocket` keeps REST as the safety net: a slow audit (one OpenOrders every `auditIntervalMs`) while
   * the socket is up, a batched QueryOrders resync on every (re)subscription and sequence gap, today's polling while
   * it is down (and when no feed was given). `rest`: polling only, a feed given is not used.
   */
  readonly feed?: {
    readonly mode: FeedMode;
    readonly auditIntervalMs: number;
  };
  readonly paper: {
    readonly port: number;
    readonly seed: number;
    readonly tier: Tier;
  };
}
