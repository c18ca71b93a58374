import { Decimal } from 'decimal.js';
import { NEVER, type Observable, Subject, defer, finalize, throwError } from 'rxjs';
import {
  type ExecutionEvent,
  type ExecutionFeed,
  type FeedOrder,
  type FeedOrderChange,
  type FeedOrderStatus,
  type FeedTrade,
  type QuoteEvent,
} from '../../src/model/feed';
import { type CancelOutcome, type PlacedOrder } from '../../src/model/order';
import { XBT } from './fake-exchange';

/**
 * A push feed for marble tests: what it sends is pushed into its Subjects (`emit`, `quote`), so a test schedules
 * each event at the frame it wants; it counts who is subscribed. Orders are not sent through it.
 */
export class FakeFeed implements ExecutionFeed {
  readonly executions$ = new Subject<ExecutionEvent>();
  readonly quotes$ = new Subject<QuoteEvent>();
  executionSubscribers = 0;
  quoteSubscribers = 0;
  readonly quotePairs: Array<readonly string[]> = [];

  executions(): Observable<ExecutionEvent> {
    return defer(() => {
      this.executionSubscribers += 1;
      return this.executions$.pipe(finalize(() => (this.executionSubscribers -= 1)));
    });
  }

  quotes(pairs: readonly string[]): Observable<QuoteEvent> {
    return defer(() => {
      this.quoteSubscribers += 1;
      this.quotePairs.push(pairs);
      return this.quotes$.pipe(finalize(() => (this.quoteSubscribers -= 1)));
    });
  }

  placeOrder(): Observable<PlacedOrder> {
    return throwError(() => new Error('the fake feed places nothing'));
  }

  cancelOrder(): Observable<CancelOutcome> {
    return NEVER;
  }
}

export interface FeedOrderFields {
  readonly txid: string;
  readonly status: FeedOrderStatus;
  readonly change?: FeedOrderChange;
  /** Cumulative executed volume; absent: the event did not carry it. */
  readonly cum?: string;
  readonly price?: string;
  /** Carry the order's terms (side, type, volume 1, pair), as `pending_new` and the snapshot do. */
  readonly terms?: boolean;
}

export function feedOrder(fields: FeedOrderFields): FeedOrder {
  const terms = fields.terms ?? false;
  const cum = fields.cum === undefined ? null : new Decimal(fields.cum);
  const price = new Decimal(fields.price ?? '100');
  return {
    txid: fields.txid,
    clientOrderId: null,
    userref: null,
    pair: terms ? XBT.key : null,
    change: fields.change ?? 'status',
    status: fields.status,
    side: terms ? 'buy' : null,
    orderType: terms ? 'limit' : null,
    volume: terms ? new Decimal('1') : null,
    volumeExecuted: cum,
    cost: cum === null ? null : cum.mul(price),
    averagePrice: cum === null ? null : cum.gt(0) ? price : new Decimal(0),
    limitPrice: terms ? price : null,
    reason: null,
    at: null,
  };
}

export function feedTrade(tradeId: string, txid: string, volume: string, price = '100', fee = '0.1'): FeedTrade {
  return {
    tradeId,
    txid,
    clientOrderId: null,
    pair: XBT.key,
    side: 'buy',
    volume: new Decimal(volume),
    price: new Decimal(price),
    cost: new Decimal(volume).mul(price),
    fees: [{ asset: 'USD', amount: new Decimal(fee) }],
    liquidity: 'maker',
    at: null,
  };
}

export const up: ExecutionEvent = { kind: 'up', system: 'online' };
export const down: ExecutionEvent = { kind: 'down', reason: 'closed', terminal: false, detail: 'test' };
export const snapshotOf = (orders: readonly FeedOrder[], trades: readonly FeedTrade[] = []): ExecutionEvent => ({ kind: 'snapshot', orders, trades });
export const orderEvent = (fields: FeedOrderFields): ExecutionEvent => ({ kind: 'order', order: feedOrder(fields) });
export const tradeEvent = (trade: FeedTrade): ExecutionEvent => ({ kind: 'trade', trade });
