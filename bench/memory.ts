/**
 * Heap per followed order, run in its own process with `--expose-gc` (bench/run.ts starts it) so a full GC can
 * be forced before each reading and nothing else of the bench sits on the heap.
 */
import { randomUUID } from 'node:crypto';
import { Decimal } from 'decimal.js';
import { NEVER, type Observable, type Subscription, VirtualTimeScheduler, defer, of } from 'rxjs';
import { defaultConfig } from '../src/config/config';
import { KrakenRateBudget, krakenCostModel } from '../src/kraken/budget';
import { type ExecutionConfig } from '../src/model/config';
import { type CancelOutcome, type OrderRequest, type OrderSnapshot, type PlacedOrder, type Quote } from '../src/model/order';
import { type PairBook } from '../src/model/pair';
import { type ExchangePort, type OrderRef } from '../src/model/port';
import { type Logger, type StreamDeps, createExchangeDeps } from '../src/streams/deps';
import { defaultTuning } from '../src/streams/execution-handler';
import { followOrder } from '../src/streams/order-lifecycle';
import { createOrderMonitor } from '../src/streams/order-monitor';
import { PositionBook } from '../src/streams/positions';
import { type OrderContext } from '../src/streams/reports';
import { describeMachine, machineLines } from './machine';
import { count, fixed, printTable } from './table';

type WithGc = typeof globalThis & { gc?: () => void };

const silent: Logger = { debug: () => undefined, info: () => undefined, warn: () => undefined, error: () => undefined };

/** A Kraken-looking txid (`OABCDE-FGHIJ-KLMNOP`), unique per index. */
const txidOf = (i: number): string => {
  const s = i.toString(36).toUpperCase().padStart(16, '0');
  return `O${s.slice(0, 5)}-${s.slice(5, 10)}-${s.slice(10, 16)}`;
};

/**
 * The exchange side: every order rests, and each OpenOrders answer is a fresh set of snapshot objects, as
 * parsing a real answer would give; so what stays on the heap after a tick is what the handler keeps.
 */
class RestingOrdersPort implements ExchangePort {
  constructor(private readonly open: readonly string[]) {}

  openOrders(): Observable<ReadonlyMap<string, OrderSnapshot>> {
    return defer(() => of(new Map(this.open.map((txid): [string, OrderSnapshot] => [txid, this.snapshot(txid)]))));
  }

  queryOrders(): Observable<ReadonlyMap<string, OrderSnapshot>> {
    return of(new Map());
  }

  placeOrder(request: OrderRequest): Observable<PlacedOrder> {
    return of({ txid: txidOf(0), clientOrderId: request.clientOrderId, description: '' });
  }

  cancelOrder(_ref: OrderRef): Observable<CancelOutcome> {
    return of({ count: 1, pending: false });
  }

  closedOrders(): Observable<ReadonlyMap<string, OrderSnapshot>> {
    return of(new Map());
  }

  ticker(): Observable<ReadonlyMap<string, Quote>> {
    return of(new Map());
  }

  pairs(): Observable<PairBook> {
    return NEVER;
  }

  private snapshot(txid: string): OrderSnapshot {
    return {
      txid,
      clientOrderId: randomUUID(),
      pair: 'XBTUSD',
      side: 'buy',
      orderType: 'limit',
      status: 'open',
      volume: new Decimal('0.0123'),
      volumeExecuted: new Decimal(0),
      cost: new Decimal(0),
      fee: new Decimal(0),
      averagePrice: new Decimal(0),
      limitPrice: new Decimal('59000.0'),
      stopPrice: null,
      openedAt: 1_767_225_600,
      closedAt: null,
      reason: null,
    };
  }
}

function streamDeps(port: ExchangePort, config: ExecutionConfig, scheduler: VirtualTimeScheduler): StreamDeps {
  const budget = new KrakenRateBudget('unlimited');
  const exchange = createExchangeDeps({
    config,
    port,
    budget,
    costs: krakenCostModel,
    scheduler,
    newId: () => randomUUID(),
    random: Math.random,
    log: silent,
    tuning: defaultTuning(config),
  });
  return { ...exchange, monitor: createOrderMonitor(exchange), positions: new PositionBook(), stopping$: NEVER };
}

function heapAfterGc(gc: () => void): number {
  gc();
  gc();
  return process.memoryUsage().heapUsed;
}

