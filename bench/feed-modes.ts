import { performance } from 'node:perf_hooks';
import { Decimal } from 'decimal.js';
import { type Subscription, Subject, filter, firstValueFrom, lastValueFrom, map, timer } from 'rxjs';
import { defaultConfig } from '../src/config/config';
import { clientRateBudget, krakenCostModel } from '../src/kraken/budget';
import { Credentials } from '../src/kraken/credentials';
import { createKrakenExchange } from '../src/kraken/exchange';
import { KrakenWsFeed } from '../src/kraken/ws-feed';
import { withWsOrders } from '../src/kraken/ws-orders';
import { type ExecutionConfig, type FeedMode } from '../src/model/config';
import { type ExecutionReport } from '../src/model/report';
import { type TradeSignal } from '../src/model/signal';
import { startPaperExchange } from '../src/paper';
import { createExecutionHandler } from '../src/streams/execution-handler';
import { seededRandom, seededUuids } from '../src/testing/seeded';
import { IdleClock } from '../src/time/idle-clock';
import { idleClockPort } from './idle-wiring';
import { type Table, count, fixed, printTable } from './table';

/**
 * The two feed modes through the whole handler, side by side: what REST costs with 100 open orders (idle clock,
 * exchange time) and how soon a fill is reported (real time, real sockets on loopback).
 */

const FEEDS: readonly FeedMode[] = ['rest', 'websocket'];

/** A pair, its market price, a ladder step below it and a volume above its `ordermin` / `costmin`. */
interface Ladder {
  readonly name: string;
  readonly key: string;
  readonly price: Decimal;
  readonly step: Decimal;
  readonly volume: string;
}

const LADDERS: readonly Ladder[] = [
  { name: 'BTC/USD', key: 'XXBTZUSD', price: new Decimal('60000'), step: new Decimal('1'), volume: '0.0001' },
  { name: 'ETH/USD', key: 'XETHZUSD', price: new Decimal('3000'), step: new Decimal('0.1'), volume: '0.002' },
  { name: 'SOL/USD', key: 'SOLUSD', price: new Decimal('150'), step: new Decimal('0.02'), volume: '0.05' },
  { name: 'DOT/USD', key: 'DOTUSD', price: new Decimal('7'), step: new Decimal('0.002'), volume: '1' },
];

const prices = (): Record<string, string> => Object.fromEntries(LADDERS.map((l) => [l.key, l.price.toFixed()]));

/** The `k`-th resting buy on `ladder`: `k + 1` steps below the market, inside the shipped 10 % price band. */
const rung = (ladder: Ladder, k: number): Decimal => ladder.price.sub(ladder.step.mul(k + 1));

/** The shipped config with the feed mode asked for; entries rest for the whole run. */
function configFor(mode: FeedMode): ExecutionConfig {
  const shipped = defaultConfig();
  return { ...shipped, logLevel: 'silent', entry: { ...shipped.entry, limitTimeoutMs: 3_600_000 }, feed: { mode, auditIntervalMs: 60_000 } };
}

const quantile = (sorted: readonly number[], q: number): number => sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))] ?? Number.NaN;

// ---------------------------------------------------------------------------------------------------------------
// REST calls per minute with 100 open orders.

const OPEN_ORDERS = 100;
/** Exchange ms measured once every entry is resting. */
const WINDOW_MS = 600_000;

export interface RestSpend {
  readonly feed: FeedMode;
  readonly windowMs: number;
  /** REST requests in the window, by Kraken method. */
  readonly byMethod: Readonly<Record<string, number>>;
  readonly total: number;
  /** Entries still resting at the end of the window (all 100, or the run did not measure what it says). */
  readonly resting: number;
}

/**
 * 100 resting limit buys (25 on each of four pairs, 1 to 25 steps below the market) through the whole handler
 * on the shipped config at starter tier, against the paper exchange on the idle-advancing clock (real loopback
 * HTTP and WebSocket, virtual waiting), as the CLI wires it (`websocket`: the feed, orders over the socket);
 * once every entry rests, the REST requests of the next 10 minutes of exchange time, counted on the wire.
 */
