import { type Observable } from 'rxjs';
import {
  type CancelOutcome,
  type OrderRequest,
  type OrderSnapshot,
  type PlacedOrder,
  type Quote,
} from './order';
import { type PairBook } from './pair';

export type OrderRef = { readonly txid: string } | { readonly clientOrderId: string };

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
  ticker(pairs: readonly string[]): Observable<ReadonlyMap<string, Quote>>;
  pairs(): Observable<PairBook>;
}
