/**
 * Bursts through the whole handler (library API, virtual clock, in-memory port): every signal must get a
 * report, whatever arrives at once; and the public calls signals cause.
 */
import { Decimal } from 'decimal.js';
import { BehaviorSubject, type Observable, Subject, VirtualTimeScheduler, map, of, timer } from 'rxjs';
import { defaultConfig } from '../src/config/config';
import { KrakenRateBudget, clientRateBudget, krakenCostModel } from '../src/kraken/budget';
import { pairBookFromAssetPairs } from '../src/kraken/pairs';
import { parseAssetPairs } from '../src/kraken/parse-public';
import { type RateBudget } from '../src/model/budget';
import { type CancelOutcome, type OrderRequest, type OrderSnapshot, type PlacedOrder, type Quote } from '../src/model/order';
import { type PairBook } from '../src/model/pair';
import { type ExchangePort } from '../src/model/port';
import { type TradeSignal } from '../src/model/signal';
import { PAPER_PAIRS } from '../src/paper';
import { pairJson } from '../src/paper/wire';
import { createExecutionHandler } from '../src/streams/execution-handler';
import { type Table, count } from './table';

const BURST = 10_000;

function paperBook(): PairBook {
  const wire: Record<string, unknown> = {};
  for (const pair of PAPER_PAIRS) wire[pair.key] = pairJson(pair);
  return pairBookFromAssetPairs(parseAssetPairs(JSON.parse(JSON.stringify(wire))));
}

/** Answers at once, except the pair list (after `pairsAfterMs`); counts public calls by virtual second. */
class BurstPort implements ExchangePort {
  private placed = 0;
  readonly publicCallTimes: number[] = [];

  constructor(
    private readonly book: PairBook,
    private readonly scheduler: VirtualTimeScheduler,
    private readonly pairsAfterMs: number,
  ) {}

  placeOrder(request: OrderRequest): Observable<PlacedOrder> {
    this.placed += 1;
    return of({ txid: `O${this.placed}`, clientOrderId: request.clientOrderId, description: '' });
  }

  openOrders(): Observable<ReadonlyMap<string, OrderSnapshot>> {
    return of(new Map());
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
    this.publicCallTimes.push(this.scheduler.now());
    return of(new Map(pairs.map((pair): [string, Quote] => {
      const last = this.book.find(pair)?.key === 'XXBTZUSD' ? new Decimal('60000') : new Decimal('100');
      return [pair, { pair, bid: last, ask: last, last }];
    })));
  }

  pairs(): Observable<PairBook> {
    this.publicCallTimes.push(this.scheduler.now());
    return timer(this.pairsAfterMs, this.scheduler).pipe(map(() => this.book));
  }
}

interface BurstRow {
  readonly name: string;
  readonly signals: number;
  readonly answered: number;
  readonly reports: number;
  readonly afterAnswered: boolean;
  readonly publicCalls: number;
  readonly maxPublicPerSecond: number;
}

/** Public calls in the busiest one-second window of virtual time. */
const busiestSecond = (times: readonly number[]): number => {
  let best = 0;
  let from = 0;
  for (let to = 0; to < times.length; to += 1) {
    while ((times[to] ?? 0) - (times[from] ?? 0) >= 1000) from += 1;
    best = Math.max(best, to - from + 1);
  }
  return best;
};

