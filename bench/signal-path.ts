import { randomUUID } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { type Decimal } from 'decimal.js';
import { BehaviorSubject, type Observable, type OperatorFunction, from, identity, lastValueFrom, map, reduce, tap } from 'rxjs';
import { createKrakenExchange } from '../src/kraken/exchange';
import { type PairBook } from '../src/model/pair';
import { type TradeSignal } from '../src/model/signal';
import { haltGate } from '../src/operators/halt-gate';
import { type Rejection, type Translation, rejection } from '../src/operators/intent';
import { type TranslateOptions, translate } from '../src/operators/translate';
import { startPaperExchange } from '../src/paper';
import { type Table, count, fixed } from './table';

export const SIGNALS = 100_000;
const RUNS = 5;

/** What one pass over the signals produced, so a run that did less work cannot pass for a faster one. */
interface Outcome {
  readonly entries: number;
  readonly rejectedBy: ReadonlyMap<string, number>;
}

/** Realistic rules: the paper exchange's AssetPairs, fetched once over HTTP and parsed as for Kraken. */
async function pairBook(): Promise<{ book: PairBook; prices: ReadonlyMap<string, Decimal> }> {
  const paper = await startPaperExchange({ seed: 3 });
  try {
    const exchange = createKrakenExchange({ url: paper.url, timeoutMs: 10_000 });
    const book = await lastValueFrom(exchange.pairs());
    const prices = new Map(book.all().map((rules) => [rules.key, paper.inspect.quote(rules.key).last]));
    return { book, prices };
  } finally {
    await paper.close();
  }
}

/**
 * A day's worth of mixed signals: limit and market entries on six pairs with stops and take-profits, prices
 * with too many decimals (rounded), and 5 % bad ones (unparseable quantity, unknown pair, below the
 * minimum, stop on the wrong side, limit without a price).
 */
function makeSignals(n: number): TradeSignal[] {
  const templates: readonly ((i: number) => TradeSignal)[] = [
    (i) => ({ signalId: `s${i}`, pair: 'BTC/USD', side: 'buy', orderType: 'limit', quantity: '0.0123', limitPrice: '59000.04', stopLoss: '57000', takeProfit: '62000' }),
    (i) => ({ signalId: `s${i}`, pair: 'XETHZUSD', side: 'sell', orderType: 'market', quantity: '0.75', stopLoss: '3150', takeProfit: '2800' }),
    (i) => ({ signalId: `s${i}`, pair: 'SOLUSD', side: 'buy', orderType: 'limit', quantity: '3.123456789', limitPrice: '149.987', timeoutMs: 30_000 }),
    (i) => ({ signalId: `s${i}`, pair: 'XRP/USD', side: 'buy', orderType: 'market', quantity: '250', stopLoss: '0.55' }),
    (i) => ({ signalId: `s${i}`, pair: 'DOTUSD', side: 'sell', orderType: 'limit', quantity: '12.5', limitPrice: '7.25', stopLoss: '7.6' }),
    (i) => ({ signalId: `s${i}`, pair: 'XBT/EUR', side: 'sell', orderType: 'limit', quantity: '0.002', limitPrice: '56000', takeProfit: '54000' }),
  ];
  const bad: readonly ((i: number) => TradeSignal)[] = [
    (i) => ({ signalId: `s${i}`, pair: 'BTC/USD', side: 'buy', orderType: 'market', quantity: 'abc' }),
    (i) => ({ signalId: `s${i}`, pair: 'NOPE/USD', side: 'buy', orderType: 'market', quantity: '1' }),
    (i) => ({ signalId: `s${i}`, pair: 'ADAUSD', side: 'buy', orderType: 'limit', quantity: '1', limitPrice: '0.45' }),
    (i) => ({ signalId: `s${i}`, pair: 'BTC/USD', side: 'buy', orderType: 'limit', quantity: '0.01', limitPrice: '59000', stopLoss: '61000' }),
    (i) => ({ signalId: `s${i}`, pair: 'ETH/USD', side: 'sell', orderType: 'limit', quantity: '0.5' }),
  ];
  return Array.from({ length: n }, (_, i) => {
    const pick = i % 100;
    const make = pick < bad.length + 1 && pick > 0 ? bad[pick - 1] : templates[i % templates.length];
    if (!make) throw new Error('signal template missing');
    return make(i);
  });
}