async function restSpendOnce(feedMode: FeedMode, seed: number): Promise<RestSpend> {
  const clock = new IdleClock();
  const paper = await startPaperExchange({
    seed,
    tier: 'starter',
    balances: { ZUSD: '10000000' },
    prices: prices(),
    clock: () => clock.now(),
    timers: clock.waitTimers,
    wsTimers: clock.timers,
    links: clock.links,
  });
  const subscriptions: Subscription[] = [];
  try {
    const config = configFor(feedMode);
    const { port, recording, kraken } = idleClockPort(paper, clock, config.exchange.requestTimeoutMs);
    const feed =
      feedMode === 'websocket'
        ? new KrakenWsFeed({
            privateUrl: paper.wsUrl,
            publicUrl: paper.wsUrl,
            token: () => kraken.client.getWebSocketsToken().pipe(map((t) => t.token)),
            pairs: await clock.drive(lastValueFrom(kraken.pairs()), 60_000),
            links: clock.links,
            scheduler: clock,
            random: seededRandom(seed + 2),
          })
        : undefined;
    const signals = new Subject<TradeSignal>();
    const handler = createExecutionHandler(config, {
      port: feed ? withWsOrders(port, feed) : port,
      budget: clientRateBudget('starter'),
      costs: krakenCostModel,
      scheduler: clock,
      random: seededRandom(seed),
      newId: seededUuids(seededRandom(seed + 1)),
      ...(feed ? { feed } : {}),
    }).connect({ signals$: signals });
    const reports: ExecutionReport[] = [];
    subscriptions.push(handler.reports$.subscribe({ next: (report) => reports.push(report), error: () => undefined }));
    for (let i = 0; i < OPEN_ORDERS; i++) {
      const ladder = LADDERS[i % LADDERS.length] ?? LADDERS[0];
      if (!ladder) throw new Error('bench: no ladder');
      const k = Math.floor(i / LADDERS.length);
      signals.next({ signalId: `rest-${i}`, pair: ladder.name, side: 'buy', orderType: 'limit', quantity: ladder.volume, limitPrice: rung(ladder, k).toFixed() });
    }
    const resting = (): number => new Set(reports.filter((r) => r.role === 'entry' && r.status === 'NEW').map((r) => r.signalId)).size;
    if (!(await clock.runUntil(() => resting() === OPEN_ORDERS, 600_000))) throw new Error(`bench: only ${resting()} of ${OPEN_ORDERS} entries resting`);
    // Past the start-up (the pair list, the token, the placements and their first readings), then the window.
    await clock.advance(60_000);
    const from = recording.wire.length;
    await clock.advance(WINDOW_MS);
    const window = recording.wire.slice(from);
    const byMethod: Record<string, number> = {};
    for (const call of window) byMethod[call.method] = (byMethod[call.method] ?? 0) + 1;
    const stillResting = paper.inspect.openOrders().length;
    await clock.drive(handler.stop(), 600_000);
    return { feed: feedMode, windowMs: WINDOW_MS, byMethod, total: window.length, resting: stillResting };
  } finally {
    for (const subscription of subscriptions) subscription.unsubscribe();
    await paper.close();
  }
}

export async function measureRestSpend(): Promise<RestSpend[]> {
  const runs: RestSpend[] = [];
  for (const feed of FEEDS) runs.push(await restSpendOnce(feed, 5100));
  return runs;
}

const SPEND_METHODS = ['OpenOrders', 'QueryOrders', 'ClosedOrders', 'Ticker', 'GetWebSocketsToken'] as const;

