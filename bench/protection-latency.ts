import { Decimal } from 'decimal.js';
import { Subject, type Subscription } from 'rxjs';
import { defaultConfig } from '../src/config/config';
import { clientRateBudget, krakenCostModel } from '../src/kraken/budget';
import { Credentials } from '../src/kraken/credentials';
import { createKrakenExchange } from '../src/kraken/exchange';
import { PrivateLane } from '../src/kraken/private-lane';
import { type ExecutionReport, isFinalStatus } from '../src/model/report';
import { type TradeSignal } from '../src/model/signal';
import { type FaultKind, type FaultRates, startPaperExchange } from '../src/paper';
import { createExecutionHandler } from '../src/streams/execution-handler';
import { ScaledScheduler } from '../src/time/scaled-scheduler';
import { type Table, count, fixed } from './table';

/** Paper ms per real ms; the client's 10 s request timeout is then 250 real ms. */
const SPEED = 40;
const SIGNALS = 60;
/** Paper ms between two signals. */
const SIGNAL_EVERY_MS = 1_000;
/** Paper ms a run may take before it is cut off (what is not protected by then counts as never). */
const RUN_LIMIT_MS = 600_000;
const FAULT_RATE = 0.2;

/** The e2e soak's fault mix: network and service faults on 20 % of private calls (no injected rate limits). */
const FAULTS: readonly FaultKind[] = [
  'accept-then-drop',
  'accept-then-timeout',
  'drop-before-accept',
  'html-5xx-placed',
  'html-5xx-not-placed',
  'service-unavailable',
  'service-busy',
  'invalid-nonce',
];

const PAIRS = [
  { name: 'BTC/USD', key: 'XXBTZUSD', price: new Decimal('60000'), quantity: '0.01' },
  { name: 'ETH/USD', key: 'XETHZUSD', price: new Decimal('3000'), quantity: '0.2' },
  { name: 'SOL/USD', key: 'SOLUSD', price: new Decimal('150'), quantity: '4' },
] as const;

function signalOf(i: number): TradeSignal {
  const pair = PAIRS[i % PAIRS.length] ?? PAIRS[0];
  const common = { signalId: `lat-${i}`, pair: pair.name, side: 'buy' as const, quantity: pair.quantity, stopLoss: pair.price.mul('0.9').toFixed(0) };
  // Half market, half marketable limits: both fill on arrival, so the fill time is the placement's.
  return i % 2 === 0 ? { ...common, orderType: 'market' } : { ...common, orderType: 'limit', limitPrice: pair.price.mul('1.01').toFixed(0) };
}

export interface LatencyRun {
  readonly faults: boolean;
  readonly filled: number;
  readonly protectedCount: number;
  /** Paper ms from an entry's first fill to its stop-loss being accepted, sorted. */
  readonly latencies: readonly number[];
  readonly faultsApplied: number;
}

const realDelay = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * One run: market and marketable-limit entries with a stop-loss, one a paper second, through the whole handler
 * over loopback HTTP on the shipped config, against a starter-tier paper exchange on one clock `SPEED`× faster.
 * For every entry that filled: its first trade's time on the exchange, and when the exchange accepted its stop.
 */