/** One stage combination of the signal path, as placement composes it (without the HTTP that follows). */
interface Variant {
  readonly name: string;
  readonly path: (halted$: Observable<boolean>, book: PairBook, options: TranslateOptions) => OperatorFunction<TradeSignal, Translation | TradeSignal>;
}

const haltRejection = (signal: TradeSignal): Rejection => rejection(signal, 'halted', 'HALT is on: new entries are rejected');

const VARIANTS: readonly Variant[] = [
  { name: 'haltGate + translate', path: (halted$, book, options) => (s) => s.pipe(haltGate(halted$, haltRejection), translate(book, options)) },
  { name: 'translate alone', path: (_, book, options) => (s) => s.pipe(translate(book, options)) },
  { name: 'haltGate alone', path: (halted$) => (s) => s.pipe(haltGate(halted$, haltRejection)) },
  { name: 'baseline: from(array) + map', path: () => (s) => s.pipe(map(identity)) },
];

const isTranslation = (value: unknown): value is Translation =>
  typeof value === 'object' && value !== null && 'kind' in value && (value.kind === 'entry' || value.kind === 'rejected');

/** HALT switched on for 1,000 signals out of every 10,000, so both gate branches are exercised. */
function passOnce(signals: readonly TradeSignal[], variant: Variant, book: PairBook, options: TranslateOptions): Promise<Outcome> {
  const halted$ = new BehaviorSubject(false);
  return lastValueFrom(
    from(signals).pipe(
      tap((signal) => {
        const n = Number(signal.signalId.slice(1));
        halted$.next(n % 10_000 >= 9_000);
      }),
      variant.path(halted$, book, options),
      reduce(
        (outcome: { entries: number; rejectedBy: Map<string, number> }, value) => {
          if (isTranslation(value) && value.kind === 'rejected') outcome.rejectedBy.set(value.field, (outcome.rejectedBy.get(value.field) ?? 0) + 1);
          else outcome.entries += 1;
          return outcome;
        },
        { entries: 0, rejectedBy: new Map<string, number>() },
      ),
    ),
  );
}

interface VariantFigures {
  readonly variant: string;
  readonly runsPerSecond: readonly number[];
  readonly outcome: Outcome;
}

const median = (values: readonly number[]): number => {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[mid] ?? 0 : ((sorted[mid - 1] ?? 0) + (sorted[mid] ?? 0)) / 2;
};

/** Signals per second through each variant: one warm-up pass, then `RUNS` timed passes of `SIGNALS` signals. */
export async function measureSignalPath(): Promise<VariantFigures[]> {
  const { book, prices } = await pairBook();
  const options: TranslateOptions = {
    newClientOrderId: () => randomUUID(),
    defaultLimitTimeoutMs: 60_000,
    referencePrice: (rules) => prices.get(rules.key),
    deadlineMs: 10_000,
    now: () => Date.now(),
  };
  const signals = makeSignals(SIGNALS);
  const figures: VariantFigures[] = [];
  for (const variant of VARIANTS) {
    let outcome = await passOnce(signals, variant, book, options);
    const runsPerSecond: number[] = [];
    for (let run = 0; run < RUNS; run += 1) {
      const started = performance.now();
      outcome = await passOnce(signals, variant, book, options);
      runsPerSecond.push(SIGNALS / ((performance.now() - started) / 1000));
    }
    figures.push({ variant: variant.name, runsPerSecond, outcome });
  }
  return figures;
}

export function signalPathTable(figures: readonly VariantFigures[]): Table {
  const full = figures[0];
  const mix = full
    ? `${count(full.outcome.entries)} entries, rejections: ${[...full.outcome.rejectedBy].map(([field, n]) => `${field} ${count(n)}`).join(', ')}`
    : '';
  return {
    title: `Signal path throughput, in memory (${count(SIGNALS)} signals per pass, median of ${RUNS} passes after a warm-up)`,
    columns: ['stages', 'signals/s (median)', 'µs per signal', 'slowest pass', 'fastest pass'],
    rows: figures.map((f) => {
      const mid = median(f.runsPerSecond);
      return [f.variant, count(mid), fixed(1e6 / mid, 2), count(Math.min(...f.runsPerSecond)), count(Math.max(...f.runsPerSecond))];
    }),
    notes: [
      `Mix per pass of haltGate + translate: ${mix}.`,
      'translate validates every field, rounds to the pair rules (Decimal), checks ordermin/costmin and stop/take-profit sides, and mints a UUID per order.',
    ],
  };
}
