import crossFetch from 'cross-fetch';
import { createHash } from 'node:crypto';
import { BehaviorSubject, ReplaySubject, Subject, type Subscription } from 'rxjs';
import { clientRateBudget, krakenCostModel } from '../kraken/budget';
import { Credentials } from '../kraken/credentials';
import { type KrakenExchange, createKrakenExchange } from '../kraken/exchange';
import { NonceSource } from '../kraken/nonce';
import { PrivateLane } from '../kraken/private-lane';
import { type FetchLike, type FetchResponseLike } from '../kraken/transport';
import { type ExecutionConfig } from '../model/config';
import { type ExecutionReport, type OrderRole, isFinalStatus } from '../model/report';
import { type ClosePositionCommand, type TradeSignal } from '../model/signal';
import { type PaperExchange, type PaperOptions, startPaperExchange } from '../paper';
import { type Logger, type StreamTuning } from '../streams/deps';
import { type ExecutionHandler, createExecutionHandler } from '../streams/execution-handler';
import { IdleClock } from '../time/idle-clock';
import { type ConfigOverrides, testConfig } from './config';
import { seededRandom, seededUuids } from './seeded';

/** How long `waitFor` / `until` let clock time run before they give up (the run is stuck, or the wait is wrong). */
export const DEFAULT_LIMIT_MS = 600_000;

const quiet: Logger = { debug: () => undefined, info: () => undefined, warn: () => undefined, error: () => undefined };

/** One HTTP exchange as the client saw it. */
export interface WireRecord {
  /** Kraken method name, e.g. `AddOrder`. */
  readonly method: string;
  /** HTTP status, or 0 when the request failed below HTTP (reset, timeout, abort). */
  readonly status: number;
  /** The response body, or the failure's name. */
  readonly body: string;
  /** Clock ms when the request was handed to fetch and when its answer (or failure) came. */
  readonly sentAt: number;
  readonly answeredAt: number;
}

export interface TestRunOptions {
  /** Paper exchange options; the clock and its timers are always the run's idle clock. */
  readonly paper?: Omit<PaperOptions, 'clock' | 'timers'>;
  readonly config?: ConfigOverrides;
  /** The client's HTTP request timeout; default the config's `exchange.requestTimeoutMs`. */
  readonly requestTimeoutMs?: number;
  readonly tuning?: Partial<StreamTuning>;
  readonly seed?: number;
  /** The secret the client signs with, when it must differ from the paper exchange's (bad credentials). */
  readonly clientSecret?: string;
  /** The handler's logger. Default: silent. */
  readonly log?: Logger;
}

/**
 * A paper exchange on 127.0.0.1 and the execution handler talking to it over real HTTP (KrakenExchange →
 * cross-fetch), both on one `IdleClock`: real sockets, virtual waiting. Every request goes through the clock,
 * which stands still while one is being served and jumps to the next timer once the loopback is idle, so
 * Kraken's times (rate decay, deadlines, timeouts, polling, cool-downs) are exact and a scenario's timing is a
 * property of the code, not of the machine's load. Every `ms` is clock (exchange) time.
 *
 * ```ts
 * const run = await startTestRun({ config: { breaker: { cooldownMs: 20_000 } } });
 * run.signals.next(signal);
 * await run.waitFor('the entry rests', (r) => r.signalId === signal.signalId && r.status === 'NEW');
 * run.paper.setPrice('XBTUSD', '59000');
 * await run.pass(5_000);
 * await run.close();
 * ```
 *
 * `close()` tears both down (`closeAllTestRuns()` in an `afterEach` closes every run a test left open).
 */
export class TestRun {
  readonly signals = new Subject<TradeSignal>();
  readonly commands = new Subject<ClosePositionCommand>();
  readonly halted = new BehaviorSubject<boolean>(false);
  readonly reports: ExecutionReport[] = [];
  readonly wire: WireRecord[] = [];
  /** Everything that went wrong outside the reports (the handler erroring, a request leaving 127.0.0.1). */
  readonly problems: string[] = [];
  readonly handler: ExecutionHandler;
  /** The handler's exchange port (Kraken over HTTP to this paper exchange), for calls a test makes itself. */
  readonly port: KrakenExchange;
  readonly config: ExecutionConfig;
  private readonly reports$ = new ReplaySubject<ExecutionReport>();
  private subscription: Subscription | null = null;
  private closed = false;
  /** `reports$` completed (after `handler.stop()`). */
  completed = false;

