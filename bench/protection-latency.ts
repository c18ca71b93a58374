import { Decimal } from 'decimal.js';
import { createHash } from 'node:crypto';
import { Subject, type Subscription, lastValueFrom, map } from 'rxjs';
import { defaultConfig } from '../src/config/config';
import { clientRateBudget, krakenCostModel } from '../src/kraken/budget';
import { KrakenWsFeed } from '../src/kraken/ws-feed';
import { withWsOrders } from '../src/kraken/ws-orders';
import { type FeedMode } from '../src/model/config';
import { type ExecutionReport, isFinalStatus } from '../src/model/report';
import { type TradeSignal } from '../src/model/signal';
import { type FaultRates, NETWORK_FAULT_KINDS, evenFaultRates, startPaperExchange } from '../src/paper';
import { createExecutionHandler } from '../src/streams/execution-handler';
import { seededRandom, seededUuids } from '../src/testing/seeded';
import { IdleClock } from '../src/time/idle-clock';
import { type PortCall, type Recording, type WireCall, idleClockPort } from './idle-wiring';
import { type Table, count, fixed, printTable } from './table';

const SIGNALS = 60;
/** Clock ms between two signals. */
const SIGNAL_EVERY_MS = 1_000;
/** Clock ms a run may take before it is cut off (what is not protected by then counts as never). */
const RUN_LIMIT_MS = 600_000;
const FAULT_RATE = 0.2;
/** A held answer outlasts the client's 10 s request timeout: the client gives up first, as with Kraken. */
const TIMEOUT_HOLD_MS = 120_000;
/** BENCH_WS_FAULTS=1: every WS frame this late in the faulty runs (and the socket dropped every tenth signal). */
const WS_DELAY_MS = 250;

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

/** Where one stop's time went, clock ms: its entry's first fill on the exchange to the exchange accepting it. */
export interface StopTrace {
  readonly signalId: string;
  readonly latency: number;
  /** The entry's first trade to the handler's first report of a fill (the monitor's detection). */
  readonly detect: number;
  /** Detection to the first AddOrder call on the port (the stream: REST budget, placement slots). */
  readonly beforeFirstPlace: number;
  /** AddOrder calls waiting for the private lane (on the port, not yet on the wire). */
  readonly placeLane: number;
  /** AddOrder requests on the wire, answered or not (a client timeout is 10 s of it). */
  readonly placeWire: number;
  /** Lookups of the stop's client id (OpenOrders / ClosedOrders by `cl_ord_id`), lane wait included. */
  readonly lookups: number;
  /** The rest: back-offs, REST budget waits between attempts, breaker cool-downs. */
  readonly other: number;
  /** AddOrder attempts up to acceptance, and how each ended on the wire (HTTP status or failure name). */
  readonly attempts: readonly string[];
  readonly lookupCount: number;
}

/** The config's feed mode, or the WebSocket feed with placements and cancels over the socket too (as the CLI runs it). */
export type BenchFeed = FeedMode | 'websocket + orders';

export interface LatencyRun {
  readonly label: string;
  /** Where fills come from: REST polling, or the WebSocket feed with REST as the safety net. */
  readonly feed: BenchFeed;
  readonly faults: boolean;
  readonly seed: number;
  readonly filled: number;
  readonly protectedCount: number;
  /** Clock ms from an entry's first fill to its stop-loss being accepted, sorted. */
  readonly latencies: readonly number[];
  /** One per protected entry, slowest first. */
  readonly traces: readonly StopTrace[];
  readonly faultsApplied: number;
  /** Private requests, and those the client gave up on (its 10 s timeout), by method. */
  readonly privateCalls: number;
  readonly timedOut: Readonly<Record<string, number>>;
  /** Requests by method, and the clock ms the run took (to read the REST budget's use against). */
  readonly byMethod: Readonly<Record<string, number>>;
  readonly runMs: number;
  /** A digest of the wire (method, clock times, outcome, client id of every request): equal runs, equal digests. */
  readonly digest: string;
  /** For the slowest stops (`BENCH_TIMELINE=n`): every report and port call of the signal, clock s from its fill. */
  readonly timelines: ReadonlyMap<string, readonly string[]>;
}

const PRIVATE = new Set(['AddOrder', 'CancelOrder', 'OpenOrders', 'ClosedOrders', 'QueryOrders', 'TradesHistory', 'Balance', 'GetWebSocketsToken']);
const LOOKUP_METHODS = new Set<PortCall['method']>(['openOrders', 'closedOrders']);

