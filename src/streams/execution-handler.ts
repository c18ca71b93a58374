import { randomUUID } from 'node:crypto';
import {
  BehaviorSubject,
  EMPTY,
  NEVER,
  type Observable,
  type SchedulerLike,
  type Subscription,
  asyncScheduler,
  catchError,
  concat,
  concatMap,
  connect,
  defer,
  delayWhen,
  filter,
  finalize,
  firstValueFrom,
  forkJoin,
  ignoreElements,
  interval,
  map,
  merge,
  mergeMap,
  of,
  race,
  ReplaySubject,
  share,
  take,
  takeUntil,
  tap,
} from 'rxjs';
import { type CostModel, type RateBudget } from '../model/budget';
import { type ExecutionConfig } from '../model/config';
import { type Journal, type JournaledCloseCommand } from '../model/journal';
import { type ExecutionFeed } from '../model/feed';
import { type PairBook } from '../model/pair';
import { type ExchangePort } from '../model/port';
import { type ExecutionReport } from '../model/report';
import { type ClosePositionCommand, type TradeSignal } from '../model/signal';
import { type EntryIntent, rejection } from '../operators/intent';
import { closePositions, resumableCloses } from './close-position';
import { type Logger, type StreamDeps, type StreamTuning, createExchangeDeps } from './deps';
import { exchangeCall } from './exchange-call';
import { type CancelTrigger, type OrderFinal, followOrder } from './order-lifecycle';
import { createOrderMonitor } from './order-monitor';
import { oneFinalPerOrder } from './order-reports';
import { type PlacedEntry, placeEntries, rejectionReport } from './placement';
import { type Position, PositionBook } from './positions';
import { protectEntry } from './protection';
import { reconcile } from './reconcile';
import { restoreDuties } from './restore';
import { type Step, andThen, reportStep, reportsOf } from './step';

/** What the handler needs from outside; all IO and time come through here. */
export interface HandlerDeps {
  readonly port: ExchangePort;
  /** The rate-budget model of the API key (shared with anything else that calls on that key). */
  readonly budget: RateBudget;
  readonly costs: CostModel;
  /** Clock and timers; virtual under test, scaled in end-to-end runs. Default `asyncScheduler`. */
  readonly scheduler?: SchedulerLike;
  /** Client order ids (Kraken's long UUID form) and report ids. Default `crypto.randomUUID`. */
  readonly newId?: () => string;
  /** Retry jitter, [0, 1). Default `Math.random`. */
  readonly random?: () => number;
  /** Default: silent. */
  readonly log?: Logger;
  readonly tuning?: Partial<StreamTuning>;
  /**
   * Where signals, order intents and every order transition are written before anything is sent and as it
   * happens (design.md §8); a `signalId` found in it is a duplicate, across restarts too. With a journal given,
   * each run starts by reconciling it with the exchange (`reconcile`) and taking up the duties it implies
   * (`restoreDuties`) before the first new signal or command (they wait meanwhile), seeds the rate budget from
   * the journaled counters (full ones when none are), and journals the counters every
   * `RATE_COUNTERS_EVERY_MS` and at its end. Default: an in-memory journal (`openMemoryJournal`, account
   * `in-memory`), fresh for each run: nothing outlives the process, nothing is reconciled. The caller opens and
   * closes a journal it gives; the handler never closes it.
   */
  readonly journal?: Journal;
  /** The exchange's push feed (e.g. `KrakenWsFeed`); with it `config.feed.mode` defaults to `websocket`. */
  readonly feed?: ExecutionFeed;
}

/** The handler's inputs. Only `signals$` is required. */
export interface HandlerInputs {
  readonly signals$: Observable<TradeSignal>;
  /** Close-position commands; they bypass HALT. */
  readonly commands$?: Observable<ClosePositionCommand>;
  /** HALT switch: while the latest value is true new entries are rejected. Before its first value: not halted. */
  readonly halted$?: Observable<boolean>;
}

