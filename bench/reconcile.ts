import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { Decimal } from 'decimal.js';
import { type Observable, concatMap, defer, from, lastValueFrom, map, mergeMap, tap, toArray } from 'rxjs';
import { defaultConfig } from '../src/config/config';
import { TIERS, clientRateBudget, krakenCostModel, restCostOf } from '../src/kraken/budget';
import { accountFingerprint } from '../src/journal/account';
import { openMemoryJournal } from '../src/journal/memory';
import { openSqliteJournal } from '../src/journal/sqlite';
import { type ExecutionConfig } from '../src/model/config';
import { type Journal, type OrderIntentRecord } from '../src/model/journal';
import { type LifecycleEvent } from '../src/model/order-state';
import { type ExchangePort } from '../src/model/port';
import { type ReportStatus } from '../src/model/report';
import { type PaperExchange, startPaperExchange } from '../src/paper';
import { type Logger, createExchangeDeps } from '../src/streams/deps';
import { defaultTuning } from '../src/streams/execution-handler';
import { type ReconcilePlan, reconcile } from '../src/streams/reconcile';
import { seededRandom, seededUuids } from '../src/testing/seeded';
import { IdleClock } from '../src/time/idle-clock';
import { type Recording, idleClockPort } from './idle-wiring';
import { FAR_BUYS, type RestingBuy } from './monitor-calls';
import { type Table, count, fixed, printTable } from './table';

/** Journaled orders in the scenario, split as below. */
export const RECONCILE_ORDERS = 1_000;
/** Limit buys on ADA/USD (no other order there): they fill when its price is moved, after they were journaled. */
const FILLED_WHILE_DOWN = 300;
/** Journaled as `sent` only, their deadline long past, never placed: reconciliation must prove them absent. */
const NEVER_PLACED = 24;
/** Placed and journaled as accepted, then cancelled on the exchange behind the journal's back. */
const CANCELLED_BEHIND = 10;
/** The rest: resting far below the market, still open. */
const RESTING = RECONCILE_ORDERS - FILLED_WHILE_DOWN - NEVER_PLACED - CANCELLED_BEHIND;

const FILLABLE: RestingBuy = { pair: 'ADAUSD', price: '0.400000', volume: '10' };
const FILL_PRICE = '0.390000';
/** How long before the start the never-placed orders were sent: their deadline + the OpenOrders lag is long past. */
const NEVER_PLACED_AGO_MS = 600_000;
/** Clock ms any one drive may take; far more than the starter tier's pace needs. */
const DRIVE_LIMIT_MS = 3_600_000;

const silent: Logger = { debug: () => undefined, info: () => undefined, warn: () => undefined, error: () => undefined };

/** The REST counter at the start of a run: empty (what `clientRateBudget` starts from) or full. */
export type CounterAtStart = 'empty' | 'full';

/** One measured reconciliation. */
export interface ReconcileRun {
  readonly journal: string;
  readonly counterAtStart: CounterAtStart;
  /** HTTP requests the client sent, by Kraken method. */
  readonly clientCalls: ReadonlyMap<string, number>;
  /** The same counted by the paper exchange. */
  readonly serverCalls: ReadonlyMap<string, number>;
  /** Units charged to the per-key REST counter (Kraken's cost of each private call). */
  readonly restUnits: number;
  /** Exchange (idle-clock) ms from the start to the last report of an order that had a txid. */
  readonly knownSettledMs: number;
  /** Exchange ms from the start to the plan. */
  readonly planMs: number;
  /** Real ms the run took: loopback HTTP, journal writes, folds (the clock's waits are skipped). */
  readonly wallMs: number;
  readonly reports: ReadonlyMap<ReportStatus, number>;
  readonly plan: ReconcilePlan;
}

/** What setup and every measured run share: the clock, the paper exchange, the client's port on that clock, the config. */
interface Scenario {
  readonly clock: IdleClock;
  readonly paper: PaperExchange;
  readonly port: ExchangePort;
  readonly recording: Recording;
  readonly config: ExecutionConfig;
}