export function restSpendTable(runs: readonly RestSpend[]): Table {
  const polling = runs.find((run) => run.feed === 'rest');
  const perMinute = (run: RestSpend, calls: number): number => calls / (run.windowMs / 60_000);
  return {
    title: `REST calls per minute with ${count(OPEN_ORDERS)} open orders, whole handler, shipped config, starter tier, idle clock (${fixed(WINDOW_MS / 60_000, 0)} min of exchange time)`,
    columns: ['feed', ...SPEND_METHODS, 'other', 'REST calls', 'per minute', '÷ polling', 'still resting'],
    rows: runs.map((run) => {
      const named = SPEND_METHODS.reduce((sum, method) => sum + (run.byMethod[method] ?? 0), 0);
      return [
        run.feed,
        ...SPEND_METHODS.map((method) => count(run.byMethod[method] ?? 0)),
        count(run.total - named),
        count(run.total),
        fixed(perMinute(run, run.total), 1),
        polling && polling.total > 0 ? `${fixed((100 * run.total) / polling.total, 1)} %` : '—',
        count(run.resting),
      ];
    }),
    notes: [
      `${count(OPEN_ORDERS)} resting limit buys (25 on each of BTC, ETH, SOL, DOT/USD, a few steps below the market: nothing fills) through`,
      'createExecutionHandler against a starter-tier paper exchange, both on the idle-advancing clock (loopback HTTP and WebSocket,',
      'virtual waiting): the counts are exchange time and repeat exactly. Counted on the wire, a minute after every entry rested,',
      'for the window. rest: the monitor polls OpenOrders as fast as the REST budget allows. websocket: the feed (orders over the',
      'socket too, as the CLI runs it) with one OpenOrders audit a minute (feed.auditIntervalMs); the goal is at most 10 % of polling.',
    ],
  };
}

// ---------------------------------------------------------------------------------------------------------------
// Fill → REPORT latency, real time.

const FILLS = 200;
/** Real ms between two fills (the same schedule for both feeds). */
const FILL_EVERY_MS = 100;

export interface ReportLatency {
  readonly feed: FeedMode;
  /** Real ms from the `setPrice` that filled an entry to the handler's report of the fill, sorted. */
  readonly latencies: readonly number[];
  readonly missed: number;
}

/**
 * 200 resting entries (50 on each of four pairs) through the whole handler on the shipped config at starter tier,
 * against a paper exchange in this process, in real time over loopback (real HTTP, real WebSocket, the asyncScheduler):
 * once all rest, one is filled every 100 ms (the market moved down one rung) and the time to the handler's
 * report of that fill is taken.
 */
