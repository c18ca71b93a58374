/**
 * The whole handler under load, run in its own process with `--expose-gc` (bench/run.ts starts it): heap per
 * working entry and CPU per monitoring tick with 10,000 working entries, against the cost of parsing that
 * tick's OpenOrders answer, measured side by side in one run.
 */
import { performance } from 'node:perf_hooks';
import { Decimal } from 'decimal.js';
import { NEVER, type Observable, Subject, type Subscription, VirtualTimeScheduler, defer, of } from 'rxjs';
import { defaultConfig } from '../src/config/config';
import { KrakenRateBudget, krakenCostModel } from '../src/kraken/budget';
import { pairBookFromAssetPairs } from '../src/kraken/pairs';
import { parseOpenOrders } from '../src/kraken/parse-orders';
import { parseAssetPairs } from '../src/kraken/parse-public';
import { type ExecutionConfig } from '../src/model/config';
import { type CancelOutcome, type OrderRequest, type OrderSnapshot, type PlacedOrder, type Quote } from '../src/model/order';
import { type PairBook } from '../src/model/pair';
import { type ExchangePort } from '../src/model/port';
import { type TradeSignal } from '../src/model/signal';
import { PAPER_PAIRS } from '../src/paper';
import { pairJson } from '../src/paper/wire';
import { createExecutionHandler } from '../src/streams/execution-handler';
import { describeMachine, machineLines } from './machine';
import { count, fixed, printTable } from './table';

type WithGc = typeof globalThis & { gc?: () => void };

const ENTRIES = Number(process.env['LOAD_ENTRIES'] ?? 10_000);
const WARM_TICKS = 3;
const MEASURED_TICKS = 8;
const LAST = new Decimal('60000.0');

/** An open order as Kraken's OpenOrders lists it (the paper exchange's `orderJson` shape). */
interface WireOrder {
  readonly txid: string;
  clOrdId: string;
  readonly price: string;
  volume: Decimal;
  volExec: Decimal;
  cost: Decimal;
  fee: Decimal;
}

const txidOf = (i: number): string => {
  const s = i.toString(36).toUpperCase().padStart(16, '0');
  return `O${s.slice(0, 5)}-${s.slice(5, 10)}-${s.slice(10, 16)}`;
};

function orderWire(order: WireOrder, openedAt: number): Record<string, unknown> {
  const average = order.volExec.gt(0) ? order.cost.div(order.volExec) : new Decimal(0);
  return {
    refid: null,
    userref: null,
    cl_ord_id: order.clOrdId,
    status: 'open',
    reason: null,
    opentm: openedAt,
    starttm: 0,
    expiretm: 0,
    descr: {
      pair: 'XBTUSD',
      type: 'buy',
      ordertype: 'limit',
      price: order.price,
      price2: '0',
      leverage: 'none',
      order: `buy ${order.volume.toFixed(8)} XBTUSD @ limit ${order.price}`,
      close: '',
    },
    vol: order.volume.toFixed(8),
    vol_exec: order.volExec.toFixed(8),
    cost: order.cost.toFixed(5),
    fee: order.fee.toFixed(5),
    price: average.toFixed(1),
    stopprice: '0.00000',
    limitprice: '0.00000',
    misc: '',
    oflags: 'fciq',
  };
}

/**
 * The exchange side, in memory: every order rests; OpenOrders answers a JSON text rendered before the tick (the
 * exchange's work, not counted), parsed on each call exactly as the Kraken client parses it (counted apart).
 */
class LoadPort implements ExchangePort {
  readonly orders: WireOrder[] = [];
  text = '{"error":[],"result":{"open":{}}}';
  parseMs = 0;
  /**
   * The exchange's order records, made before the heap is first read, so that the figure counts what the
   * handler holds per entry and not the fake exchange's side.
   */
  private readonly pool: WireOrder[];

  constructor(
    private readonly book: PairBook,
    capacity: number,
  ) {
    const zero = new Decimal(0);
    this.pool = Array.from({ length: capacity }, (_, i) => ({ txid: txidOf(i + 1), clOrdId: '', price: '58000.0', volume: zero, volExec: zero, cost: zero, fee: zero }));
  }