/** A journal append taken at once (the journals are synchronous); a transition that did not move is a bench bug. */
function append(journals: readonly Journal[], write: (journal: Journal) => Observable<unknown>): void {
  for (const journal of journals) {
    const box: { answer?: { readonly value: unknown } | { readonly error: unknown } } = {};
    write(journal)
      .subscribe({ next: (value) => (box.answer = { value }), error: (error: unknown) => (box.answer = { error }) })
      .unsubscribe();
    const answer = box.answer;
    if (answer === undefined) throw new Error('bench setup: the journal did not answer synchronously');
    if ('error' in answer) throw answer.error;
    const result = answer.value;
    if (typeof result === 'object' && result !== null && 'kind' in result && result.kind !== 'moved') {
      throw new Error(`bench setup: a journal transition did not move: ${JSON.stringify(result)}`);
    }
  }
}

const transition = (journals: readonly Journal[], clientOrderId: string, event: LifecycleEvent, at: number): void =>
  append(journals, (journal) => journal.recordTransition(clientOrderId, event, at));

/** An entry as the handler journals it: a limit buy with a stop-loss, a take-profit and a limit timeout. */
function entryIntent(clientOrderId: string, order: RestingBuy, config: ExecutionConfig, createdAt: number): OrderIntentRecord {
  const price = new Decimal(order.price);
  return {
    clientOrderId,
    signalId: `bench-signal-${clientOrderId}`,
    role: 'entry',
    parentClientOrderId: null,
    pair: order.pair,
    side: 'buy',
    orderType: 'limit',
    volume: new Decimal(order.volume),
    price,
    price2: null,
    deadlineMs: config.entry.deadlineMs,
    duties: {
      stopLoss: price.times('0.9').toDecimalPlaces(4),
      takeProfit: price.times('1.2').toDecimalPlaces(4),
      limitTimeoutMs: config.entry.limitTimeoutMs,
      protectionMode: config.protection.mode,
    },
    createdAt,
  };
}

/** Journals an entry (intent, sent), places it over HTTP, journals its acceptance; emits its txid. */
function placeJournaled(scenario: Scenario, journals: readonly Journal[], intent: OrderIntentRecord): Observable<string> {
  return defer(() => {
    const { clock, port } = scenario;
    append(journals, (journal) => journal.recordIntent(intent));
    const deadline = clock.now() + intent.deadlineMs;
    transition(journals, intent.clientOrderId, { kind: 'sent', deadline }, clock.now());
    const { clientOrderId, pair, side, orderType, volume, price } = intent;
    return port.placeOrder({ clientOrderId, pair, side, orderType, volume, ...(price ? { price } : {}), deadline }).pipe(
      tap((placed) => transition(journals, clientOrderId, { kind: 'accepted', txid: placed.txid }, clock.now())),
      map((placed) => placed.txid),
    );
  });
}

/**
 * The state a restart finds: `RECONCILE_ORDERS` entries journaled in every journal of `journals`, then what
 * happened on the exchange while the process was down (fills on ADA/USD, cancels by hand). Not measured.
 */
async function prepare(scenario: Scenario, journals: readonly Journal[], seed: number): Promise<void> {
  const { clock, paper, port, config } = scenario;
  const newId = seededUuids(seededRandom(seed));
  const placed: RestingBuy[] = [
    ...Array.from({ length: FILLED_WHILE_DOWN }, () => FILLABLE),
    ...Array.from({ length: RESTING + CANCELLED_BEHIND }, (_, at) => FAR_BUYS[at % FAR_BUYS.length] ?? FILLABLE),
  ];
  const sentAt = clock.now() - NEVER_PLACED_AGO_MS;
  for (let i = 0; i < NEVER_PLACED; i++) {
    const intent = entryIntent(newId(), FAR_BUYS[i % FAR_BUYS.length] ?? FILLABLE, config, sentAt);
    append(journals, (journal) => journal.recordIntent(intent));
    transition(journals, intent.clientOrderId, { kind: 'sent', deadline: sentAt + intent.deadlineMs }, sentAt);
  }
  const intents = placed.map((order) => entryIntent(newId(), order, config, clock.now()));
  const txids = await clock.drive(
    lastValueFrom(
      from(intents).pipe(
        // mergeMap: requests queue in the client's private lane, as the handler's placements do.
        mergeMap((intent) => placeJournaled(scenario, journals, intent), 16),
        toArray(),
      ),
    ),
    DRIVE_LIMIT_MS,
  );
  if (paper.inspect.openOrders().length !== placed.length) throw new Error(`bench setup: expected ${placed.length} open orders on the paper exchange`);
  const cancelled = txids.slice(txids.length - CANCELLED_BEHIND);
  await clock.drive(lastValueFrom(from(cancelled).pipe(concatMap((txid) => port.cancelOrder({ txid })), toArray())), DRIVE_LIMIT_MS);
  paper.setPrice(FILLABLE.pair, FILL_PRICE);
  if (paper.inspect.openOrders().length !== RESTING) throw new Error(`bench setup: expected ${RESTING} orders still open after the fills and cancels`);
}