export interface ExecutionHandler {
  /**
   * Every report of every order. Cold: subscribing starts a run (its own rate gate, breaker, monitor and
   * positions registry). A failure of one signal or order is a report, never the end of the stream. Completes
   * after `stop()`, once in-flight work has ended. Errors only if something the whole run depends on breaks: a
   * start-up reconciliation that cannot settle the journal with the exchange errors with its `ReconcileError` or
   * `JournalError` (nothing is placed then).
   */
  readonly reports$: Observable<ExecutionReport>;
  /** Subscribes `reports$` (for callers that are not RxJS). Throws if already started. */
  start(onReport: (report: ExecutionReport) => void, onError?: (error: unknown) => void): void;
  /**
   * Stops taking signals and commands (a signal taken while the start-up work was under way is placed once it is
   * done, as one in flight), lets placements in flight finish, cancels entry orders still working
   * and protects what they filled, ends every watch and poll, leaves protective orders resting on the
   * exchange; resolves when every run's `reports$` has completed. The handler stays stopped.
   */
  stop(): Promise<void>;
  /** Positions of the latest run: tracked net quantity and protective orders per pair (read-only copies). */
  positions(): readonly Position[];
}

const silent: Logger = { debug: () => undefined, info: () => undefined, warn: () => undefined, error: () => undefined };

/** Defaults of the rarely changed knobs, derived from the config where it says something close. */
export function defaultTuning(config: ExecutionConfig): StreamTuning {
  return {
    openOrdersLagMs: 2000,
    monitorReserveUnits: 2,
    protectionCancelTimeoutMs: Math.max(config.lookup.attempts * config.lookup.intervalMs, 4 * config.monitor.maxIntervalMs),
  };
}

/** How the REJECTED of a signal queued behind a start-up that failed begins (the failure follows). */
export const START_FAILED = 'start-up failed: nothing was sent for it';

/** How often a run with a journal records the rate counters (scheduler time); also once at its end. */
export const RATE_COUNTERS_EVERY_MS = 10_000;

const describeEntry = (intent: EntryIntent): string => `${intent.request.side} ${intent.request.volume.toFixed()} ${intent.rules.symbol}`;

/**
 * The execution handler: approved trade signals in, orders placed, watched, protected and closed on the
 * exchange, execution reports out (design.md §1).
 *
 * journal ─ seed budget ─ reconcile ─ restoreDuties ─┐ (with a journal given: before any new signal or command)
 * signals$ ─ (wait for start) ─ haltGate ─ translate ─ placeOrder ─┬─ REJECTED
 *                                              └─ followOrder (monitor, timeout cancel) ─ protectEntry
 * commands$ ─ (wait for start) ─ closePositions (cancel protection, confirm, market close)
 * reports$ = merge of all report streams
 *
 * Usage:
 * ```ts
 * const handler = createExecutionHandler(config, { port, budget, costs }).connect({ signals$, commands$, halted$ });
 * handler.reports$.subscribe(...)   // or handler.start(onReport); …; await handler.stop();
 * ```
 *
 * @param config The execution config (`config.json` shape).
 * @param deps Exchange port, rate budget and cost model, and optionally clock, ids, randomness, logger.
 * @returns `connect(inputs)`, which gives the handler.
 */