/** Length of [from, to] inside [lo, hi]. */
const within = (from: number, to: number, lo: number, hi: number): number => Math.max(0, Math.min(to, hi) - Math.max(from, lo));

function traceStop(signalId: string, ids: ReadonlySet<string>, fillAt: number, detectedAt: number, acceptedAt: number, recording: Recording): StopTrace {
  const calls = recording.port.filter((call) => call.clOrdId !== undefined && ids.has(call.clOrdId) && call.subscribedAt <= acceptedAt);
  const wireOf = (call: PortCall, method: string): WireCall[] =>
    recording.wire.filter((w) => w.method === method && w.clOrdId === call.clOrdId && w.sentAt >= call.subscribedAt && w.sentAt <= (call.endedAt ?? Number.POSITIVE_INFINITY));
  const places = calls.filter((call) => call.method === 'placeOrder');
  const lookups = calls.filter((call) => LOOKUP_METHODS.has(call.method));
  const from = detectedAt;
  let placeLane = 0;
  let placeWire = 0;
  const attempts: string[] = [];
  for (const call of places) {
    const end = call.endedAt ?? acceptedAt;
    const sent = wireOf(call, 'AddOrder');
    const firstSent = sent[0]?.sentAt ?? end;
    placeLane += within(call.subscribedAt, firstSent, from, acceptedAt);
    for (const w of sent) {
      placeWire += within(w.sentAt, w.answeredAt ?? end, from, acceptedAt);
      attempts.push(w.outcome ?? 'pending');
    }
    if (sent.length === 0) attempts.push(`not sent (${call.outcome ?? 'pending'})`);
  }
  const lookupTime = lookups.reduce((sum, call) => sum + within(call.subscribedAt, call.endedAt ?? acceptedAt, from, acceptedAt), 0);
  const firstPlace = places[0]?.subscribedAt ?? acceptedAt;
  const beforeFirstPlace = Math.max(0, firstPlace - detectedAt);
  const latency = acceptedAt - fillAt;
  const detect = detectedAt - fillAt;
  return {
    signalId,
    latency,
    detect,
    beforeFirstPlace,
    placeLane,
    placeWire,
    lookups: lookupTime,
    other: latency - detect - beforeFirstPlace - placeLane - placeWire - lookupTime,
    attempts,
    lookupCount: lookups.length,
  };
}

/**
 * One run: market and marketable-limit entries with a stop-loss, one a clock second, through the whole handler
 * over loopback HTTP on the shipped config, against a starter-tier paper exchange, both on one `IdleClock` (the
 * e2e harness's wiring): the figures are exchange time and a property of the code and the seeds, not of the
 * machine's load. For every entry that filled: its first trade's time on the exchange, and when the exchange
 * accepted its stop.
 */
