import { type Decimal } from 'decimal.js';
import { type Observable } from 'rxjs';
import { type CancelOutcome, type OrderRequest, type PlacedOrder, type Quote } from './order';
import { type PortCall } from './budget';
import { type OrderRef } from './port';
import { type Side } from './signal';

/**
 * The exchange's push feed as the streams see it: orders, fills and prices as they happen, with the feed's own
 * health as values, so a monitor can decide when to trust it and when to fall back to polling. Exchange-neutral:
 * pairs are canonical keys, amounts are decimals, times are epoch ms.
 */

/** An order's status as a push feed reports it (finer than REST's: a partial fill is a status of its own). */
export type FeedOrderStatus = 'pending' | 'open' | 'partially-filled' | 'filled' | 'canceled' | 'expired';

/** What happened to the order in this event. */
export type FeedOrderChange =
  | 'snapshot'
  | 'pending'
  | 'new'
  | 'trade'
  | 'filled'
  | 'canceled'
  | 'expired'
  | 'amended'
  | 'restated'
  | 'status'
  | 'iceberg-refill';

/**
 * One order event. Events are sparse: a field the event did not carry is `null` (a cancel carries no pair), so
 * a consumer keys orders by `txid` and only moves a field forward when it is present.
 */
export interface FeedOrder {
  readonly txid: string;
  readonly clientOrderId: string | null;
  readonly userref: number | null;
  /** Canonical pair key, when the event named the pair. */
  readonly pair: string | null;
  readonly change: FeedOrderChange;
  readonly status: FeedOrderStatus;
  readonly side: Side | null;
  readonly orderType: string | null;
  /** Ordered volume (base). */
  readonly volume: Decimal | null;
  /** Cumulative executed volume (base): the figure fills are reckoned from, not the status. */
  readonly volumeExecuted: Decimal | null;
  /** Cumulative quote cost of what executed. */
  readonly cost: Decimal | null;
  readonly averagePrice: Decimal | null;
  readonly limitPrice: Decimal | null;
  readonly reason: string | null;
  /** Epoch ms the exchange stamped the event with, when it did. */
  readonly at: number | null;
}

export interface FeedFee {
  readonly asset: string;
  readonly amount: Decimal;
}

/** One fill. `tradeId` is the exchange's trade id, the same one its REST order lookups list. */
export interface FeedTrade {
  readonly tradeId: string;
  readonly txid: string;
  readonly clientOrderId: string | null;
  readonly pair: string | null;
  readonly side: Side | null;
  readonly volume: Decimal;
  readonly price: Decimal;
  readonly cost: Decimal | null;
  readonly fees: readonly FeedFee[];
  readonly liquidity: 'maker' | 'taker' | null;
  readonly at: number | null;
}

/** Why the feed is not (or no longer) delivering. */
export type FeedDownReason = 'closed' | 'stalled' | 'refused' | 'error';

/**
 * The feed's events, in the order they happened on the wire.
 * - `up`: subscribed; the `snapshot` that follows is a resync point.
 * - `snapshot`: every open order (and the recent fills) at (re)subscription: orders tracked but absent are no longer open.
 * - `gap`: a sequence number was skipped: events were lost, resync by other means.
 * - `system`: the exchange's status changed while up (`online`, `maintenance`, `cancel_only`, `post_only`).
 * - `down`: the socket is gone; the feed reconnects by itself unless `terminal` (then it completes after this).
 */
export type ExecutionEvent =
  | { readonly kind: 'up'; readonly system: string | null }
  | { readonly kind: 'snapshot'; readonly orders: readonly FeedOrder[]; readonly trades: readonly FeedTrade[] }
  | { readonly kind: 'order'; readonly order: FeedOrder }
  | { readonly kind: 'trade'; readonly trade: FeedTrade }
  | { readonly kind: 'gap'; readonly expected: number; readonly received: number }
  | { readonly kind: 'system'; readonly status: string }
  | { readonly kind: 'down'; readonly reason: FeedDownReason; readonly terminal: boolean; readonly detail: string };

export type QuoteEvent =
  | { readonly kind: 'up'; readonly system: string | null }
  | { readonly kind: 'quote'; readonly quote: Quote }
  | { readonly kind: 'system'; readonly status: string }
  | { readonly kind: 'down'; readonly reason: FeedDownReason; readonly terminal: boolean; readonly detail: string };

/** One of the feed's own calls to the exchange's REST API (Kraken: a GetWebSocketsToken per connection). */
export type FeedCall = Extract<PortCall, { readonly kind: 'webSocketsToken' }>;

/** How a run sends the feed's own calls: through its rate gate and circuit breaker, like its other private calls. */
export type FeedCallGate = <T>(call: FeedCall, send: () => Observable<T>) => Observable<T>;

/**
 * A push feed. The Observables are shared: the first subscriber opens the connection, the last one to leave
 * closes it. Orders sent through the feed behave as the `ExchangePort`'s: cold, one value or an `ExchangeError`
 * (`retryable` when nothing was sent because the feed is down, `ambiguous` when it was sent and not answered).
 */
export interface ExecutionFeed {
  executions(): Observable<ExecutionEvent>;
  quotes(pairs: readonly string[]): Observable<QuoteEvent>;
  placeOrder(request: OrderRequest): Observable<PlacedOrder>;
  cancelOrder(ref: OrderRef): Observable<CancelOutcome>;
  /**
   * Sends the feed's own REST calls (its tokens) through `gate` until the returned function is called; the
   * latest gate still installed is used, and without one they go straight to the exchange. A feed that makes no
   * REST calls of its own leaves it out.
   */
  guardCalls?(gate: FeedCallGate): () => void;
}