export function createExecutionHandler(config: ExecutionConfig, deps: HandlerDeps): { connect(inputs: HandlerInputs): ExecutionHandler } {
  const scheduler = deps.scheduler ?? asyncScheduler;
  const newId = deps.newId ?? (() => randomUUID());
  const random = deps.random ?? Math.random;
  const log = deps.log ?? silent;
  const tuning: StreamTuning = { ...defaultTuning(config), ...deps.tuning };

  return {
    connect(inputs: HandlerInputs): ExecutionHandler {
      const stopRequested = new BehaviorSubject<boolean>(false);
      const activeRuns = new BehaviorSubject<number>(0);
      let latestPositions: PositionBook | null = null;
      let started: Subscription | null = null;

      const reports$ = defer(() => {
        const exchange = createExchangeDeps({
          config,
          port: deps.port,
          budget: deps.budget,
          costs: deps.costs,
          scheduler,
          newId,
          random,
          log,
          tuning,
          ...(deps.feed ? { feed: deps.feed } : {}),
          ...(deps.journal ? { journal: deps.journal } : {}),
        });
        const positions = new PositionBook();
        latestPositions = positions;
        const streams: StreamDeps = {
          ...exchange,
          monitor: createOrderMonitor(exchange),
          positions,
          stopping$: stopRequested.pipe(filter(Boolean)),
        };
        // Loaded once per run and cached; a failed load is tried again by the next signal. Not shareReplay with
        // refCount: each signal takes one value and leaves, which would reset the cache before the call completes
        // and load the pairs again per signal. Nothing is kept alive: the source is one call that completes.
        const book$ = exchangeCall(exchange, 'monitor', () => ({ kind: 'pairs' }), () => deps.port.pairs(), 'idempotent').pipe(
          share({ connector: () => new ReplaySubject<PairBook>(1), resetOnError: true, resetOnComplete: false, resetOnRefCountZero: false }),
        );
        // New signals and commands wait (queued, in order) until the start-up work says they may go.
        const ready = new ReplaySubject<void>(1);
        // Closes a restart cut short, found at start: finished ahead of the new commands.
        const resumedCloses = new ReplaySubject<JournaledCloseCommand>();
        // A start-up that fails: the signals queued behind it are told so before the run errors.
        const startFailed = new ReplaySubject<unknown>(1);
        const restored = deps.journal !== undefined;
        if (!restored) ready.next();
        activeRuns.next(activeRuns.value + 1);
        return concat(
          merge(
            restored ? startUp(book$, streams, deps.budget, ready, resumedCloses).pipe(tap({ error: (error: unknown) => startFailed.next(error) })) : EMPTY,
            restored ? recordCountersEvery(streams, deps.budget) : EMPTY,
            entries(inputs, book$, streams, ready, startFailed),
            closes(inputs.commands$ ?? EMPTY, book$, streams, ready, restored ? resumedCloses : EMPTY),
          ),
          restored ? recordCounters(streams, deps.budget) : EMPTY,
        ).pipe(
          // Where every report stream meets: each order's reports end in exactly one final status (the machine's).
          oneFinalPerOrder(log),
          finalize(() => {
            exchange.breaker.dispose();
            streams.monitor.dispose();
            activeRuns.next(activeRuns.value - 1);
          }),
        );
      });

      return {
        reports$,
        start(onReport: (report: ExecutionReport) => void, onError?: (error: unknown) => void) {
          if (started) throw new Error('execution handler already started');
          started = reports$.subscribe({
            next: onReport,
            error: (error: unknown) => {
              log.error('execution handler stopped on an error:', error instanceof Error ? error.message : String(error));
              onError?.(error);
            },
          });
        },
        stop() {
          stopRequested.next(true);
          return firstValueFrom(activeRuns.pipe(filter((count) => count === 0), map(() => undefined)));
        },
        positions: () => latestPositions?.positions() ?? [],
      };
    },
  };
}

/**
 * Entries: placement, then the order followed to its final state (a limit entry cancelled at its timeout, any
 * working limit entry cancelled at stop, any working entry cancelled by a close of its pair), then protection
 * of what filled (not when a close cancelled it: the close takes what it filled). While followed, an entry is
 * listed as working in the positions registry, so that a close waits for its final state.
 */