async function runOnce(label: string, faults: boolean, seed: number, benchFeed: BenchFeed): Promise<LatencyRun> {
  const feedMode: FeedMode = benchFeed === 'rest' ? 'rest' : 'websocket';
  const clock = new IdleClock();
  const rates: FaultRates = evenFaultRates(NETWORK_FAULT_KINDS, FAULT_RATE);
  const paper = await startPaperExchange({
    seed,
    tier: 'starter',
    balances: { ZUSD: '10000000' },
    prices: Object.fromEntries(PAIRS.map((pair) => [pair.key, pair.price.toFixed()])),
    clock: () => clock.now(),
    timers: clock.waitTimers,
    wsTimers: clock.timers,
    links: clock.links,
    faults: faults ? { seed, rates: { '*': rates }, timeoutHoldMs: TIMEOUT_HOLD_MS } : { timeoutHoldMs: TIMEOUT_HOLD_MS },
  });
  const subscriptions: Subscription[] = [];
  try {
    const config = { ...defaultConfig(), logLevel: 'silent' as const, feed: { mode: feedMode, auditIntervalMs: 60_000 } };
    const { port, recording, kraken } = idleClockPort(paper, clock, config.exchange.requestTimeoutMs);
    // As the CLI builds it: the pair list first, a fresh token per connection through the same client.
    const feed =
      feedMode === 'websocket'
        ? new KrakenWsFeed({
            privateUrl: paper.wsUrl,
            publicUrl: paper.wsUrl,
            token: () => kraken.client.getWebSocketsToken().pipe(map((t) => t.token)),
            pairs: await clock.drive(lastValueFrom(kraken.pairs()), RUN_LIMIT_MS),
            links: clock.links,
            scheduler: clock,
            random: seededRandom(seed + 2),
          })
        : undefined;
    const signals = new Subject<TradeSignal>();
    const t0 = clock.now();
    const say = (...args: unknown[]): void => console.error(clock.now() - t0, ...args);
    const log = process.env['BENCH_LOG'] === '1' ? { debug: () => undefined, info: say, warn: say, error: say } : undefined;
    const handler = createExecutionHandler(config, {
      port: feed && benchFeed === 'websocket + orders' ? withWsOrders(port, feed) : port,
      budget: clientRateBudget('starter'),
      costs: krakenCostModel,
      scheduler: clock,
      random: seededRandom(seed),
      newId: seededUuids(seededRandom(seed + 1)),
      ...(feed ? { feed } : {}),
      ...(log ? { log } : {}),
    }).connect({ signals$: signals });
    const reports: Array<{ readonly at: number; readonly report: ExecutionReport }> = [];
    subscriptions.push(handler.reports$.subscribe({ next: (report) => reports.push({ at: clock.now(), report }), error: () => undefined }));
    const ofSignal = (signalId: string, role: ExecutionReport['role']): ExecutionReport[] =>
      reports.filter(({ report }) => report.signalId === signalId && report.role === role).map(({ report }) => report);
    const ids = Array.from({ length: SIGNALS }, (_, i) => signalOf(i));
    // Socket faults (BENCH_WS_FAULTS=1; the paper's REST faults never reach the socket): every frame 250 ms late,
    // and the socket dropped 100 ms after every tenth signal, so a placement or fill report may be cut off in flight.
    const socketFaults = faults && feedMode === 'websocket' && process.env['BENCH_WS_FAULTS'] === '1';
    if (socketFaults) paper.wsFaults.setDelay(WS_DELAY_MS);
    for (const [i, signal] of ids.entries()) {
      signals.next(signal);
      if (socketFaults && i % 10 === 5) {
        await clock.advance(100);
        paper.wsFaults.drop();
        await clock.advance(SIGNAL_EVERY_MS - 100);
      } else {
        await clock.advance(SIGNAL_EVERY_MS);
      }
    }
    const settled = (): boolean =>
      ids.every((signal) => {
        const final = ofSignal(signal.signalId, 'entry').find((r) => isFinalStatus(r.status));
        if (!final) return false;
        if (final.quantityFilled.isZero()) return true;
        return ofSignal(signal.signalId, 'stop-loss').some((r) => r.status === 'NEW' || isFinalStatus(r.status));
      });
    await clock.runUntil(settled, RUN_LIMIT_MS);
    await clock.drive(handler.stop(), RUN_LIMIT_MS);

    const trades = paper.inspect.trades();
    const traces: StopTrace[] = [];
    let filled = 0;
    const fills = new Map<string, number>();
    for (const signal of ids) {
      const final = ofSignal(signal.signalId, 'entry').find((r) => isFinalStatus(r.status));
      const entryOrder = final?.clientOrderId ? paper.inspect.ordersByClOrdId(final.clientOrderId)[0] : undefined;
      const firstFill = trades.filter((trade) => trade.orderTxid === entryOrder?.txid).map((trade) => trade.time).sort((a, b) => a - b)[0];
      if (firstFill === undefined) continue;
      filled += 1;
      fills.set(signal.signalId, firstFill);
      const detectedAt = reports.find(({ report }) => report.signalId === signal.signalId && report.role === 'entry' && report.quantityFilled.gt(0))?.at ?? firstFill;
      const stopIds = new Set(ofSignal(signal.signalId, 'stop-loss').flatMap((r) => (r.clientOrderId ? [r.clientOrderId] : [])));
      const accepted = paper.inspect
        .orders()
        .filter((order) => order.orderType === 'stop-loss' && order.clOrdId !== null && stopIds.has(order.clOrdId))
        .map((order) => order.openedAt)
        .sort((a, b) => a - b)[0];
      if (accepted !== undefined) traces.push(traceStop(signal.signalId, stopIds, firstFill, detectedAt, accepted, recording));
    }
    traces.sort((a, b) => b.latency - a.latency);
    const timelines = new Map<string, string[]>();
    for (const trace of traces.slice(0, Number(process.env['BENCH_TIMELINE'] ?? '0'))) {
      const fillAt = fills.get(trace.signalId) ?? t0;
      const rel = (at: number | undefined): string => (at === undefined ? '…' : fixed((at - fillAt) / 1000, 1));
      const own = new Set(reports.filter(({ report }) => report.signalId === trace.signalId).flatMap(({ report }) => (report.clientOrderId ? [report.clientOrderId] : [])));
      const events: Array<readonly [number, string]> = [
        ...reports.filter(({ report }) => report.signalId === trace.signalId).map(({ at, report }) => [at, `report ${report.role} ${report.status} filled=${report.quantityFilled.toFixed()}${report.reason ? ` (${report.reason})` : ''}`] as const),
        ...recording.port.filter((call) => call.clOrdId !== undefined && own.has(call.clOrdId)).map((call) => [call.subscribedAt, `port ${call.method} ${call.clOrdId?.slice(0, 8) ?? ''} ${rel(call.subscribedAt)}→${rel(call.endedAt)} ${call.outcome ?? ''}`] as const),
        ...recording.wire.filter((w) => w.clOrdId !== undefined && own.has(w.clOrdId)).map((w) => [w.sentAt, `wire ${w.method} ${w.clOrdId?.slice(0, 8) ?? ''} ${rel(w.sentAt)}→${rel(w.answeredAt)} ${w.outcome ?? ''}`] as const),
      ];
      events.sort((a, b) => a[0] - b[0]);
      timelines.set(trace.signalId, events.map(([at, what]) => `  ${rel(at)} ${what}`));
    }
    const privateWire = recording.wire.filter((w) => PRIVATE.has(w.method));
    const timedOut: Record<string, number> = {};
    for (const w of privateWire) if (w.outcome === 'AbortError') timedOut[w.method] = (timedOut[w.method] ?? 0) + 1;
    const hash = createHash('sha256');
    for (const w of recording.wire) hash.update(`${w.method}|${w.clOrdId ?? ''}|${w.sentAt - t0}|${(w.answeredAt ?? 0) - t0}|${w.outcome ?? ''}\n`);
    return {
      label,
      feed: benchFeed,
      faults,
      seed,
      filled,
      protectedCount: traces.length,
      latencies: traces.map((trace) => trace.latency).sort((a, b) => a - b),
      traces,
      faultsApplied: paper.faults.applied().length,
      privateCalls: privateWire.length,
      timedOut,
      digest: hash.digest('hex').slice(0, 12),
      timelines,
      byMethod: recording.wire.reduce<Record<string, number>>((acc, w) => ({ ...acc, [w.method]: (acc[w.method] ?? 0) + 1 }), {}),
      runMs: clock.now() - t0,
    };
  } finally {
    for (const subscription of subscriptions) subscription.unsubscribe();
    await paper.close();
  }
}