const tally = <K>(keys: readonly K[]): Map<K, number> => {
  const counts = new Map<K, number>();
  for (const key of keys) counts.set(key, (counts.get(key) ?? 0) + 1);
  return counts;
};

const serverCounts = (paper: PaperExchange): ReadonlyMap<string, number> => new Map(paper.inspect.requestCounts());

const difference = (after: ReadonlyMap<string, number>, before: ReadonlyMap<string, number>): Map<string, number> =>
  new Map([...after].map(([method, n]): [string, number] => [method, n - (before.get(method) ?? 0)]).filter(([, n]) => n > 0));

/** One reconciliation over `journal`, on a fresh run's exchange access at the starter tier's budget model. */
async function measureRun(scenario: Scenario, name: string, journal: Journal, counterAtStart: CounterAtStart, seed: number): Promise<ReconcileRun> {
  const { clock, paper, port, recording, config } = scenario;
  const budget = clientRateBudget('starter');
  if (counterAtStart === 'full') budget.snapRest(clock.now());
  const random = seededRandom(seed);
  const deps = createExchangeDeps({
    config,
    port,
    budget,
    costs: krakenCostModel,
    scheduler: clock,
    newId: seededUuids(random),
    random,
    log: silent,
    tuning: defaultTuning(config),
  });
  const wireFrom = recording.wire.length;
  const serverBefore = serverCounts(paper);
  const startedAt = clock.now();
  const reportTimes: Array<{ readonly status: ReportStatus; readonly at: number }> = [];
  const found: { plan?: ReconcilePlan } = {};
  const wallStarted = performance.now();
  await clock.drive(
    lastValueFrom(
      reconcile(journal, deps).pipe(
        tap((step) => {
          if (step.kind === 'report') reportTimes.push({ status: step.report.status, at: clock.now() - startedAt });
          else found.plan = step.value;
        }),
        toArray(),
      ),
    ),
    DRIVE_LIMIT_MS,
  );
  const planMs = clock.now() - startedAt;
  const wallMs = performance.now() - wallStarted;
  const plan = found.plan;
  if (plan === undefined) throw new Error(`${name}: reconcile completed without a plan`);
  const methods = recording.wire.slice(wireFrom).map((call) => call.method);
  const known = reportTimes.filter((r) => r.status !== 'REJECTED');
  return {
    journal: name,
    counterAtStart,
    clientCalls: tally(methods),
    serverCalls: difference(serverCounts(paper), serverBefore),
    restUnits: methods.reduce((sum, method) => sum + restCostOf(method), 0),
    knownSettledMs: known.reduce((latest, r) => Math.max(latest, r.at), 0),
    planMs,
    wallMs,
    reports: tally(reportTimes.map((r) => r.status)),
    plan,
  };
}

/**
 * Start-up reconciliation of `RECONCILE_ORDERS` journaled entries against the paper exchange over loopback HTTP.
 *
 * Setup (tier `unlimited`, not measured): the entries are placed through the Kraken client and journaled as the
 * handler does (intent with its duties, `sent`, `accepted`) in a SQLite file (`synchronous=FULL`) and, identically,
 * in two in-memory journals; some were never placed (journaled `sent`, deadline long past); then, "while the
 * process was down", ADA/USD's price moves through its orders and a few others are cancelled by hand.
 *
 * Measured: `reconcile` to its plan over each journal, each on a fresh run's exchange access paced by the
 * starter tier's budget model as the CLI builds it (`clientRateBudget('starter')`). Client, paper exchange and
 * pacing share one `IdleClock`, so the exchange time is exact (what the waits for REST units add, whatever the
 * machine's load) and the real time is the local work alone (HTTP on loopback, journal writes, folds).
 * Reconciliation only reads the exchange, so each run finds the same state.
 */