function burst(name: string, signals: readonly TradeSignal[], options: { readonly halt?: boolean; readonly budget?: RateBudget }): BurstRow {
  const config = { ...defaultConfig(), entry: { ...defaultConfig().entry, maxPriceDeviation: null } };
  const scheduler = new VirtualTimeScheduler(undefined, 0);
  const port = new BurstPort(paperBook(), scheduler, 500);
  const signals$ = new Subject<TradeSignal>();
  const halted$ = new BehaviorSubject(false);
  const handler = createExecutionHandler(config, {
    port,
    budget: options.budget ?? new KrakenRateBudget('unlimited'),
    costs: krakenCostModel,
    scheduler,
  }).connect({ signals$, halted$ });
  const answered = new Set<string>();
  let reports = 0;
  const running = handler.reports$.subscribe((report) => {
    reports += 1;
    answered.add(report.signalId);
  });
  // One signal first, then HALT (for the HALT burst), then the burst: all while the pair list is loading.
  signals$.next({ signalId: 'first', pair: 'XBTUSD', side: 'buy', orderType: 'limit', quantity: '0.001', limitPrice: '58000' });
  if (options.halt) halted$.next(true);
  for (const signal of signals) signals$.next(signal);
  scheduler.maxFrames = 10_000_000;
  scheduler.flush();
  halted$.next(false);
  signals$.next({ signalId: 'after', pair: 'XBTUSD', side: 'buy', orderType: 'limit', quantity: '0.001', limitPrice: '58000' });
  scheduler.maxFrames += 10_000;
  scheduler.flush();
  running.unsubscribe();
  return {
    name,
    signals: signals.length,
    answered: signals.filter((signal) => answered.has(signal.signalId)).length,
    reports,
    afterAnswered: answered.has('after'),
    publicCalls: port.publicCallTimes.length,
    maxPublicPerSecond: busiestSecond(port.publicCallTimes),
  };
}

const limitBuys = (prefix: string, n: number): TradeSignal[] =>
  Array.from({ length: n }, (_, i) => ({ signalId: `${prefix}-${i}`, pair: 'XBTUSD', side: 'buy', orderType: 'limit', quantity: '0.001', limitPrice: '58000', timeoutMs: 864_000_000 }));

const PAIRS = ['XBTUSD', 'ETHUSD', 'SOLUSD', 'XBTEUR', 'XRPUSD', 'ADAUSD', 'DOTUSD'];

export function measureBursts(): BurstRow[] {
  return [
    burst('entries before the pair list loads', limitBuys('p', BURST), {}),
    burst('entries during a HALT (before the pair list loads)', limitBuys('h', BURST), { halt: true }),
    burst('invalid market signals (rejected by validation)', Array.from({ length: 200 }, (_, i) => ({ signalId: `x-${i}`, pair: 'XBTUSD', side: 'buy', orderType: 'market', quantity: 'abc' })), {}),
    burst(
      'market entries on 7 pairs at starter tier',
      Array.from({ length: 1_000 }, (_, i) => ({ signalId: `m-${i}`, pair: PAIRS[i % PAIRS.length] ?? 'XBTUSD', side: 'buy', orderType: 'market', quantity: '100' })),
      { budget: clientRateBudget('starter') },
    ),
  ];
}

export function burstTable(rows: readonly BurstRow[]): Table {
  return {
    title: 'Bursts through the whole handler (library API, virtual clock, in-memory port, Node\'s default stack size)',
    columns: ['burst, sent at once', 'signals', 'signals answered', 'lost', 'reports', 'a signal after the burst', 'public calls', 'busiest second'],
    rows: rows.map((row) => [
      row.name,
      count(row.signals),
      count(row.answered),
      count(row.signals - row.answered),
      count(row.reports),
      row.afterAnswered ? 'answered' : 'NOT answered',
      count(row.publicCalls),
      count(row.maxPublicPerSecond),
    ]),
    notes: [
      'Each burst is sent in one go right after a first signal, while the pair list takes 500 ms (virtual) to load; the HALT burst with HALT on.',
      '"answered": signals with at least one report. "public calls": AssetPairs and Ticker calls the port saw; "busiest second": most in any',
      'one-second window of virtual time (Kraken allows about one a second per IP; the client keeps to a burst of 4, then one a second).',
      'Market entries on 7 pairs: Ticker reads are shared, reused for a second and batched across the pairs asked for lately, paced by the gate.',
    ],
  };
}