/** The q-quantile of sorted values (nearest rank). */
const quantile = (sorted: readonly number[], q: number): number => sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))] ?? Number.NaN;

const RUNS = [
  { label: 'none', faults: false, seed: 4100 },
  { label: '20 %, seed A (4101)', faults: true, seed: 4101 },
  { label: '20 %, seed B (4102)', faults: true, seed: 4102 },
] as const;

/** Each seed with REST polling and with the WebSocket feed, side by side (`feeds` to run only some). */
export async function measureProtectionLatency(feeds: readonly BenchFeed[] = ['rest', 'websocket', 'websocket + orders']): Promise<LatencyRun[]> {
  const runs: LatencyRun[] = [];
  for (const run of RUNS) for (const feed of feeds) runs.push(await runOnce(run.label, run.faults, run.seed, feed));
  return runs;
}

const secs = (ms: number): string => (Number.isFinite(ms) ? `${fixed(ms / 1000, 1)} s` : '—');

export function protectionLatencyTable(runs: readonly LatencyRun[]): Table {
  return {
    title: `Protection latency: an entry's fill on the exchange to its stop-loss accepted, ${count(SIGNALS)} entries, shipped config, starter tier, idle clock`,
    columns: ['paper faults', 'feed', 'faults applied', 'entries filled', 'stops accepted', 'p50', 'p90', 'p99', 'max', 'client timeouts', 'wire digest'],
    rows: runs.map((run) => [
      run.label,
      run.feed,
      count(run.faultsApplied),
      count(run.filled),
      count(run.protectedCount),
      secs(quantile(run.latencies, 0.5)),
      secs(quantile(run.latencies, 0.9)),
      secs(quantile(run.latencies, 0.99)),
      secs(run.latencies.at(-1) ?? Number.NaN),
      Object.entries(run.timedOut).map(([method, n]) => `${method} ${n}`).join(', ') || '0',
      run.digest,
    ]),
    notes: [
      'Exchange time on the e2e harness\'s idle clock (real loopback HTTP, virtual waiting): the same seeds give the same figures and wire digest on any load.',
      'The entry\'s first trade to the stop-loss order\'s acceptance, both read from the paper exchange (p99: nearest rank, so with 60 stops it is the slowest;',
      'goal without faults: p99 ≤ 1 s). Faults: the e2e soak\'s mix on 20 % of private calls',
      '(answers dropped after acting, answers held past the 10 s client timeout, resets, HTML 502/503, EService:Unavailable/Busy, invalid nonce), seeded.',
      'One market or marketable-limit buy a clock second over BTC, ETH and SOL; each fill detected by the shared monitor, then the stop placed.',
      'feed rest: the monitor polls REST. websocket: fills, and orders whose AddOrder outcome was unknown, come from the paper exchange\'s WebSocket v2',
      '(KrakenWsFeed over loopback; its frames take no clock time, hence 0.0 s), REST polls at the audit pace and proves absence. WS frames are not in the digest.',
      'websocket + orders: placements and cancels over the socket while it is up (withWsOrders). With BENCH_WS_FAULTS=1 the socket gets faults of its own in the',
      'faulty runs: every frame 250 ms late, dropped 100 ms after every tenth signal (a placement cut off in flight is ambiguous and looked up over REST).',
    ],
  };
}