function entries(
  inputs: HandlerInputs,
  book$: Observable<PairBook>,
  deps: StreamDeps,
  ready: Observable<void>,
  startFailed: Observable<unknown>,
): Observable<ExecutionReport> {
  // HALT waits for `ready`, so a signal that came while halted is still judged halted, and one after a release not.
  const halted$ = (inputs.halted$ ?? NEVER).pipe(delayWhen(() => ready));
  return queuedUntilReady(inputs.signals$, deps, ready, startFailed).pipe(
    // connect: one intake feeds both the placements and the refusals of what the start never let through.
    connect((released) =>
      merge(
        placeEntries(released.pipe(filter((item) => item.kind === 'go'), map((item) => item.signal)), halted$, book$, deps),
        released.pipe(
          filter((item): item is Extract<Released, { kind: 'refused' }> => item.kind === 'refused'),
          map((item) => rejectionReport(rejection(item.signal, item.field, item.reason), deps)),
        ),
      ),
    ),
  ).pipe(
    // andThen starts this at the entry's `done` step, so the registry sees it working from that moment on (no
    // defer: it would only cost an operator per working entry).
    andThen<PlacedEntry, OrderFinal>(({ intent, placed }) => {
      const isLimit = intent.request.orderType === 'limit';
      const pair = intent.rules.key;
      const txid = placed.order.txid;
      const { positions } = deps;
      const cancelOn: CancelTrigger[] = [
        // An unwatched working entry could fill unprotected after the process is gone.
        ...(isLimit ? [{ when$: deps.stopping$, reason: 'stop' as const }] : []),
        // A close of the pair: an entry left working could fill right after the close and re-open the position.
        { when$: positions.closeRequested$(pair, positions.closeEpoch(pair)), reason: 'close-position' },
      ];
      // With the stop-loss it asked for: a close that cancels it puts that stop on what it leaves unsold.
      const stop = intent.stopLoss ? { side: intent.request.side === 'buy' ? ('sell' as const) : ('buy' as const), stopPrice: intent.stopLoss } : null;
      positions.addWorkingEntry(txid, pair, placed.order.context.clientOrderId ?? txid, stop);
      const stopWorking = (): void => positions.removeWorkingEntry(txid);
      const follow = {
        cancelOn,
        ...(intent.timeoutMs !== null ? { timeoutMs: intent.timeoutMs } : {}),
        ...(placed.adopted ? { adopted: placed.adopted } : {}),
      };
      return followOrder(placed.order, deps, follow).pipe(
        finalize(stopWorking),
        // An entry cancelled by a close is not protected: the close sells what it filled.
        andThen<OrderFinal, OrderFinal>((final) => {
          // No longer working from its final state on: a close waits for that, not for the protection.
          stopWorking();
          return final.snapshot.volumeExecuted.gt(0) && final.cancelReason !== 'close-position' ? protectEntry(final, intent, deps) : EMPTY;
        }),
        catchError((error: unknown) => {
          deps.log.error(`${intent.signal.signalId}: following ${describeEntry(intent)} failed:`, String(error));
          return of<Step<OrderFinal>>(
            reportStep(deps.report(placed.order.context, 'ERROR', { exchangeOrderId: placed.order.txid, reason: `internal error while following the order: ${String(error)}` })),
          );
        }),
      );
    }),
    reportsOf(),
  );
}

/** A signal let through by the start-up work, or refused because the start failed. */
type Released =
  | { readonly kind: 'go'; readonly signal: TradeSignal }
  | { readonly kind: 'refused'; readonly signal: TradeSignal; readonly field: string; readonly reason: string };

/**
 * Signals held back, in order, until the start-up work lets new ones go (`ready`), so that every signal has its way
 * out: `go` at `ready` (at once once it has been; also for one taken before a `stop()` that came during the start:
 * it was taken, so it is placed as one in flight), `refused` when the start fails first (the run then errors, and
 * nothing was journaled or sent for it: a redelivery at the next start is new to it).
 *
 * signals:     -a-b------c--
 * ready:       ------r------
 * result:      ------(AB)C--     A, B, C: go
 *
 * signals:     -a-b---------
 * startFailed: ------e
 * result:      ------(AB)        A, B: refused, `start-up failed: …`
 *
 * takeUntil on the input, not last, on purpose: stop() ends the intake, never what is already held or released.
 * Completes when the intake has completed and every held signal has its way out.
 */
function queuedUntilReady(signals$: Observable<TradeSignal>, deps: StreamDeps, ready: Observable<void>, startFailed: Observable<unknown>): Observable<Released> {
  const [failedField = 'start-up failed', ...failedWhy] = START_FAILED.split(': ');
  return signals$.pipe(
    takeUntil(deps.stopping$),
    // mergeMap: each signal waits on its own; `ready` releases them all at once, in the order they came.
    mergeMap((signal) =>
      // race in this order: once `ready` has been (it replays), a signal goes.
      race(
        ready.pipe(map((): Released => ({ kind: 'go', signal }))),
        startFailed.pipe(
          map((error): Released => ({
            kind: 'refused',
            signal,
            field: failedField,
            reason: `${failedWhy.join(': ')}: ${error instanceof Error ? error.message : String(error)}`,
          })),
        ),
      ).pipe(take(1)),
    ),
  );
}