  /** An answer as large as the one the ticks will parse, so the text the heap holds is the same size before and after. */
  renderFull(): void {
    const open: Record<string, unknown> = {};
    for (const order of this.pool) open[order.txid] = orderWire({ ...order, clOrdId: '00000000-0000-0000-0000-000000000000' }, 1_767_225_600);
    this.text = JSON.stringify({ error: [], result: { open } });
  }

  render(): void {
    const open: Record<string, unknown> = {};
    for (const order of this.orders) open[order.txid] = orderWire(order, 1_767_225_600);
    this.text = JSON.stringify({ error: [], result: { open } });
  }

  placeOrder(request: OrderRequest): Observable<PlacedOrder> {
    return defer(() => {
      const order = this.pool[this.orders.length];
      if (!order) throw new Error('the bench exchange ran out of order records');
      order.clOrdId = request.clientOrderId;
      order.volume = request.volume;
      this.orders.push(order);
      return of({ txid: order.txid, clientOrderId: request.clientOrderId, description: '' });
    });
  }

  openOrders(): Observable<ReadonlyMap<string, OrderSnapshot>> {
    return defer(() => {
      const started = performance.now();
      const body = JSON.parse(this.text) as { result: unknown };
      const open = parseOpenOrders(body.result);
      this.parseMs += performance.now() - started;
      return of(open);
    });
  }

  queryOrders(): Observable<ReadonlyMap<string, OrderSnapshot>> {
    return of(new Map());
  }

  cancelOrder(): Observable<CancelOutcome> {
    return of({ count: 1, pending: false });
  }

  closedOrders(): Observable<ReadonlyMap<string, OrderSnapshot>> {
    return of(new Map());
  }

  ticker(pairs: readonly string[]): Observable<ReadonlyMap<string, Quote>> {
    return of(new Map(pairs.map((pair): [string, Quote] => [pair, { pair, bid: LAST, ask: LAST, last: LAST }])));
  }

  pairs(): Observable<PairBook> {
    return of(this.book);
  }
}

function paperBook(): PairBook {
  const wire: Record<string, unknown> = {};
  for (const pair of PAPER_PAIRS) wire[pair.key] = pairJson(pair);
  return pairBookFromAssetPairs(parseAssetPairs(JSON.parse(JSON.stringify(wire))));
}

function heapAfterGc(gc: () => void): number {
  gc();
  gc();
  return process.memoryUsage().heapUsed;
}

interface TickFigures {
  readonly fillingPercent: number;
  readonly tickMs: number;
  readonly parseMs: number;
  readonly fills: number;
}

interface LoadFigures {
  readonly bytesPerEntry: number;
  readonly working: number;
  readonly ticks: readonly TickFigures[];
}

const median = (values: readonly number[]): number => {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)] ?? 0;
};

/**
 * 10,000 limit entries placed and followed by the real handler (library API, virtual clock), then monitoring
 * ticks with 0 % and 5 % of the entries partly filling in each: the wall time of the whole tick (timers, rate
 * gate, OpenOrders parse, per-order routing, reports) and, measured inside the same tick, the parse alone.
 */