const mean = (values: readonly number[]): number => (values.length === 0 ? Number.NaN : values.reduce((a, b) => a + b, 0) / values.length);

/** Where the time of the slowest stops (at or above the run's p90) went, on average, by segment. */
export function protectionBreakdownTable(runs: readonly LatencyRun[]): Table {
  const rows = runs.map((run) => {
    const p90 = quantile(run.latencies, 0.9);
    const slow = run.traces.filter((trace) => trace.latency >= p90);
    const avg = (pick: (trace: StopTrace) => number): string => secs(mean(slow.map(pick)));
    return [
      run.label,
      run.feed,
      count(slow.length),
      avg((t) => t.latency),
      avg((t) => t.detect),
      avg((t) => t.beforeFirstPlace),
      avg((t) => t.placeLane),
      avg((t) => t.placeWire),
      avg((t) => t.lookups),
      avg((t) => t.other),
      fixed(mean(slow.map((t) => t.attempts.length)), 1),
    ];
  });
  return {
    title: 'Protection latency, the slowest stops (≥ p90): where the time went, mean per stop',
    columns: ['paper faults', 'feed', 'stops', 'fill → accepted', 'fill → detected', 'detected → 1st AddOrder', 'AddOrder lane wait', 'AddOrder on wire', 'lookups', 'other', 'AddOrder attempts'],
    rows,
    notes: [
      'detected: the handler\'s first report of the entry\'s fill. 1st AddOrder: the stop\'s first placement call on the port (REST budget, placement slots).',
      'lane wait: an AddOrder waiting behind other private calls. on wire: sent to answered or given up (a client timeout is 10 s).',
      'lookups: OpenOrders/ClosedOrders by the stop\'s client id after an unknown outcome. other: back-offs and budget waits between attempts.',
    ],
  };
}

/** The slowest stops of a run, one line each: segments in seconds and how each AddOrder attempt ended. */
export function slowestStops(run: LatencyRun, n: number): string[] {
  return run.traces.slice(0, n).map((t) =>
    `${run.label} ${run.feed} ${t.signalId}: ${secs(t.latency)} = detect ${secs(t.detect)} + before 1st ${secs(t.beforeFirstPlace)} + lane ${secs(t.placeLane)} + wire ${secs(t.placeWire)}` +
    ` + lookups ${secs(t.lookups)} (${t.lookupCount}) + other ${secs(t.other)}; attempts [${t.attempts.join(', ')}]`,
  );
}

if (require.main === module) {
  void (async () => {
    const only = process.env['BENCH_FEED'];
    const runs = await measureProtectionLatency(only === 'rest' || only === 'websocket' || only === 'websocket + orders' ? [only] : undefined);
    printTable(protectionLatencyTable(runs));
    printTable(protectionBreakdownTable(runs));
    for (const run of runs) {
      for (const line of slowestStops(run, Number(process.env['BENCH_SLOWEST'] ?? '6'))) process.stdout.write(`${line}\n`);
      process.stdout.write(`${run.label} ${run.feed}: ${fixed(run.runMs / 1000, 1)} s, requests ${JSON.stringify(run.byMethod)}\n`);
      for (const [signalId, lines] of run.timelines) process.stdout.write(`${run.label} ${signalId}:\n${lines.join('\n')}\n`);
    }
  })();
}
