import {
  type Observable,
  type SchedulerLike,
  type Subscription,
  asyncScheduler,
  concat,
  ignoreElements,
  concatMap,
  firstValueFrom,
  from,
  interval,
  map,
  of,
  share,
  skipUntil,
  tap,
} from 'rxjs';
import { type CostModel, type RateBudget } from '../model/budget';
import { type ExecutionConfig } from '../model/config';
import { type ExecutionFeed } from '../model/feed';
import { type Journal } from '../model/journal';
import { type ExchangePort } from '../model/port';
import { type ExecutionReport } from '../model/report';
import { type Logger } from '../streams/deps';
import { createExecutionHandler } from '../streams/execution-handler';
import { type RunSummary } from './format';
import { type InputStreams, type MalformedLine } from './input';
import { RunTracker, runSettled } from './settle';

export interface SessionOptions {
  readonly config: ExecutionConfig;
  readonly port: ExchangePort;
  readonly budget: RateBudget;
  readonly costs: CostModel;
  readonly log: Logger;
  /** Where the handler journals its orders; without it, the handler's default (in memory). */
  readonly journal?: Journal;
  /** The exchange's push feed (`HandlerDeps.feed`); without it, REST polling only. */
  readonly feed?: ExecutionFeed;
  /** The handler's clock (the demo passes a scaled one). */
  readonly scheduler?: SchedulerLike;
  readonly input: InputStreams;
  /** Called with each report as it arrives (printing). */
  readonly onReport: (report: ExecutionReport) => void;
  /**
   * Called with each input line that was skipped (or, meaning to halt, turned HALT on), whatever the log level;
   * without it, a warning is logged.
   */
  readonly onSkippedLine?: (skipped: MalformedLine) => void;
  /**
   * The user's stop requests (SIGINT / SIGTERM) by name: the first stops gracefully, a second gives up waiting
   * for the graceful stop.
   */
  readonly stopRequests$: Observable<string>;
  /** Real ms between "still waiting for …" lines once the input has ended. */
  readonly waitingLogEveryMs?: number;
  /** The handler to run; tests pass a fake. */
  readonly createHandler?: typeof createExecutionHandler;
}

export interface SessionResult {
  readonly summary: RunSummary;
  /** 0: ended normally or stopped gracefully; 1: the handler failed; 130: a second stop request cut the stop short. */
  readonly exitCode: number;
  /** `settled`: the input ended and everything settled; `stop`: a stop request; `failed` / `completed`: the handler's stream ended. */
  readonly endedBy: Ending['kind'];
  /**
   * After a second stop request cut the stop short: the latest report of every order that was still in motion
   * (not final, and not protection resting as designed) — it may still be live on the exchange. Else empty.
   */
  readonly mayBeLive: readonly ExecutionReport[];
}

type Ending = { readonly kind: 'settled' } | { readonly kind: 'stop'; readonly signal: string } | { readonly kind: 'failed'; readonly error: unknown } | { readonly kind: 'completed' };

/**
 * One run of the handler over one input, as `kraken-rx run` and the demo share it: reports printed as they
 * come, and the run ended either when the input is over and everything has settled (`RunTracker`), or on a
 * stop request — in both cases through the handler's graceful `stop()`, which leaves protective orders
 * resting on the exchange.
 */