  private constructor(
    readonly paper: PaperExchange,
    readonly clock: IdleClock,
    options: TestRunOptions,
  ) {
    this.config = testConfig(options.config);
    const port = (this.port = createKrakenExchange({
      url: paper.url,
      credentials: new Credentials(paper.apiKey, options.clientSecret ?? paper.apiSecret),
      timeoutMs: options.requestTimeoutMs ?? this.config.exchange.requestTimeoutMs,
      // Its own queue and nonce source (on the run's clock): no sharing with another test's run on the same key.
      lane: new PrivateLane(new NonceSource(() => clock.now())),
      fetch: this.recordingFetch(paper.url),
      // The transport checks an AddOrder's deadline when it leaves the queue, on the clock the exchange runs on.
      clock: () => clock.now(),
      timers: clock.timers,
    }));
    const random = seededRandom(options.seed ?? 7);
    this.handler = createExecutionHandler(this.config, {
      port,
      // The client's model keeps headroom below Kraken's caps, as every client of a real exchange should.
      budget: clientRateBudget(paper.tier),
      costs: krakenCostModel,
      scheduler: clock,
      random,
      newId: seededUuids(seededRandom((options.seed ?? 7) + 1)),
      log: options.log ?? quiet,
      ...(options.tuning ? { tuning: options.tuning } : {}),
    }).connect({ signals$: this.signals, commands$: this.commands, halted$: this.halted });
  }

  static async start(options: TestRunOptions = {}): Promise<TestRun> {
    const clock = new IdleClock();
    const paper = await startPaperExchange({
      seed: options.seed ?? 7,
      tier: 'starter',
      // A held answer outlasts the client's request timeout: the client gives up first, as with Kraken.
      faults: { timeoutHoldMs: 120_000 },
      ...options.paper,
      clock: () => clock.now(),
      timers: clock.waitTimers,
    });
    let run: TestRun;
    try {
      run = new TestRun(paper, clock, options);
    } catch (error) {
      // e.g. malformed client credentials: the exchange must not outlive the test.
      await paper.close();
      throw error;
    }
    runs.add(run);
    run.subscription = run.handler.reports$.subscribe({
      next: (report) => {
        run.reports.push(report);
        run.reports$.next(report);
      },
      error: (error: unknown) => run.problems.push(`reports$ errored: ${String(error)}`),
      complete: () => {
        run.completed = true;
        run.reports$.complete();
      },
    });
    return run;
  }

  /**
   * Every request must go to this paper exchange, and goes through the clock (which stands still while it is
   * served); the response body is kept for assertions.
   */
  private recordingFetch(base: string): FetchLike {
    return (url, init) => {
      const method = /\/0\/(?:public|private)\/([A-Za-z]+)/.exec(url)?.[1] ?? url;
      if (!url.startsWith(`${base}/`)) {
        this.problems.push(`request outside the paper exchange: ${url}`);
        return Promise.reject(new Error('test run: only the paper exchange on 127.0.0.1 may be called'));
      }
      return this.clock.io(async () => {
        const sentAt = this.clock.now();
        try {
          const response = await crossFetch(url, init);
          const body = await response.text();
          this.wire.push({ method, status: response.status, body, sentAt, answeredAt: this.clock.now() });
          const copy: FetchResponseLike = { status: response.status, headers: response.headers, text: () => Promise.resolve(body) };
          return copy;
        } catch (error) {
          this.wire.push({ method, status: 0, body: error instanceof Error ? error.name : 'failure', sentAt, answeredAt: this.clock.now() });
          throw error;
        }
      }, init.signal);
    };
  }

