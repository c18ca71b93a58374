import { type Observable, defer } from 'rxjs';
import { type PortCall } from '../model/budget';
import { type CancelOutcome, type OrderRequest, type OrderSnapshot, type PlacedOrder, type Quote } from '../model/order';
import { type PairBook } from '../model/pair';
import { type ClosedOrdersPage, type ExchangePort, type OrderRef, type PortTransport } from '../model/port';

/** The socket's trading side (`KrakenWsFeed`): whether it is up, and the two writes it carries. */
export interface WsTrading {
  /** Up and authenticated (the executions subscription acknowledged): a write asked for now goes out on it. */
  readonly tradingUp: boolean;
  placeOrder(request: OrderRequest): Observable<PlacedOrder>;
  cancelOrder(ref: OrderRef): Observable<CancelOutcome>;
}

/**
 * An `ExchangePort` whose placements and cancels go over the WebSocket while it is up, and over REST otherwise;
 * reads always go over REST (design.md §9). The transport is chosen per call when it is sent (subscribed), never
 * both for one attempt: a WS write the socket dropped before answering is `ambiguous`, like a REST timeout, and
 * goes back to the caller to be resolved by lookup, not resent on the other lane.
 *
 * socket:        ──up────────────down──────up──
 * placeOrder:    ──w──────w───────r────────w──   (w: add_order over the socket, r: AddOrder over REST)
 */
export class WsOrderRouting implements ExchangePort {
  constructor(
    private readonly rest: ExchangePort,
    private readonly ws: WsTrading,
  ) {}

  transportOf(kind: PortCall['kind']): PortTransport {
    return (kind === 'placeOrder' || kind === 'cancelOrder') && this.ws.tradingUp ? 'websocket' : 'rest';
  }

  placeOrder(request: OrderRequest): Observable<PlacedOrder> {
    return defer(() => (this.ws.tradingUp ? this.ws.placeOrder(request) : this.rest.placeOrder(request)));
  }

  cancelOrder(ref: OrderRef): Observable<CancelOutcome> {
    return defer(() => (this.ws.tradingUp ? this.ws.cancelOrder(ref) : this.rest.cancelOrder(ref)));
  }

  queryOrders(txids: readonly string[]): Observable<ReadonlyMap<string, OrderSnapshot>> {
    return this.rest.queryOrders(txids);
  }

  openOrders(filter?: { readonly clientOrderId?: string }): Observable<ReadonlyMap<string, OrderSnapshot>> {
    return this.rest.openOrders(filter);
  }

  closedOrders(filter?: { readonly clientOrderId?: string }): Observable<ReadonlyMap<string, OrderSnapshot>> {
    return this.rest.closedOrders(filter);
  }

  /**
   * A read, so REST's (reconciliation at start lists closed orders by page). A REST port without it errors, and
   * reconciliation then looks each order up instead.
   */
  closedOrdersSince(startMs: number, offset: number): Observable<ClosedOrdersPage> {
    return defer(() => {
      if (this.rest.closedOrdersSince === undefined) throw new Error('ClosedOrders by page: not offered by the REST port');
      return this.rest.closedOrdersSince(startMs, offset);
    });
  }

  ticker(pairs: readonly string[]): Observable<ReadonlyMap<string, Quote>> {
    return this.rest.ticker(pairs);
  }

  pairs(): Observable<PairBook> {
    return this.rest.pairs();
  }
}

/**
 * `rest` with placements and cancels over `ws` while its socket is up and authenticated.
 *
 * @param rest the REST port (reads, and writes while the socket is down)
 * @param ws the socket's trading side (the `KrakenWsFeed` whose `executions()` the run listens to)
 */
export const withWsOrders = (rest: ExchangePort, ws: WsTrading): WsOrderRouting => new WsOrderRouting(rest, ws);
