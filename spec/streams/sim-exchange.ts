import { Decimal } from 'decimal.js';
import { type Observable, type SchedulerLike } from 'rxjs';
import { type RunHelpers } from 'rxjs/internal/testing/TestScheduler';
import { type ExchangeError } from '../../src/model/errors';
import { type ExchangeOrderStatus, type OrderRequest, type OrderSnapshot } from '../../src/model/order';
import { type OrderRef } from '../../src/model/port';
import { FakePort, XBT, book, exchangeError, quoteOf } from './fake-exchange';

interface SimOrder {
  readonly txid: string;
  readonly request: OrderRequest;
  status: ExchangeOrderStatus;
  volumeExecuted: Decimal;
  cost: Decimal;
  fee: Decimal;
}

/**
 * @deprecated A second fake exchange beside the paper engine: new scenarios use `createTestHandler` /
 * `createVirtualExchange` from src/testing (burst.spec has moved). Still used by execution-handler.spec and
 * close-position.spec until they move; delete it then.
 *
 * A small in-memory exchange behind a `FakePort`, for handler scenarios: each answer is computed when the
 * request arrives and delivered after `latency` (a cold Observable). Market orders fill at once at the last
 * price; other orders fill when a test says so. A sell must be covered by base held and not reserved by
 * other open sells (a spot account's hold), like Kraken's `EOrder:Insufficient funds`.
 */
export class SimExchange {
  readonly orders = new Map<string, SimOrder>();
  readonly port: FakePort;
  last = new Decimal('100');
  /** Base held (bought minus sold), for the funds check of sells. */
  held = new Decimal(0);
  /** How many AssetPairs calls fail before one succeeds. */
  pairsFailures = 0;
  /** A fault for the n-th AddOrder, if any; `placed` says whether the exchange placed it anyway. */
  placeFault: ((request: OrderRequest, call: number) => { readonly error: ExchangeError; readonly placed: boolean } | null) | null = null;
  /** A fault for the n-th CancelOrder, if any; `cancelled` says whether the exchange cancelled the order anyway. */
  cancelFault: ((ref: OrderRef, call: number) => { readonly error: ExchangeError; readonly cancelled: boolean } | null) | null = null;
  /** A fault for the n-th QueryOrders, if any (the monitor's resolution of orders that left the open set). */
  queryFault: ((call: number) => ExchangeError | null) | null = null;

  constructor(
    private readonly helpers: Pick<RunHelpers, 'cold'>,
    scheduler: SchedulerLike,
    private readonly latency = 10,
  ) {
    this.port = new FakePort(
      {
        pairs: () => {
          if (this.pairsFailures <= 0) return this.answer(book);
          this.pairsFailures -= 1;
          return this.fail(exchangeError('refused', 'EGeneral:Internal error', 'AssetPairs'));
        },
        ticker: () => this.answer(quoteOf(this.last.toFixed())),
        placeOrder: (request, call) => this.place(request, call),
        cancelOrder: (ref, call) => this.cancel(ref, call),
        openOrders: (filter) =>
          this.answer(this.snapshots((order) => (order.status === 'open' && (!filter?.clientOrderId || order.request.clientOrderId === filter.clientOrderId)))),
        closedOrders: (filter) =>
          this.answer(this.snapshots((order) => order.status !== 'open' && (!filter?.clientOrderId || order.request.clientOrderId === filter.clientOrderId))),
        queryOrders: (txids, call) => {
          const fault = this.queryFault?.(call) ?? null;
          return fault ? this.fail(fault) : this.answer(this.snapshots((order) => txids.includes(order.txid)));
        },
      },
      scheduler,
    );
  }

  /** The orders sent with this order type, in placement order. */
  ordersOfType(orderType: OrderRequest['orderType']): SimOrder[] {
    return [...this.orders.values()].filter((order) => order.request.orderType === orderType);
  }

  /** Executes `volume` more of the order at `price`; fully executed orders close. */
  fill(txid: string, volume: string, price: string = this.last.toFixed()): void {
    const order = this.orders.get(txid);
    if (!order || order.status !== 'open') throw new Error(`cannot fill ${txid}`);
    const quantity = new Decimal(volume);
    order.volumeExecuted = order.volumeExecuted.add(quantity);
    order.cost = order.cost.add(quantity.mul(price));
    order.fee = order.fee.add(quantity.mul(price).mul('0.004'));
    this.held = order.request.side === 'buy' ? this.held.add(quantity) : this.held.sub(quantity);
    if (order.volumeExecuted.gte(order.request.volume)) order.status = 'closed';
  }

  private place(request: OrderRequest, call: number): Observable<{ txid: string; clientOrderId: string; description: string }> {
    const fault = this.placeFault?.(request, call) ?? null;
    if (fault && !fault.placed) return this.fail(fault.error);
    if (request.side === 'sell') {
      const reserved = [...this.orders.values()]
        .filter((order) => order.status === 'open' && order.request.side === 'sell')
        .reduce((sum, order) => sum.add(order.request.volume.sub(order.volumeExecuted)), new Decimal(0));
      if (request.volume.gt(this.held.sub(reserved))) return this.fail(exchangeError('refused', 'EOrder:Insufficient funds'));
    }
    const txid = `O-${this.orders.size + 1}`;
    this.orders.set(txid, { txid, request, status: 'open', volumeExecuted: new Decimal(0), cost: new Decimal(0), fee: new Decimal(0) });
    if (request.orderType === 'market') this.fill(txid, request.volume.toFixed());
    if (fault) return this.fail(fault.error);
    return this.answer({ txid, clientOrderId: request.clientOrderId, description: `${request.side} ${request.volume.toFixed()} ${XBT.altname}` });
  }

  private cancel(ref: OrderRef, call: number): Observable<{ count: number; pending: boolean }> {
    const fault = this.cancelFault?.(ref, call) ?? null;
    const order = 'txid' in ref ? this.orders.get(ref.txid) : undefined;
    if (fault && !fault.cancelled) return this.fail(fault.error);
    if (!order || order.status !== 'open') return this.fail(exchangeError('refused', 'EOrder:Unknown order', 'CancelOrder'));
    order.status = 'canceled';
    if (fault) return this.fail(fault.error);
    return this.answer({ count: 1, pending: false });
  }

  private snapshots(keep: (order: SimOrder) => boolean): ReadonlyMap<string, OrderSnapshot> {
    return new Map([...this.orders.values()].filter(keep).map((order) => [order.txid, this.snapshotOf(order)]));
  }

  private snapshotOf(order: SimOrder): OrderSnapshot {
    return {
      txid: order.txid,
      clientOrderId: order.request.clientOrderId,
      pair: XBT.altname,
      side: order.request.side,
      orderType: order.request.orderType,
      status: order.status,
      volume: order.request.volume,
      volumeExecuted: order.volumeExecuted,
      cost: order.cost,
      fee: order.fee,
      averagePrice: order.volumeExecuted.gt(0) ? order.cost.div(order.volumeExecuted) : new Decimal(0),
      limitPrice: null,
      stopPrice: null,
      openedAt: 0,
      closedAt: order.status === 'open' ? null : 1,
      reason: order.status === 'canceled' ? 'User requested' : null,
    };
  }

  private answer<T>(value: T): Observable<T> {
    return this.helpers.cold(`${this.latency}ms (a|)`, { a: value });
  }

  private fail<T>(error: ExchangeError): Observable<T> {
    return this.helpers.cold<T>(`${this.latency}ms #`, undefined, error);
  }
}