async function reportLatencyOnce(feedMode: FeedMode, seed: number): Promise<ReportLatency> {
  const paper = await startPaperExchange({ seed, tier: 'starter', balances: { ZUSD: '10000000' }, prices: prices() });
  const subscriptions: Subscription[] = [];
  try {
    const config = configFor(feedMode);
    const rest = createKrakenExchange({ url: paper.url, credentials: new Credentials(paper.apiKey, paper.apiSecret), timeoutMs: config.exchange.requestTimeoutMs });
    const feed =
      feedMode === 'websocket'
        ? new KrakenWsFeed({
            privateUrl: paper.wsUrl,
            publicUrl: paper.wsUrl,
            token: () => rest.client.getWebSocketsToken().pipe(map((t) => t.token)),
            pairs: await lastValueFrom(rest.pairs()),
          })
        : undefined;
    const signals = new Subject<TradeSignal>();
    const handler = createExecutionHandler(config, {
      port: feed ? withWsOrders(rest, feed) : rest,
      budget: clientRateBudget('starter'),
      costs: krakenCostModel,
      random: seededRandom(seed),
      newId: seededUuids(seededRandom(seed + 1)),
      ...(feed ? { feed } : {}),
    }).connect({ signals$: signals });
    const reports$ = new Subject<ExecutionReport>();
    const filledAt = new Map<string, number>();
    subscriptions.push(
      handler.reports$.subscribe({
        next: (report) => {
          if (report.role === 'entry' && report.quantityFilled.gt(0) && !filledAt.has(report.signalId)) filledAt.set(report.signalId, performance.now());
          reports$.next(report);
        },
        error: () => undefined,
      }),
    );
    const perLadder = FILLS / LADDERS.length;
    const signalId = (ladder: Ladder, k: number): string => `fill-${ladder.key}-${k}`;
    const resting = new Set<string>();
    const allResting = firstValueFrom(
      reports$.pipe(
        filter((report) => {
          if (report.role === 'entry' && report.status === 'NEW') resting.add(report.signalId);
          return resting.size === FILLS;
        }),
      ),
    );
    for (let k = 0; k < perLadder; k++) {
      for (const ladder of LADDERS) {
        signals.next({ signalId: signalId(ladder, k), pair: ladder.name, side: 'buy', orderType: 'limit', quantity: ladder.volume, limitPrice: rung(ladder, k).toFixed() });
      }
    }
    await allResting;
    const sentAt = new Map<string, number>();
    for (let k = 0; k < perLadder; k++) {
      for (const ladder of LADDERS) {
        await firstValueFrom(timer(FILL_EVERY_MS));
        sentAt.set(signalId(ladder, k), performance.now());
        // Half a step below rung k: rung k fills, rung k + 1 stays.
        paper.setPrice(ladder.key, rung(ladder, k).sub(ladder.step.div(2)));
      }
    }
    const everyFill = (): boolean => [...sentAt.keys()].every((id) => filledAt.has(id));
    const deadline = performance.now() + 120_000;
    while (!everyFill() && performance.now() < deadline) await firstValueFrom(timer(50));
    const latencies = [...sentAt].flatMap(([id, at]) => {
      const seen = filledAt.get(id);
      return seen === undefined ? [] : [seen - at];
    });
    await handler.stop();
    return { feed: feedMode, latencies: latencies.sort((a, b) => a - b), missed: sentAt.size - latencies.length };
  } finally {
    for (const subscription of subscriptions) subscription.unsubscribe();
    await paper.close();
  }
}

export async function measureReportLatency(): Promise<ReportLatency[]> {
  const runs: ReportLatency[] = [];
  for (const feed of FEEDS) runs.push(await reportLatencyOnce(feed, 5200));
  return runs;
}

export function reportLatencyTable(runs: readonly ReportLatency[]): Table {
  const ms = (value: number): string => fixed(value, value >= 100 ? 0 : 1);
  return {
    title: `Fill → REPORT through the whole handler on loopback (real ms, real sockets), ${count(FILLS)} fills per feed, shipped config, starter tier`,
    columns: ['feed', 'fills reported', 'missed', 'p50', 'p90', 'p99', 'max'],
    rows: runs.map((run) => [
      run.feed,
      count(run.latencies.length),
      count(run.missed),
      ms(quantile(run.latencies, 0.5)),
      ms(quantile(run.latencies, 0.9)),
      ms(quantile(run.latencies, 0.99)),
      ms(run.latencies.at(-1) ?? Number.NaN),
    ]),
    notes: [
      `${count(FILLS)} resting limit buys (50 on each of BTC, ETH, SOL, DOT/USD, one rung apart) through createExecutionHandler against a`,
      'starter-tier paper exchange in this process, on real time (asyncScheduler, real HTTP and WebSocket on 127.0.0.1). Once all rest,',
      `one is filled every ${FILL_EVERY_MS} ms (setPrice half a rung below it); the clock runs from setPrice to the handler's first report of`,
      'that entry with a filled quantity. rest: the monitor finds it at its next OpenOrders tick (paced by the REST budget) and reads it',
      'with QueryOrders. websocket: the executions channel (orders over the socket too, as the CLI runs it). Goal: p99 ≤ 50 ms with WS.',
    ],
  };
}

if (require.main === module) {
  void (async () => {
    printTable(restSpendTable(await measureRestSpend()));
    printTable(reportLatencyTable(await measureReportLatency()));
  })();
}
