import { expect } from '@jest/globals';
import { Decimal } from 'decimal.js';
import { type Observable, type SchedulerLike, defer, throwError } from 'rxjs';
import { TestScheduler } from 'rxjs/testing';
import { type RunHelpers } from 'rxjs/internal/testing/TestScheduler';
import { type RateBudget, type RateCost } from '../../src/model/budget';
import { type ExecutionConfig } from '../../src/model/config';
import { ExchangeError, type ErrorKind } from '../../src/model/errors';
import { factsOf } from '../../src/kraken/errors';
import {
  type CancelOutcome,
  type ExchangeOrderStatus,
  type OrderRequest,
  type OrderSnapshot,
  type PlacedOrder,
  type Quote,
} from '../../src/model/order';
import { type PairBook, type PairRules } from '../../src/model/pair';
import { type ExchangePort, type OrderRef } from '../../src/model/port';
import { type Side } from '../../src/model/signal';

/** Runs `body` in virtual time (1 frame = 1 ms) with the scheduler at hand for `deps.scheduler`. */
export function marbles(body: (helpers: RunHelpers & { readonly scheduler: TestScheduler }) => void): void {
  const scheduler = new TestScheduler((actual, expected) => expect(actual).toEqual(expected));
  scheduler.run((helpers) => body({ ...helpers, scheduler }));
}

export const XBT: PairRules = {
  key: 'XXBTZUSD',
  altname: 'XBTUSD',
  wsname: 'XBT/USD',
  symbol: 'BTC/USD',
  base: 'XXBT',
  quote: 'ZUSD',
  pairDecimals: 1,
  lotDecimals: 8,
  costDecimals: 5,
  tickSize: new Decimal('0.1'),
  orderMin: new Decimal('0.0001'),
  costMin: new Decimal('0.5'),
  status: 'online',
  takerFeePercent: new Decimal('0.4'),
  makerFeePercent: new Decimal('0.25'),
};

export const book: PairBook = {
  find: (name) => ([XBT.key, XBT.altname, XBT.wsname, XBT.symbol].includes(name) ? XBT : undefined),
  all: () => [XBT],
};

/** Short timings so marble strings stay readable. */
export const config: ExecutionConfig = {
  mode: 'paper',
  logLevel: 'silent',
  exchange: { url: 'http://127.0.0.1', tier: 'starter', requestTimeoutMs: 1000, validateOnly: false },
  entry: { limitTimeoutMs: 10_000, deadlineMs: 3_000, maxConcurrentPlacements: 2 },
  protection: { mode: 'stop-resting', takeProfitPollMs: 1_000 },
  monitor: { minIntervalMs: 1_000, maxIntervalMs: 8_000 },
  retry: { maxAttempts: 4, initialDelayMs: 100, maxDelayMs: 1_000, multiplier: 2, jitter: 0 },
  lookup: { attempts: 3, intervalMs: 1_000 },
  breaker: { failureThreshold: 3, cooldownMs: 60_000 },
  paper: { port: 0, seed: 1, tier: 'starter' },
};

export interface SnapshotFields {
  readonly txid: string;
  readonly status: ExchangeOrderStatus;
  readonly clientOrderId?: string | null;
  readonly side?: Side;
  readonly orderType?: string;
  readonly volume?: string;
  readonly volumeExecuted?: string;
  /** Average price of what executed; cost = volumeExecuted × price. */
  readonly price?: string;
  readonly fee?: string;
  readonly stopPrice?: string;
  readonly reason?: string;
}

/** An order as the exchange would describe it. */
export function snapshot(fields: SnapshotFields): OrderSnapshot {
  const volumeExecuted = new Decimal(fields.volumeExecuted ?? '0');
  const price = new Decimal(fields.price ?? '0');
  return {
    txid: fields.txid,
    clientOrderId: fields.clientOrderId ?? null,
    pair: 'XBTUSD',
    side: fields.side ?? 'buy',
    orderType: fields.orderType ?? 'limit',
    status: fields.status,
    volume: new Decimal(fields.volume ?? '1'),
    volumeExecuted,
    cost: volumeExecuted.mul(price),
    fee: new Decimal(fields.fee ?? '0'),
    averagePrice: price,
    limitPrice: null,
    stopPrice: fields.stopPrice ? new Decimal(fields.stopPrice) : null,
    openedAt: 0,
    closedAt: fields.status === 'open' || fields.status === 'pending' ? null : 1,
    reason: fields.reason ?? null,
  };
}