async function runOnce(faults: boolean, seed: number): Promise<LatencyRun> {
  const scheduler = new ScaledScheduler(SPEED);
  const rates: FaultRates = Object.fromEntries(FAULTS.map((kind) => [kind, FAULT_RATE / FAULTS.length]));
  const paper = await startPaperExchange({
    seed,
    tier: 'starter',
    balances: { ZUSD: '10000000' },
    prices: Object.fromEntries(PAIRS.map((pair) => [pair.key, pair.price.toFixed()])),
    clock: () => scheduler.now(),
    faults: faults ? { seed, rates: { '*': rates }, timeoutHoldMs: 3_000 } : { timeoutHoldMs: 3_000 },
  });
  const subscriptions: Subscription[] = [];
  try {
    const config = { ...defaultConfig(), logLevel: 'silent' as const };
    const port = createKrakenExchange({
      url: paper.url,
      credentials: new Credentials(paper.apiKey, paper.apiSecret),
      timeoutMs: config.exchange.requestTimeoutMs / SPEED,
      lane: new PrivateLane(),
      clock: () => scheduler.now(),
    });
    const signals = new Subject<TradeSignal>();
    const t0 = scheduler.now();
    const log = process.env['BENCH_LOG'] === '1'
      ? { debug: () => undefined, info: (...args: unknown[]) => console.error(scheduler.now() - t0, ...args), warn: (...args: unknown[]) => console.error(scheduler.now() - t0, ...args), error: (...args: unknown[]) => console.error(scheduler.now() - t0, ...args) }
      : undefined;
    const handler = createExecutionHandler(config, { port, budget: clientRateBudget('starter'), costs: krakenCostModel, scheduler, ...(log ? { log } : {}) }).connect({ signals$: signals });
    const reports: ExecutionReport[] = [];
    subscriptions.push(handler.reports$.subscribe({ next: (report) => reports.push(report), error: () => undefined }));
    const startedAt = scheduler.now();
    const ids = Array.from({ length: SIGNALS }, (_, i) => signalOf(i));
    for (const signal of ids) {
      signals.next(signal);
      await realDelay(SIGNAL_EVERY_MS / SPEED);
    }
    const settled = (): boolean =>
      ids.every((signal) => {
        const entry = reports.filter((r) => r.signalId === signal.signalId && r.role === 'entry');
        const final = entry.find((r) => isFinalStatus(r.status));
        if (!final) return false;
        if (final.quantityFilled.isZero()) return true;
        return reports.some((r) => r.signalId === signal.signalId && r.role === 'stop-loss' && (r.status === 'NEW' || isFinalStatus(r.status)));
      });
    while (!settled() && scheduler.now() - startedAt < RUN_LIMIT_MS) await realDelay(20);
    await handler.stop();

    const trades = paper.inspect.trades();
    const latencies: number[] = [];
    let filled = 0;
    for (const signal of ids) {
      const final = reports.find((r) => r.signalId === signal.signalId && r.role === 'entry' && isFinalStatus(r.status));
      const entryOrder = final?.clientOrderId ? paper.inspect.ordersByClOrdId(final.clientOrderId)[0] : undefined;
      const firstFill = trades.filter((trade) => trade.orderTxid === entryOrder?.txid).map((trade) => trade.time).sort((a, b) => a - b)[0];
      if (firstFill === undefined) continue;
      filled += 1;
      const stopIds = new Set(reports.filter((r) => r.signalId === signal.signalId && r.role === 'stop-loss').map((r) => r.clientOrderId));
      const accepted = paper.inspect
        .orders()
        .filter((order) => order.orderType === 'stop-loss' && stopIds.has(order.clOrdId))
        .map((order) => order.openedAt)
        .sort((a, b) => a - b)[0];
      if (accepted !== undefined) latencies.push(accepted - firstFill);
    }
    latencies.sort((a, b) => a - b);
    return { faults, filled, protectedCount: latencies.length, latencies, faultsApplied: paper.faults.applied().length };
  } finally {
    for (const subscription of subscriptions) subscription.unsubscribe();
    await paper.close();
  }
}

/** The q-quantile of sorted values (nearest rank). */
const quantile = (sorted: readonly number[], q: number): number => sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))] ?? Number.NaN;

export async function measureProtectionLatency(): Promise<LatencyRun[]> {
  return [await runOnce(false, 4100), await runOnce(true, 4101), await runOnce(true, 4102)];
}

export function protectionLatencyTable(runs: readonly LatencyRun[]): Table {
  const secs = (ms: number): string => (Number.isFinite(ms) ? `${fixed(ms / 1000, 1)} s` : '—');
  return {
    title: `Protection latency: an entry's fill on the exchange to its stop-loss accepted, ${count(SIGNALS)} entries, shipped config, starter tier, paper clock ×${SPEED}`,
    columns: ['paper faults', 'faults applied', 'entries filled', 'stops accepted', 'p50', 'p90', 'max'],
    rows: runs.map((run) => [
      run.faults ? `${FAULT_RATE * 100} % of private calls` : 'none',
      count(run.faultsApplied),
      count(run.filled),
      count(run.protectedCount),
      secs(quantile(run.latencies, 0.5)),
      secs(quantile(run.latencies, 0.9)),
      secs(run.latencies.at(-1) ?? Number.NaN),
    ]),
    notes: [
      'Exchange (paper) time: the entry\'s first trade to the stop-loss order\'s acceptance, both read from the paper exchange. Faults: the e2e soak\'s mix',
      '(answers dropped after acting, slow answers past the 10 s client timeout, resets, HTML 502/503, EService:Unavailable/Busy, invalid nonce), seeded.',
      'One market or marketable-limit buy a paper second over BTC, ETH and SOL; every fill detected by the shared monitor, then the stop placed.',
    ],
  };
}
