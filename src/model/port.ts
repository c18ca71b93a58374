import { type Observable } from 'rxjs';
import {
  type CancelOutcome,
  type OrderRequest,
  type OrderSnapshot,
  type PlacedOrder,
  type Quote,
} from './order';
import { type PortCall } from './budget';
import { type PairBook } from './pair';

export type OrderRef = { readonly txid: string } | { readonly clientOrderId: string };

/**
 * How a call reaches the exchange: `rest` is signed with the key's nonce, so private REST calls go one at a
 * time; `websocket` carries the socket's token and no nonce, so it queues behind nothing.
 */
export type PortTransport = 'rest' | 'websocket';

/** One page of ClosedOrders: the orders of the page by txid, and how many match in all (`count`, Kraken's). */
export interface ClosedOrdersPage {
  readonly orders: ReadonlyMap<string, OrderSnapshot>;
  readonly count: number;
}

/**
 * The exchange as the streams see it. Every method returns a cold Observable: subscribing sends the request,
 * unsubscribing aborts it; it emits once and completes, or errors with an `ExchangeError`.
 * Maps are keyed by txid (orders) or by pair key (quotes).
 */
export interface ExchangePort {
  placeOrder(request: OrderRequest): Observable<PlacedOrder>;
  cancelOrder(ref: OrderRef): Observable<CancelOutcome>;
  /** At most 50 txids per call (Kraken QueryOrders). */
  queryOrders(txids: readonly string[]): Observable<ReadonlyMap<string, OrderSnapshot>>;
  openOrders(filter?: { readonly clientOrderId?: string }): Observable<ReadonlyMap<string, OrderSnapshot>>;
  closedOrders(filter?: { readonly clientOrderId?: string }): Observable<ReadonlyMap<string, OrderSnapshot>>;
  /**
   * One page (at most 50, newest first) of the orders opened or closed after `startMs` (epoch ms, rounded down to
   * Kraken's whole seconds; exclusive), from `offset`; `count` is all that match, not the page's size. A port
   * without it has only the lookups by client order id (reconciliation then makes one per order).
   */
  closedOrdersSince?(startMs: number, offset: number): Observable<ClosedOrdersPage>;
  ticker(pairs: readonly string[]): Observable<ReadonlyMap<string, Quote>>;
  pairs(): Observable<PairBook>;
  /**
   * Which transport a call of this kind would use if sent now (a hint for the rate gate's private-call slot:
   * only nonce-signed REST calls take it). A port without it sends everything over REST.
   */
  transportOf?(kind: PortCall['kind']): PortTransport;
}