export async function measureReconcile(seed = 5100): Promise<ReconcileRun[]> {
  const clock = new IdleClock();
  const paper = await startPaperExchange({ tier: 'unlimited', seed, clock: () => clock.now(), timers: clock.waitTimers });
  const dir = mkdtempSync(join(tmpdir(), 'krx-bench-reconcile-'));
  const journals: Journal[] = [];
  try {
    const config: ExecutionConfig = { ...defaultConfig(), logLevel: 'silent' };
    const idle = idleClockPort(paper, clock, config.exchange.requestTimeoutMs);
    const { recording, kraken } = idle;
    // The Kraken port's paging of ClosedOrders, as the CLI's port has it (the wire recording counts its calls).
    const port: ExchangePort = { ...idle.port, closedOrdersSince: (startMs, offset) => kraken.closedOrdersSince(startMs, offset) };
    const scenario: Scenario = { clock, paper, port, recording, config };
    const account = accountFingerprint(paper.apiKey);
    const sqlite = openSqliteJournal({ path: join(dir, 'journal.db'), account });
    const memory = openMemoryJournal({ account });
    const memoryFull = openMemoryJournal({ account });
    journals.push(sqlite, memory, memoryFull);
    await prepare(scenario, journals, seed);
    return [
      await measureRun(scenario, 'SQLite, synchronous=FULL', sqlite, 'empty', seed + 1),
      await measureRun(scenario, 'in memory', memory, 'empty', seed + 2),
      await measureRun(scenario, 'in memory', memoryFull, 'full', seed + 3),
    ];
  } finally {
    for (const journal of journals) journal.close().subscribe({ error: () => undefined });
    rmSync(dir, { recursive: true, force: true });
    await paper.close();
  }
}

const METHODS = ['OpenOrders', 'QueryOrders', 'ClosedOrders', 'AssetPairs'] as const;

const callsOf = (run: ReconcileRun, method: string): number => run.clientCalls.get(method) ?? 0;

const sameCounts = (a: ReadonlyMap<string, number>, b: ReadonlyMap<string, number>): boolean =>
  a.size === b.size && [...a].every(([method, n]) => b.get(method) === n);

const secondsOf = (ms: number): string => `${fixed(ms / 1000, 1)} s`;

/** Headroom the client keeps below each cap (`clientRateBudget`). */
const HEADROOM_UNITS = 1;

/**
 * The least exchange time `units` REST units take at the starter tier: from an empty counter, what does not fit
 * the cap (less the headroom) at once comes at the decay rate; from a full one, every unit and the headroom do.
 */
function budgetBoundMs(units: number, counterAtStart: CounterAtStart): number {
  const starter = TIERS.starter.rest;
  if (!starter) throw new Error('starter tier has a REST counter');
  const toDecay = counterAtStart === 'empty' ? Math.max(0, units - (starter.max - HEADROOM_UNITS)) : units + HEADROOM_UNITS;
  return (toDecay / starter.decayPerSecond) * 1000;
}

