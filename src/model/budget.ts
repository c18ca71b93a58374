import { type RateCountersRecord } from './journal';

/** What one call costs on the exchange's rate limiters. */
export interface RateCost {
  /** Units on the per-key REST counter (Kraken: 1, history calls 2, AddOrder/CancelOrder 0). */
  readonly rest: number;
  /** Units on a per-pair trading counter (Kraken: AddOrder 1, CancelOrder 0..8 by order age). */
  readonly trading?: { readonly pair: string; readonly units: number };
  /** Units on the per-IP public-call counter (Kraken: 1 per public call, e.g. Ticker, AssetPairs). */
  readonly public?: number;
}

/**
 * A pure model of the exchange's rate limiters. Time is passed in (epoch ms), so the same model serves the
 * client's `rateLimit` (in virtual time under test) and the paper exchange's enforcement.
 */
export interface RateBudget {
  /** Milliseconds from `now` until `cost` fits (0 when it fits now). */
  waitMs(cost: RateCost, now: number): number;
  /** Charge `cost` at `now`. */
  record(cost: RateCost, now: number): void;
  /** The exchange said a limit was exceeded: set the counters that `cost` touches to their cap. */
  snap(cost: RateCost, now: number): void;
  /** The counters' levels at `now`, to journal (a restart starts from them). Absent: the model cannot tell. */
  counters?(now: number): RateCountersRecord;
  /**
   * Starts from journaled levels (decayed from their `at` to `now`, as the exchange's did), or, given `null`
   * (nothing journaled), from full counters: a process that cannot know what was spent assumes all of it was.
   */
  seed?(counters: RateCountersRecord | null, now: number): void;
}

/** A call the streams make through the `ExchangePort`, as far as its rate cost is concerned. */
export type PortCall =
  | { readonly kind: 'placeOrder'; readonly pair: string }
  | { readonly kind: 'cancelOrder'; readonly pair: string; readonly orderAgeMs: number }
  | { readonly kind: 'queryOrders' }
  | { readonly kind: 'openOrders' }
  | { readonly kind: 'closedOrders' }
  | { readonly kind: 'ticker' }
  | { readonly kind: 'pairs' }
  /** A token for the exchange's WebSocket API, asked for by the push feed once per connection (a private call). */
  | { readonly kind: 'webSocketsToken' };

/** What each call costs on the exchange's limiters (Kraken's table lives in `src/kraken`). */
export type CostModel = (call: PortCall) => RateCost;