export async function runSession(options: SessionOptions): Promise<SessionResult> {
  const { config, log, input } = options;
  // Loaded alongside the start, not before it: subscriptions are made synchronously so no input line is missed.
  const displayPair$ = from(pairNames(options.port, log));
  const scheduler = options.scheduler ?? asyncScheduler;
  const tracker = new RunTracker(config.protection.mode);
  let lastHalted = false;
  const handler = (options.createHandler ?? createExecutionHandler)(config, {
    port: options.port,
    budget: options.budget,
    costs: options.costs,
    scheduler,
    log,
    ...(options.journal ? { journal: options.journal } : {}),
    ...(options.feed ? { feed: options.feed } : {}),
  }).connect({
    signals$: input.signals$.pipe(tap((signal) => tracker.expectSignal(signal))),
    commands$: input.commands$.pipe(tap((command) => tracker.expectCommand(command))),
    halted$: input.halted$.pipe(
      tap((halted) => {
        // Only changes are news (the handler may subscribe more than once; each subscription starts un-halted).
        if (halted !== lastHalted) log.info(halted ? 'HALT on: new entries are rejected' : 'HALT off');
        lastHalted = halted;
      }),
    ),
  });

  const reports$ = handler.reports$.pipe(
    // concatMap keeps the reports' order while the first ones wait for the pair list.
    concatMap((report) => displayPair$.pipe(map((displayPair) => ({ ...report, pair: displayPair(report.pair) })))),
    tap((report) => {
      tracker.add(report);
      options.onReport(report);
    }),
    // One run: a late subscriber (the end-of-input check) joins it and, once it has completed, sees only the
    // completion; it must never start a second run of the handler.
    share({ resetOnComplete: false, resetOnError: false }),
  );
  // Completes (or errors) with the input; malformed$ is the one stream that sees every line's fate.
  const inputEnded$: Observable<true> = concat(input.malformed$.pipe(ignoreElements()), of(true as const)).pipe(share());

  const subscriptions: Subscription[] = [];
  let resolveEnding: (ending: Ending) => void = () => undefined;
  const ending = new Promise<Ending>((resolve) => {
    resolveEnding = resolve;
  });
  subscriptions.push(
    reports$.subscribe({
      error: (error: unknown) => resolveEnding({ kind: 'failed', error }),
      complete: () => resolveEnding({ kind: 'completed' }),
    }),
    input.malformed$.subscribe({
      next: (skipped) => {
        tracker.ledger.skipLine();
        if (options.onSkippedLine) options.onSkippedLine(skipped);
        else log.warn(`input line ${skipped.line} skipped: ${skipped.reason}`);
      },
      error: (error: unknown) => log.error(`reading the input failed: ${error instanceof Error ? error.message : String(error)}`),
    }),
    inputEnded$.subscribe({ next: () => log.info('end of input: waiting for every order to reach a final state'), error: () => undefined }),
    runSettled(reports$, inputEnded$, () => tracker.isSettled(), config.monitor.minIntervalMs, scheduler).subscribe(() =>
      resolveEnding({ kind: 'settled' }),
    ),
    // Long waits say what they wait for (real time: this is for the person watching).
    interval(options.waitingLogEveryMs ?? 10_000)
      .pipe(skipUntil(inputEnded$))
      .subscribe(() => {
        const waiting = tracker.waitingFor();
        if (waiting.length > 0) log.info(`still waiting for: ${waiting.join('; ')}`);
      }),
  );
  let stopRequests = 0;
  let resolveForced: () => void = () => undefined;
  const forced = new Promise<'forced'>((resolve) => {
    resolveForced = () => resolve('forced');
  });
  subscriptions.push(
    options.stopRequests$.subscribe((signal) => {
      stopRequests += 1;
      if (stopRequests === 1) resolveEnding({ kind: 'stop', signal });
      else resolveForced();
    }),
  );
  const connection = input.connect();
  subscriptions.push(connection);

  const ended = await ending;
  let exitCode = 0;
  switch (ended.kind) {
    case 'stop':
      log.info(`${ended.signal}: stopping gracefully — in-flight placements finish, working entries are cancelled, protective orders stay resting (again to quit at once)`);
      break;
    case 'settled':
      log.info('every order is final or protected; stopping');
      break;
    case 'failed':
      log.error(`the handler failed: ${ended.error instanceof Error ? ended.error.message : String(ended.error)}`);
      exitCode = 1;
      break;
    case 'completed':
      break;
  }
  connection.unsubscribe();
  let mayBeLive: readonly ExecutionReport[] = [];
  if (ended.kind !== 'failed' && ended.kind !== 'completed') {
    const outcome = await Promise.race([handler.stop().then(() => 'stopped' as const), forced]);
    if (outcome === 'forced') {
      // Taken before the subscriptions go: what the ledger last heard of each order is all that can be said.
      mayBeLive = tracker.ledger.inMotion();
      log.warn('second stop request: not waiting for in-flight work any longer');
      exitCode = 130;
    }
  }
  for (const subscription of subscriptions) subscription.unsubscribe();
  const summary = tracker.ledger.summary();
  // What is held is the handler's position book, not this run's reports alone: after a restart the book starts
  // from the journal's fills (a close selling what an earlier run bought is flat, not short).
  const displayPair = await firstValueFrom(displayPair$);
  const held = new Map(
    handler
      .positions()
      .filter((position) => !position.quantity.isZero())
      .map((position) => [displayPair(position.pair), position.side === 'sell' ? position.quantity.neg() : position.quantity] as const),
  );
  return { summary: { ...summary, positions: held }, exitCode, endedBy: ended.kind, mayBeLive };
}

/**
 * Reports name a pair as the handler had it at that moment (the signal's `BTC/USD` for an early rejection, the
 * exchange key `XXBTZUSD` once placed); the CLI shows one name per pair, the display form, so the timeline reads
 * evenly and the summary adds a pair up in one place. Without the pair list (it failed to load) names stay as given.
 */
async function pairNames(port: ExchangePort, log: Logger): Promise<(pair: string) => string> {
  try {
    const book = await firstValueFrom(port.pairs());
    return (pair) => book.find(pair)?.symbol ?? pair;
  } catch (e) {
    log.warn(`could not load the pair list for display names: ${e instanceof Error ? e.message : String(e)}`);
    return (pair) => pair;
  }
}
