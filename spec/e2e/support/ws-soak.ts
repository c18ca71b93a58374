import crossFetch from 'cross-fetch';
import { type Subscription, Subject, defer, lastValueFrom, map, tap } from 'rxjs';
import { clientRateBudget, krakenCostModel } from '../../../src/kraken/budget';
import { createKrakenClient } from '../../../src/kraken/client';
import { Credentials } from '../../../src/kraken/credentials';
import { KrakenExchange } from '../../../src/kraken/exchange';
import { NonceSource } from '../../../src/kraken/nonce';
import { PrivateLane } from '../../../src/kraken/private-lane';
import { type FetchLike } from '../../../src/kraken/transport';
import { KrakenWsFeed } from '../../../src/kraken/ws-feed';
import { withWsOrders } from '../../../src/kraken/ws-orders';
import { type ExecutionConfig } from '../../../src/model/config';
import { type ExecutionEvent } from '../../../src/model/feed';
import { type ExecutionReport, type OrderRole, isFinalStatus } from '../../../src/model/report';
import { type TradeSignal } from '../../../src/model/signal';
import { type PaperExchange, type PaperOptions, startPaperExchange } from '../../../src/paper';
import { type Logger } from '../../../src/streams/deps';
import { type ExecutionHandler, createExecutionHandler } from '../../../src/streams/execution-handler';
import { testConfig } from '../../../src/testing/config';
import { seededRandom, seededUuids } from '../../../src/testing/seeded';
import { IdleClock } from '../../../src/time/idle-clock';

/** What the socket can be made to suffer (the paper exchange's `wsFaults`), one per draw. */
export type SocketFault = 'drop' | 'stall' | 'skip-sequence' | 'delay' | 'refuse-token';

export const SOCKET_FAULTS: readonly SocketFault[] = ['drop', 'stall', 'skip-sequence', 'delay', 'refuse-token'];

/** A socket fault applied, in clock ms. */
export interface AppliedSocketFault {
  readonly at: number;
  readonly fault: SocketFault;
}

export interface WsSoakOptions {
  readonly seed: number;
  /** The paper exchange's own options (balances, prices, REST faults); clock and timers are the run's. */
  readonly paper: Omit<PaperOptions, 'clock' | 'timers' | 'wsTimers' | 'links'>;
  /** Clock ms between two draws of a socket fault. */
  readonly faultEveryMs: number;
  /** How long a `delay` fault holds every frame (exchange ms), until the next draw. */
  readonly delayMs: number;
  /** The handler's log (default: silent). */
  readonly log?: Logger;
}

/**
 * The handler as the CLI runs it by default (the WebSocket feed, placements and cancels over the socket while it
 * is up, REST for reads and as the safety net) against the paper exchange over loopback HTTP and WebSocket, all on
 * one `IdleClock`, with the socket's faults drawn from a seed at a steady pace while `until` runs the clock.
 */
export class WsSoakRun {
  readonly reports: ExecutionReport[] = [];
  readonly socketFaults: AppliedSocketFault[] = [];
  readonly problems: string[] = [];
  completed = false;
  private subscription: Subscription | null = null;
  private readonly draw: () => number;

  private constructor(
    readonly clock: IdleClock,
    readonly paper: PaperExchange,
    readonly handler: ExecutionHandler,
    readonly config: ExecutionConfig,
    readonly signals: Subject<TradeSignal>,
    /** What the feed told the handler. */
    readonly feedEvents: readonly ExecutionEvent[],
    /** `add_order`s the handler sent over the socket (placements routed to it while it was up). */
    readonly counts: { readonly socketPlacements: number },
    private readonly options: WsSoakOptions,
  ) {
    this.draw = seededRandom(options.seed + 3);
    this.subscription = handler.reports$.subscribe({
      next: (report) => this.reports.push(report),
      error: (error: unknown) => this.problems.push(`reports$ errored: ${String(error)}`),
      complete: () => (this.completed = true),
    });
  }