/** Table 1: calls and time per run. */
export function reconcileCallsTable(runs: readonly ReconcileRun[]): Table {
  const starter = TIERS.starter.rest;
  if (!starter) throw new Error('starter tier has a REST counter');
  const pages = runs[0] ? callsOf(runs[0], 'ClosedOrders') : 0;
  return {
    title: `Start-up reconciliation of ${count(RECONCILE_ORDERS)} journaled orders at starter tier (REST counter max ${starter.max}, decays ${starter.decayPerSecond}/s)`,
    columns: [
      'journal',
      'REST counter at start',
      ...METHODS,
      'REST units',
      'orders with a txid settled',
      'plan (exchange time)',
      'REST-budget bound',
      'wall time, waits skipped (ms)',
      'client = server count',
    ],
    rows: runs.map((run) => [
      run.journal,
      run.counterAtStart,
      ...METHODS.map((method) => count(callsOf(run, method))),
      count(run.restUnits),
      secondsOf(run.knownSettledMs),
      secondsOf(run.planMs),
      secondsOf(budgetBoundMs(run.restUnits, run.counterAtStart)),
      fixed(run.wallMs, 0),
      sameCounts(run.clientCalls, run.serverCalls) ? 'yes' : 'NO',
    ]),
    notes: [
      `${count(RECONCILE_ORDERS)} limit-buy entries journaled as the handler does (intent with stop-loss, take-profit and limit timeout; sent; accepted).`,
      `${count(RECONCILE_ORDERS - NEVER_PLACED)} were placed over loopback HTTP: ${count(RESTING)} rest far below the market; ${count(FILLED_WHILE_DOWN)} on ADA/USD filled and ${count(CANCELLED_BEHIND)} were cancelled`,
      `on the exchange after they were journaled. The other ${count(NEVER_PLACED)} were journaled as sent only (deadline ${NEVER_PLACED_AGO_MS / 60_000} min past), never placed. Each run: a fresh`,
      "exchange access on clientRateBudget('starter') (as the CLI builds it), then reconcile() to its plan; the paper exchange runs at tier unlimited.",
      'Exchange time is on the idle clock that client and paper exchange share: it stands still during HTTP and journal writes and jumps over',
      'waits, so it is exactly the waiting; the wall time is the local work (loopback HTTP, journal writes, folds) with the waits skipped',
      '(it moves with the machine\'s load; the exchange time does not).',
      `It waits for the REST budget, and nothing else: the plan comes at the budget's bound (${starter.max - HEADROOM_UNITS} units fit at once from an empty counter, the`,
      `rest at ${starter.decayPerSecond}/s). The ${count(NEVER_PLACED)} never-placed orders are proven absent from ${count(pages)} ClosedOrders pages since the oldest of them`,
      `(every order closed since, 50 a page) and the one OpenOrders, past their deadline: no lookup by client order id (2 units each).`,
      '"full": the REST counter full at start, as issue 13 asks when the journal recorded no counters (not yet what the CLI does).',
    ],
  };
}

/** Table 2: what reconciliation found and handed on (the same for every run, or the table says which differ). */
export function reconcilePlanTable(runs: readonly ReconcileRun[]): Table {
  const statuses = [...new Set(runs.flatMap((run) => [...run.reports.keys()]))].sort();
  const planRows: ReadonlyArray<readonly [string, (plan: ReconcilePlan) => number]> = [
    ['plan: toProtect (stop-loss to place)', (plan) => plan.toProtect.length],
    ['plan: toCancelAtTimeout', (plan) => plan.toCancelAtTimeout.length],
    ['plan: toCancel', (plan) => plan.toCancel.length],
    ['plan: takeProfitWatches', (plan) => plan.takeProfitWatches.length],
    ['plan: restingStops', (plan) => plan.restingStops.length],
    ['plan: followed', (plan) => plan.followed.length],
    ['plan: foreign', (plan) => plan.foreign.length],
    ['plan: unsettled', (plan) => plan.unsettled.length],
  ];
  const label = (run: ReconcileRun): string => `${run.journal}, counter ${run.counterAtStart}`;
  return {
    title: `What reconciliation of the ${count(RECONCILE_ORDERS)} orders reported and handed on`,
    columns: ['', ...runs.map(label)],
    rows: [
      ...statuses.map((status) => [`reports: ${status}`, ...runs.map((run) => count(run.reports.get(status) ?? 0))]),
      ...planRows.map(([name, size]) => [name, ...runs.map((run) => count(size(run.plan)))]),
    ],
    notes: [
      `Expected: ${FILLED_WHILE_DOWN} FILLED (each then to protect and its take-profit watched), ${CANCELLED_BEHIND} CANCELED, ${NEVER_PLACED} REJECTED (proven absent),`,
      `${RESTING} working entries followed with their timeout cancel planned.`,
    ],
  };
}

if (require.main === module) {
  void (async () => {
    const runs = await measureReconcile();
    printTable(reconcileCallsTable(runs));
    printTable(reconcilePlanTable(runs));
  })();
}