function measure(gc: () => void, config: ExecutionConfig): LoadFigures {
  const book = paperBook();
  const port = new LoadPort(book, ENTRIES);
  port.renderFull();
  const scheduler = new VirtualTimeScheduler(undefined, 0);
  const signals = Array.from(
    { length: ENTRIES },
    (_, i): TradeSignal => ({ signalId: `load-${i}`, pair: 'XBTUSD', side: 'buy', orderType: 'limit', quantity: '0.001', limitPrice: '58000', stopLoss: '57000', timeoutMs: 864_000_000 }),
  );
  const signals$ = new Subject<TradeSignal>();
  const before = heapAfterGc(gc);
  const handler = createExecutionHandler(config, {
    port,
    budget: new KrakenRateBudget('unlimited'),
    costs: krakenCostModel,
    scheduler,
  }).connect({ signals$, halted$: NEVER });
  let reports = 0;
  let partials = 0;
  const running: Subscription = handler.reports$.subscribe((report) => {
    reports += 1;
    if (report.status === 'PARTIALLY_FILLED') partials += 1;
  });
  for (const signal of signals) signals$.next(signal);
  // Placements answer at once; run the clock up to just before the first monitoring tick.
  const tick = config.monitor.minIntervalMs;
  scheduler.maxFrames = tick - 1;
  scheduler.flush();
  const placed = port.orders.length;
  port.render();
  // One tick done, so the per-order state a tick leaves behind (the last snapshot) is counted too.
  scheduler.maxFrames += tick;
  scheduler.flush();
  const working = heapAfterGc(gc);
  if (placed !== ENTRIES) throw new Error(`expected ${ENTRIES} placed entries, got ${placed}`);

  const ticks: TickFigures[] = [];
  let seq = 0;
  for (const fillingPercent of [0, 5]) {
    for (let t = 0; t < WARM_TICKS + MEASURED_TICKS; t += 1) {
      const fills = Math.round((port.orders.length * fillingPercent) / 100);
      for (let k = 0; k < fills; k += 1) {
        const order = port.orders[(seq++ * 7919) % port.orders.length];
        if (!order) continue;
        const more = new Decimal('0.00001');
        order.volExec = order.volExec.add(more);
        order.cost = order.cost.add(more.mul(order.price));
        order.fee = order.fee.add(more.mul(order.price).mul('0.0025'));
      }
      port.render();
      port.parseMs = 0;
      const partialsBefore = partials;
      const started = performance.now();
      scheduler.maxFrames += tick;
      scheduler.flush();
      const tickMs = performance.now() - started;
      if (t >= WARM_TICKS) ticks.push({ fillingPercent, tickMs, parseMs: port.parseMs, fills: partials - partialsBefore });
    }
  }
  running.unsubscribe();
  if (reports < 2 * ENTRIES) throw new Error(`expected every entry reported, got ${reports} reports`);
  return { bytesPerEntry: (working - before) / ENTRIES, working: placed, ticks };
}

function main(): void {
  const gc = (globalThis as WithGc).gc;
  if (!gc) {
    process.stdout.write('handler load bench skipped: run node with --expose-gc (bench/run.ts does)\n');
    return;
  }
  const config = defaultConfig();
  // A throw-away pass first, so code compiled lazily on first use is not counted as per-entry memory.
  measure(gc, config);
  const figures = measure(gc, config);
  const rows = [0, 5].map((percent) => {
    const ticks = figures.ticks.filter((t) => t.fillingPercent === percent);
    const tickMs = median(ticks.map((t) => t.tickMs));
    const parseMs = median(ticks.map((t) => t.parseMs));
    const fills = median(ticks.map((t) => t.fills));
    return [`${percent} %`, count(fills), fixed(tickMs, 1), fixed(parseMs, 1), fixed(tickMs - parseMs, 1), `${fixed(tickMs / parseMs, 2)} ×`];
  });
  printTable({
    title: `The whole handler with ${count(figures.working)} working entries (library API, virtual clock, in-memory port)`,
    columns: ['filling per tick', 'fills reported per tick', 'tick: handler total (ms)', 'OpenOrders parse (ms)', 'tick without the parse (ms)', 'tick ÷ parse'],
    rows,
    notes: [
      `Heap per working entry: ${count(figures.bytesPerEntry)} bytes (${fixed((figures.bytesPerEntry * figures.working) / 2 ** 20, 1)} MiB for ${count(figures.working)}), after two global.gc() calls, one tick done.`,
      `Median of ${MEASURED_TICKS} ticks after ${WARM_TICKS} warm-up ticks at each filling rate. A tick: the monitor's timer, the rate gate, OpenOrders`,
      "(JSON.parse + the Kraken client's parseOpenOrders of a 10,000-order answer), routing to each entry, fill deltas, reports, positions.",
      'Filling = that share of the entries partly fills before the tick (they stay open). "tick ÷ parse" is measured side by side in one tick.',
      `${machineLines(describeMachine())[1] ?? ''}.`,
    ],
  });
}

main();