  static async start(options: WsSoakOptions): Promise<WsSoakRun> {
    const clock = new IdleClock();
    const paper = await startPaperExchange({
      seed: options.seed,
      tier: 'starter',
      ...options.paper,
      clock: () => clock.now(),
      timers: clock.waitTimers,
      wsTimers: clock.timers,
      links: clock.links,
    });
    try {
      const fetch: FetchLike = (url, init) => {
        if (!url.startsWith(`${paper.url}/`)) return Promise.reject(new Error('only the paper exchange on 127.0.0.1'));
        return clock.io(async () => {
          const response = await crossFetch(url, init);
          const body = await response.text();
          return { status: response.status, headers: response.headers, text: () => Promise.resolve(body) };
        }, init.signal);
      };
      const config = testConfig({ feed: { mode: 'websocket', auditIntervalMs: 60_000 } });
      const client = createKrakenClient({
        url: paper.url,
        credentials: new Credentials(paper.apiKey, paper.apiSecret),
        timeoutMs: config.exchange.requestTimeoutMs,
        lane: new PrivateLane(new NonceSource(() => clock.now())),
        fetch,
        clock: () => clock.now(),
        timers: clock.timers,
      });
      const rest = new KrakenExchange(client);
      const ws = new KrakenWsFeed({
        privateUrl: paper.wsUrl,
        publicUrl: paper.wsUrl,
        token: () => client.getWebSocketsToken().pipe(map((t) => t.token)),
        pairs: await clock.drive(lastValueFrom(rest.pairs()), 60_000),
        links: clock.links,
        scheduler: clock,
        random: seededRandom(options.seed + 2),
        watchdogMs: 5_000,
        requestTimeoutMs: 3_000,
        backoff: { initialDelayMs: 500, maxDelayMs: 8_000, multiplier: 2, jitter: 0.2 },
      });
      const counts = { socketPlacements: 0 };
      const signals = new Subject<TradeSignal>();
      const feedEvents: ExecutionEvent[] = [];
      const handler = createExecutionHandler(config, {
        port: withWsOrders(rest, {
          get tradingUp() {
            return ws.tradingUp;
          },
          placeOrder: (request) =>
            defer(() => {
              counts.socketPlacements += 1;
              return ws.placeOrder(request);
            }),
          cancelOrder: (ref) => ws.cancelOrder(ref),
        }),
        budget: clientRateBudget(paper.tier),
        costs: krakenCostModel,
        scheduler: clock,
        random: seededRandom(options.seed),
        newId: seededUuids(seededRandom(options.seed + 1)),
        ...(options.log ? { log: options.log } : {}),
        // The real feed, with what it tells the handler written down.
        feed: {
          executions: () => ws.executions().pipe(tap((event) => feedEvents.push(event))),
          quotes: (pairs) => ws.quotes(pairs),
          placeOrder: (request) => ws.placeOrder(request),
          cancelOrder: (ref) => ws.cancelOrder(ref),
          guardCalls: (gate) => ws.guardCalls(gate),
        },
      }).connect({ signals$: signals });
      const run = new WsSoakRun(clock, paper, handler, config, signals, feedEvents, counts, options);
      return run;
    } catch (error) {
      await paper.close();
      throw error;
    }
  }

  /**
   * Runs the clock until `condition` holds, drawing a socket fault every `faultEveryMs` meanwhile; rejects after
   * `limitMs`. A `delay` lasts until the next draw; a stalled socket stays stalled until the client's watchdog
   * replaces it.
   */
  async until(what: string, condition: () => boolean, limitMs = 600_000): Promise<void> {
    const from = this.clock.now();
    while (!condition()) {
      if (this.clock.now() - from > limitMs) throw new Error(`ws soak: gave up after ${this.clock.now() - from} clock ms waiting for ${what}\n${this.timeline()}`);
      const next = this.clock.now() + this.options.faultEveryMs;
      if (await this.clock.runUntil(condition, this.options.faultEveryMs)) return;
      // runUntil stops short when the next timer is later than the step: the step is still taken in full.
      await this.clock.advance(Math.max(0, next - this.clock.now()));
      if (condition()) return;
      this.injectSocketFault();
    }
  }

  /** Lets `ms` of clock time pass (to the step), the socket's faults drawn meanwhile. */
  async pass(ms: number): Promise<void> {
    const end = this.clock.now() + ms;
    await this.until(`${ms} ms`, () => this.clock.now() >= end, ms + this.options.faultEveryMs);
  }

  /** Ends every socket fault (the delay, queued skips and refusals), so that what is left can settle. */
  calm(): void {
    this.paper.wsFaults.clear();
  }

  async stop(limitMs = 600_000): Promise<void> {
    await this.clock.drive(this.handler.stop(), limitMs);
  }

  of(signalId: string, role?: OrderRole): ExecutionReport[] {
    return this.reports.filter((r) => r.signalId === signalId && (role === undefined || r.role === role));
  }

  finals(signalId: string, role?: OrderRole): ExecutionReport[] {
    return this.of(signalId, role).filter((r) => isFinalStatus(r.status));
  }

  timeline(): string {
    return this.reports
      .map((r) => `  ${r.timestamp} ${r.signalId} ${r.role} ${r.status} filled=${r.quantityFilled.toFixed()}${r.reason ? ` (${r.reason})` : ''}`)
      .join('\n');
  }

  async close(): Promise<void> {
    this.subscription?.unsubscribe();
    this.subscription = null;
    this.signals.complete();
    await this.clock.settle();
    await this.paper.close();
  }

  /** The faults still to come in this round: each kind once per round, in a seeded order. */
  private round: SocketFault[] = [];

  private injectSocketFault(): void {
    if (this.round.length === 0) {
      const kinds = [...SOCKET_FAULTS];
      while (kinds.length > 0) this.round.push(...kinds.splice(Math.floor(this.draw() * kinds.length), 1));
    }
    const fault = this.round.shift() ?? 'drop';
    const faults = this.paper.wsFaults;
    faults.setDelay(0);
    switch (fault) {
      case 'drop':
        faults.drop();
        break;
      case 'stall':
        faults.stall();
        break;
      case 'skip-sequence':
        faults.skipSequence();
        break;
      case 'delay':
        faults.setDelay(this.options.delayMs);
        break;
      case 'refuse-token':
        faults.refuseToken();
        break;
    }
    this.socketFaults.push({ at: this.clock.now(), fault });
  }
}