  /**
   * Lets clock time run until a report (already seen or to come) matches, and resolves with it; rejects when
   * `limitMs` of clock time pass first, or nothing is left that could make one.
   */
  async waitFor(what: string, predicate: (report: ExecutionReport) => boolean, limitMs = DEFAULT_LIMIT_MS): Promise<ExecutionReport> {
    let found: ExecutionReport | undefined;
    const subscription = this.reports$.subscribe((report) => {
      if (found === undefined && predicate(report)) found = report;
    });
    try {
      await this.until(what, () => found !== undefined, limitMs);
    } finally {
      subscription.unsubscribe();
    }
    return found as ExecutionReport;
  }

  /** Lets clock time run until `condition` holds; rejects when `limitMs` of clock time pass first. */
  async until(what: string, condition: () => boolean, limitMs = DEFAULT_LIMIT_MS): Promise<void> {
    const from = this.clock.now();
    if (await this.clock.runUntil(condition, limitMs)) return;
    throw new Error(`test run: gave up after ${this.clock.now() - from} clock ms (limit ${limitMs}) waiting for ${what}\n${this.timeline()}`);
  }

  /** Lets exactly `ms` of clock time pass. */
  pass(ms: number): Promise<void> {
    return this.clock.advance(ms);
  }

  /** `handler.stop()`, with clock time running until it has finished (cancels and their answers need it). */
  async stop(limitMs = DEFAULT_LIMIT_MS): Promise<void> {
    try {
      await this.clock.drive(this.handler.stop(), limitMs);
    } catch (error) {
      if (!(error instanceof RangeError)) throw error;
      throw new Error(`e2e: handler.stop() to finish: ${error.message}\n${this.timeline()}`);
    }
  }

  /**
   * A digest of the wire trace: every request's method, clock times, status and answer, in order. Two runs with
   * the same seeds and inputs must give the same one.
   */
  traceHash(): string {
    const hash = createHash('sha256');
    for (const w of this.wire) hash.update(`${w.method}|${w.sentAt}|${w.answeredAt}|${w.status}|${w.body}\n`);
    return hash.digest('hex');
  }

  of(signalId: string, role?: OrderRole): ExecutionReport[] {
    return this.reports.filter((r) => r.signalId === signalId && (role === undefined || r.role === role));
  }

  finals(signalId: string, role?: OrderRole): ExecutionReport[] {
    return this.of(signalId, role).filter((r) => isFinalStatus(r.status));
  }

  statuses(signalId: string, role?: OrderRole): string[] {
    return this.of(signalId, role).map((r) => r.status);
  }

  /** Responses the client received for a method. */
  answers(method: string): WireRecord[] {
    return this.wire.filter((w) => w.method === method);
  }

  /** The reports so far, one line each, for failure messages. */
  timeline(): string {
    return this.reports
      .map(
        (r) =>
          `  ${r.timestamp} ${r.signalId} ${r.role} ${r.side} ${r.orderType} ${r.status} filled=${r.quantityFilled.toFixed()}` +
          `${r.exchangeOrderId ? ` ${r.exchangeOrderId}` : ''}${r.reason ? ` (${r.reason})` : ''}`,
      )
      .join('\n');
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    runs.delete(this);
    this.subscription?.unsubscribe();
    this.signals.complete();
    this.commands.complete();
    this.halted.complete();
    await this.paper.close();
  }
}

const runs = new Set<TestRun>();

/**
 * For `afterEach`: closes every run a test started, even when it failed half-way, then fails the test if a run
 * saw something no report shows (the handler's `reports$` erroring, a request leaving the paper exchange).
 */
export async function closeAllTestRuns(): Promise<void> {
  const closing = [...runs];
  await Promise.all(closing.map((run) => run.close()));
  const problems = closing.flatMap((run) => run.problems);
  if (problems.length > 0) throw new Error(`test run problems:\n${problems.join('\n')}`);
}

/** `TestRun.start`: a paper exchange on 127.0.0.1 and the handler over HTTP on one idle clock. */
export const startTestRun = (options: TestRunOptions = {}): Promise<TestRun> => TestRun.start(options);