/** Close-position commands; the intake ends at stop(), closes under way go on. */
function closes(
  commands$: Observable<ClosePositionCommand>,
  book$: Observable<PairBook>,
  deps: StreamDeps,
  ready: Observable<void>,
  resumed$: Observable<JournaledCloseCommand>,
): Observable<ExecutionReport> {
  return closePositions(
    commands$.pipe(
      takeUntil(deps.stopping$),
      delayWhen(() => ready),
    ),
    book$,
    deps,
    // Completes at `ready` (all are known by then), so the closes' stream can complete with the commands'.
    resumed$.pipe(takeUntil(ready)),
  ).pipe(reportsOf());
}

/**
 * The start of a run with a journal: the rate budget seeded from the journaled counters (full ones when none
 * are), the journal reconciled with the exchange (its reports), then the plan's duties taken up; `ready` once the
 * stops for fills left unprotected have their answer. Errors with the reconciliation's error.
 *
 * journal:   c                          c: last rate counters
 * result:    ──r──r────PN─(ready)──F…   r: what changed while down; then the restored orders' reports
 */
function startUp(
  book$: Observable<PairBook>,
  deps: StreamDeps,
  budget: RateBudget,
  ready: ReplaySubject<void>,
  resumedCloses: ReplaySubject<JournaledCloseCommand>,
): Observable<ExecutionReport> {
  return deps.journal.lastRateCounters().pipe(
    tap((counters) => budget.seed?.(counters, deps.scheduler.now())),
    concatMap(() => book$),
    concatMap((pairs) =>
      reconcile(deps.journal, deps, { pairs }).pipe(
        andThen((plan) => deps.journal.orders().pipe(concatMap((orders) => restoreDuties(plan, orders, pairs, deps)))),
      ),
    ),
    // The position book holds the restored positions now: the closes cut short are those of pairs still held.
    concatMap((step) => (step.kind === 'done' ? findResumableCloses(deps, resumedCloses).pipe(map(() => step)) : of(step))),
    tap((step) => {
      if (step.kind === 'done') ready.next();
    }),
    reportsOf(),
  );
}

/** Hands on the journaled closes a restart cut short (`resumableCloses`), each said in the log. */
function findResumableCloses(deps: StreamDeps, resumed: ReplaySubject<JournaledCloseCommand>): Observable<void> {
  return forkJoin([deps.journal.closeCommands(), deps.journal.orders()]).pipe(
    map(([commands, orders]) => {
      for (const command of resumableCloses(commands, orders, (pair) => deps.positions.net(pair))) {
        deps.log.warn(`${command.commandId}: a close of ${command.pair} journaled before the restart had sold nothing; closing now`);
        resumed.next(command);
      }
    }),
  );
}

/** Journals the budget's counters now; a failed write is logged (the next start then assumes fuller counters). */
function recordCounters(deps: StreamDeps, budget: RateBudget): Observable<never> {
  return defer(() => (budget.counters ? deps.journal.recordRateCounters(budget.counters(deps.scheduler.now())) : EMPTY)).pipe(
    ignoreElements(),
    catchError((error: unknown) => {
      deps.log.warn('could not journal the rate counters:', error instanceof Error ? error.message : String(error));
      return EMPTY;
    }),
  );
}

/** `recordCounters` every `RATE_COUNTERS_EVERY_MS` of scheduler time until `stop()`. */
function recordCountersEvery(deps: StreamDeps, budget: RateBudget): Observable<never> {
  if (!budget.counters) return EMPTY;
  return interval(RATE_COUNTERS_EVERY_MS, deps.scheduler).pipe(
    takeUntil(deps.stopping$),
    concatMap(() => recordCounters(deps, budget)),
  );
}