export const ordersOf = (...snapshots: OrderSnapshot[]): ReadonlyMap<string, OrderSnapshot> =>
  new Map(snapshots.map((order) => [order.txid, order]));

export const quoteOf = (last: string): ReadonlyMap<string, Quote> =>
  new Map([[XBT.key, { pair: XBT.key, bid: new Decimal(last), ask: new Decimal(last), last: new Decimal(last) }]]);

export const exchangeError = (kind: ErrorKind, code: string, endpoint = 'AddOrder', retryAt?: number): ExchangeError =>
  new ExchangeError({ kind, codes: [code], endpoint, facts: factsOf([code]), ...(retryAt !== undefined ? { retryAt } : {}) });

/** A scripted answer: `call` counts the calls of that method from 1. */
type Script<A, R> = (args: A, call: number) => Observable<R>;

export interface PortScript {
  readonly placeOrder?: Script<OrderRequest, PlacedOrder>;
  readonly cancelOrder?: Script<OrderRef, CancelOutcome>;
  readonly queryOrders?: Script<readonly string[], ReadonlyMap<string, OrderSnapshot>>;
  readonly openOrders?: Script<{ readonly clientOrderId?: string } | undefined, ReadonlyMap<string, OrderSnapshot>>;
  readonly closedOrders?: Script<{ readonly clientOrderId?: string } | undefined, ReadonlyMap<string, OrderSnapshot>>;
  readonly ticker?: Script<readonly string[], ReadonlyMap<string, Quote>>;
  readonly pairs?: Script<undefined, PairBook>;
}

export type PortMethod = keyof ExchangePort;

export interface RecordedCall {
  readonly method: PortMethod;
  /** Virtual time of the subscription (when the request would be sent). */
  readonly at: number;
  readonly args: unknown;
}

/**
 * An `ExchangePort` whose every call answers with a scripted (cold) Observable and is recorded at the moment
 * it is subscribed, i.e. sent. An unscripted call errors, so a test notices a call it did not expect.
 */
export class FakePort implements ExchangePort {
  readonly calls: RecordedCall[] = [];

  constructor(
    private readonly script: PortScript,
    private readonly scheduler: SchedulerLike,
  ) {}

  callsOf(method: PortMethod): RecordedCall[] {
    return this.calls.filter((call) => call.method === method);
  }

  placeOrder(request: OrderRequest): Observable<PlacedOrder> {
    return this.call('placeOrder', request, this.script.placeOrder);
  }

  cancelOrder(ref: OrderRef): Observable<CancelOutcome> {
    return this.call('cancelOrder', ref, this.script.cancelOrder);
  }

  queryOrders(txids: readonly string[]): Observable<ReadonlyMap<string, OrderSnapshot>> {
    return this.call('queryOrders', txids, this.script.queryOrders);
  }

  openOrders(filter?: { readonly clientOrderId?: string }): Observable<ReadonlyMap<string, OrderSnapshot>> {
    return this.call('openOrders', filter, this.script.openOrders);
  }

  closedOrders(filter?: { readonly clientOrderId?: string }): Observable<ReadonlyMap<string, OrderSnapshot>> {
    return this.call('closedOrders', filter, this.script.closedOrders);
  }

  ticker(pairs: readonly string[]): Observable<ReadonlyMap<string, Quote>> {
    return this.call('ticker', pairs, this.script.ticker);
  }

  pairs(): Observable<PairBook> {
    return this.call('pairs', undefined, this.script.pairs);
  }

  private call<A, R>(method: PortMethod, args: A, script: Script<A, R> | undefined): Observable<R> {
    return defer(() => {
      this.calls.push({ method, at: this.scheduler.now(), args });
      if (!script) return throwError(() => new Error(`unscripted call: ${method}`));
      return script(args, this.callsOf(method).length);
    });
  }
}

/** A budget that never makes anyone wait, and records what was charged. */
export class OpenBudget implements RateBudget {
  readonly charged: RateCost[] = [];
  readonly snapped: RateCost[] = [];
  waitMs(): number {
    return 0;
  }
  record(cost: RateCost): void {
    this.charged.push(cost);
  }
  snap(cost: RateCost): void {
    this.snapped.push(cost);
  }
}

/** Counts up: `id-1`, `id-2`, … */
export function sequentialIds(prefix = 'id'): () => string {
  let n = 0;
  return () => `${prefix}-${++n}`;
}