/** What one way of following orders holds per order. */
type Follower = (deps: StreamDeps, txid: string, at: number) => Observable<unknown>;

const contextOf = (txid: string): OrderContext => ({
  signalId: `signal-${txid}`,
  clientOrderId: randomUUID(),
  pair: 'XXBTZUSD',
  role: 'entry',
  side: 'buy',
  orderType: 'limit',
  quantityOrdered: new Decimal('0.0123'),
  limitPrice: new Decimal('59000.0'),
  stopPrice: null,
  commissionAsset: 'ZUSD',
});

const FOLLOWERS: readonly { readonly name: string; readonly follow: Follower }[] = [
  { name: 'monitor.track (shared monitor only)', follow: (deps, txid) => deps.monitor.track(txid) },
  {
    name: 'followOrder (monitor + fillDeltas + lifecycle)',
    follow: (deps, txid, at) => followOrder({ context: contextOf(txid), txid, placedAt: at }, deps),
  },
];

interface Reading {
  readonly follower: string;
  readonly orders: number;
  readonly bytesPerOrder: number;
  readonly residualPerOrder: number;
  readonly snapshotsSeen: number;
}

function measure(gc: () => void, follower: (typeof FOLLOWERS)[number], orders: number, config: ExecutionConfig): Reading {
  const txids = Array.from({ length: orders }, (_, i) => txidOf(i + 1));
  // One tick: the monitor's first poll comes `minIntervalMs` after the first order is followed.
  const scheduler = new VirtualTimeScheduler(undefined, config.monitor.minIntervalMs + config.monitor.minIntervalMs / 2);
  const deps = streamDeps(new RestingOrdersPort(txids), config, scheduler);
  const before = heapAfterGc(gc);
  let snapshotsSeen = 0;
  const followed: Subscription[] = txids.map((txid) =>
    follower.follow(deps, txid, scheduler.now()).subscribe(() => {
      snapshotsSeen += 1;
    }),
  );
  // followOrder reports nothing for an open, unfilled order: count the monitor's deliveries instead.
  const delivered = deps.monitor.track(txids[0] ?? '').subscribe(() => undefined);
  scheduler.flush();
  delivered.unsubscribe();
  const tracking = deps.monitor.trackedCount;
  const during = heapAfterGc(gc);
  for (const subscription of followed) subscription.unsubscribe();
  // The closed subscriptions themselves would otherwise still be held by this array.
  followed.splice(0);
  const after = heapAfterGc(gc);
  if (tracking !== orders) throw new Error(`expected ${orders} tracked orders, monitor had ${tracking}`);
  return {
    follower: follower.name,
    orders,
    bytesPerOrder: (during - before) / orders,
    residualPerOrder: (after - before) / orders,
    snapshotsSeen,
  };
}

function main(): void {
  const gc = (globalThis as WithGc).gc;
  if (!gc) {
    process.stdout.write('memory bench skipped: run node with --expose-gc (bench/run.ts does)\n');
    return;
  }
  const config = defaultConfig();
  const readings: Reading[] = [];
  for (const follower of FOLLOWERS) {
    // A throw-away pass first, so code compiled lazily on first use is not counted as per-order memory.
    measure(gc, follower, 1_000, config);
    for (const orders of [1_000, 10_000]) readings.push(measure(gc, follower, orders, config));
  }
  printTable({
    title: 'Heap per followed order (after a forced GC, one monitoring tick done, fake port in memory)',
    columns: ['what follows the order', 'orders', 'bytes per order', 'heap held', 'left after unsubscribing (bytes/order)'],
    rows: readings.map((r) => [
      r.follower,
      count(r.orders),
      count(r.bytesPerOrder),
      `${fixed((r.bytesPerOrder * r.orders) / 2 ** 20, 1)} MiB`,
      count(r.residualPerOrder),
    ]),
    notes: [
      `${machineLines(describeMachine())[1] ?? ''}; heapUsed difference before/after, each reading after two global.gc() calls.`,
      'Counted: subscriptions, the monitor\'s per-order record, the order context and the last snapshot (6 Decimals) each order keeps.',
      'Not counted: the exchange side (the fake port\'s txids). "left after unsubscribing" ≈ 0 shows that untracking frees everything.',
    ],
  });
}

main();
