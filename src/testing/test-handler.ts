import { Observable, ReplaySubject, Subject, merge, share } from 'rxjs';
import { clientRateBudget, krakenCostModel } from '../kraken/budget';
import { type ExecutionConfig } from '../model/config';
import { type Journal } from '../model/journal';
import { type ExecutionReport } from '../model/report';
import { type ClosePositionCommand, type TradeSignal } from '../model/signal';
import { type PaperInspector } from '../paper/inspect';
import { type Logger, type StreamTuning } from '../streams/deps';
import { type ExecutionHandler, createExecutionHandler } from '../streams/execution-handler';
import { type ConfigOverrides, testConfig } from './config';
import { seededRandom, seededUuids } from './seeded';
import { type VirtualExchange, type VirtualExchangeOptions, createVirtualExchange } from './virtual-exchange';

export interface TestHandlerOptions extends VirtualExchangeOptions {
  /** Config sections to change over `testConfig()`'s short-interval defaults. */
  readonly config?: ConfigOverrides;
  /** Signals for the handler (e.g. a marble); merged with the returned `signals` Subject. */
  readonly signals$?: Observable<TradeSignal>;
  /** Close-position commands; merged with the returned `commands` Subject. */
  readonly commands$?: Observable<ClosePositionCommand>;
  /** HALT switch; merged with the returned `halted` Subject (the latest value of either counts). */
  readonly halted$?: Observable<boolean>;
  readonly tuning?: Partial<StreamTuning>;
  /**
   * The handler's journal, e.g. `openMemoryJournal({ account, store })` on a store shared by two handlers to play a
   * restart. Default: the handler's (a fresh in-memory journal per run). Two handlers on one store need different
   * `seed`s, or their seeded client order ids collide.
   */
  readonly journal?: Journal;
  /**
   * The exchange to run against, e.g. the `exchange` of an earlier kit, to play a restart (a second handler run on
   * the same journal store against the same account). Default: a fresh one from these options.
   */
  readonly exchange?: VirtualExchange;
  /** Default: silent. */
  readonly log?: Logger;
  /**
   * A run still going after this many virtual ms fails with an error that says so. A run nobody ends (no `stopAt`,
   * no unsubscription marble) polls forever, and a scheduler's flush would never return. Default 600 000.
   */
  readonly runLimitMs?: number;
}

export interface TestHandler {
  readonly handler: ExecutionHandler;
  /**
   * The handler's reports, shared: every subscriber (each `statusLetters`, each `expectObservable`) sees every
   * report of one run against the one exchange. The run starts with the first subscriber and ends when the
   * last one leaves (an unsubscription marble such as `'^ 30s !'` ends it in a marble test).
   */
  readonly reports$: Observable<ExecutionReport>;
  readonly exchange: VirtualExchange;
  readonly inspect: PaperInspector;
  readonly config: ExecutionConfig;
  /** Imperative inputs, for a test that pushes from `scheduler.schedule(...)` or a strategy. */
  readonly signals: Subject<TradeSignal>;
  readonly commands: Subject<ClosePositionCommand>;
  readonly halted: Subject<boolean>;
  /**
   * Calls `handler.stop()` at an absolute frame: the intake ends, working entries are cancelled (and what they
   * filled protected), watches and polls end, and `reports$` completes once that work is done, so a marble
   * expectation without an unsubscription marble (jest-marbles' `toBeMarble`) has an end.
   */
  stopAt(frame: number): void;
}

/**
 * The execution handler wired to a virtual-time Kraken, with every knob defaulted, for marble tests of a strategy.
 *
 * Intuition: one call gives what production builds — `createExecutionHandler(config, { port, budget, costs })`
 * with the Kraken port, the client's rate-budget model of the tier and Kraken's cost table — except that the
 * exchange is the paper engine on the test's scheduler, and ids and jitter are seeded, so a run repeats exactly.
 *
 * signals$:  -s--------------
 *   createTestHandler({ scheduler, signals$ }).reports$
 * letters:   -P-N--F-----       (the entry; statusLetters(reports$, { signalId: 's1', role: 'entry' }))
 *
 * @param options the scheduler, and optionally the exchange (pairs, prices, balances, tier, seed, faults,
 *   latency), the config overrides and the inputs
 */
export function createTestHandler(options: TestHandlerOptions): TestHandler {
  const seed = options.seed ?? 42;
  const config = testConfig({ ...options.config, exchange: { tier: options.tier ?? 'starter', ...options.config?.exchange } });
  const exchange = options.exchange ?? createVirtualExchange({ requestTimeoutMs: config.exchange.requestTimeoutMs, ...options });
  const signals = new Subject<TradeSignal>();
  const commands = new Subject<ClosePositionCommand>();
  const halted = new Subject<boolean>();
  const handler = createExecutionHandler(config, {
    port: exchange.port,
    // The model every client of a real key should use: Kraken's limiters with a unit of headroom.
    budget: clientRateBudget(exchange.tier),
    costs: krakenCostModel,
    // The exchange's dates (from originMs), so reports, deadlines and the breaker's until read as the exchange's.
    scheduler: exchange.clock,
    random: seededRandom(seed),
    newId: seededUuids(seededRandom(seed + 1)),
    ...(options.log !== undefined ? { log: options.log } : {}),
    ...(options.tuning !== undefined ? { tuning: options.tuning } : {}),
    ...(options.journal !== undefined ? { journal: options.journal } : {}),
  }).connect({
    signals$: options.signals$ ? merge(options.signals$, signals) : signals,
    commands$: options.commands$ ? merge(options.commands$, commands) : commands,
    halted$: options.halted$ ? merge(options.halted$, halted) : halted,
  });
  const runLimitMs = options.runLimitMs ?? 600_000;
  // The run, failed at the limit: whichever comes first ends the other.
  const bounded$ = new Observable<ExecutionReport>((subscriber) => {
    const limit = options.scheduler.schedule(() => {
      subscriber.error(new Error(`test handler: the run is still going after ${runLimitMs} virtual ms; end it with stopAt(frame) or an unsubscription marble`));
    }, runLimitMs);
    const run = handler.reports$.subscribe(subscriber);
    return () => {
      limit.unsubscribe();
      run.unsubscribe();
    };
  });
  // Replayed to every subscriber of the run, so letters of two roles taken at frame 0 both see frame 0's reports.
  const reports$ = bounded$.pipe(
    share({ connector: () => new ReplaySubject<ExecutionReport>(), resetOnError: true, resetOnComplete: true, resetOnRefCountZero: true }),
  );
  const stopAt = (frame: number): void => {
    options.scheduler.schedule(() => void handler.stop(), Math.max(0, frame - options.scheduler.now()));
  };
  return { handler, reports$, exchange, inspect: exchange.inspect, config, signals, commands, halted, stopAt };
}
