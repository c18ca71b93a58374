import { Decimal } from 'decimal.js';
import { type Observable, type SchedulerAction, type SchedulerLike, Subscription, defer, mergeMap, throwError, timer } from 'rxjs';
import { type KrakenClient, krakenClientOver } from '../kraken/client';
import { KrakenExchange } from '../kraken/exchange';
import { classifyKrakenErrors } from '../kraken/errors';
import { type KrakenTransport, type RequestParams } from '../kraken/transport';
import { type Tier } from '../model/config';
import { type DecimalInput } from '../model/signal';
import { IDLE_CLOCK_ORIGIN } from '../time/idle-clock';
import { type FaultConfig, type FaultControl, type FaultKind, FaultPlan } from '../paper/faults';
import { createInspector, type PaperInspector } from '../paper/inspect';
import { createVenue } from '../paper/setup';
import { type SystemStatus } from '../paper/venue';
import { type InProcessTransport, createInProcessTransport } from './in-process-transport';

export interface VirtualExchangeOptions {
  /** The test's scheduler: the exchange's clock is `scheduler.now()`, and its answers wait on it. */
  readonly scheduler: SchedulerLike;
  /** Restrict the catalogue to these pairs (any of Kraken's names). Default: every paper pair. */
  readonly pairs?: readonly string[];
  /** Opening last prices by pair name, e.g. `{ 'BTC/USD': '60000' }`. Default: the paper's (XBTUSD 60000.0). */
  readonly prices?: Readonly<Record<string, DecimalInput>>;
  /** Opening balances by asset (`USD`, `ZUSD`, `XBT`, …); replaces the paper's defaults when given. */
  readonly balances?: Readonly<Record<string, DecimalInput>>;
  /** Both rate limiters and the open-order limit. Default `starter`. */
  readonly tier?: Tier;
  /** Seeds the price process, the order ids and the seeded faults. Default 42. */
  readonly seed?: number;
  /** Seeded fault rates and per-endpoint processing latency, as the paper exchange takes them. */
  readonly faults?: FaultConfig;
  /** Time from processing to the answer. Default 10 ms. */
  readonly latencyMs?: number;
  /** The client's request timeout. Default 10 000 ms. */
  readonly requestTimeoutMs?: number;
  /** A just-placed order is missing from OpenOrders for this long. Default 0. */
  readonly openOrdersLagMs?: number;
  /** Largest relative move of one `step()` of the seeded price process. Default 0.001. */
  readonly volatility?: number;
  /**
   * The exchange time (epoch ms) at the scheduler's frame 0. Default `IDLE_CLOCK_ORIGIN` (2026-01-05T09:00Z), the
   * idle clock's, so a marble run and an end-to-end run read the same dates.
   */
  readonly originMs?: number;
}

/** How one scripted price move trades. */
export interface PriceMove {
  /**
   * Base volume this move trades at the prices of the pair's resting limit orders (in time priority), instead of
   * the pair's depth per move (XBTUSD 0.5, ETHUSD 5, …): `'0.4'` fills a resting buy of 1 by 0.4 and leaves it open,
   * as a thin level on Kraken does; `'0'` moves the price without filling a limit. Triggers (stops, take-profits)
   * fire on the new price whatever it is, and fill at the market as they do without it.
   */
  readonly liquidity?: DecimalInput;
}

/** One request the client sent to the virtual exchange. */
export interface SentRequest {
  /** Kraken's method name: `AddOrder`, `CancelOrder`, `OpenOrders`, `QueryOrders`, `Ticker`, `AssetPairs`, … */
  readonly method: string;
  /** The scheduler's frame it was sent at (a private call then waits its turn in the key's lane, if any). */
  readonly frame: number;
  /** Its parameters as the client gave them (Kraken's names: `type`, `ordertype`, `volume`, `cl_ord_id`, …). */
  readonly params: Readonly<RequestParams>;
}

/** Which requests a scripted refusal answers. */
export interface Refusal {
  /** Only requests whose parameters match (Kraken's names: `txid`, `type`, `ordertype`, …). Default: every one. */
  readonly when?: (params: Readonly<RequestParams>) => boolean;
  /** At most this many. Default: every matching request until the refusal is unsubscribed. */
  readonly count?: number;
}

/** The paper exchange's engine on a test's scheduler, behind the production `ExchangePort`. */
export interface VirtualExchange {
  /** `new KrakenExchange(krakenClientOver(transport))`: the production parsers and error classes. */
  readonly port: KrakenExchange;
  readonly client: KrakenClient;
  readonly transport: InProcessTransport;
  readonly tier: Tier;
  /**
   * The test's scheduler read as exchange time: `now()` is `originMs` plus the frame, `schedule` is the
   * scheduler's. Give it to whatever should stamp the exchange's dates (the handler: its reports' timestamps,
   * its deadlines); frames (`setPriceAt`, `faultAt`, marbles) stay the scheduler's.
   */
  readonly clock: SchedulerLike;
  /** What is on the exchange: every order ever accepted, trades, balances and holds, request counts. */
  readonly inspect: PaperInspector;
  /** The paper's fault plan: `inject(endpoint, kind, count)`, `setRates`, `setLatency`, `applied()`. */
  readonly faults: FaultControl;
  /** Moves a pair's last price now and runs matching (with `move.liquidity` for this move, if given). */
  setPrice(pair: string, price: DecimalInput, move?: PriceMove): void;
  /** `setPrice` at an absolute frame (virtual ms) of the scheduler. */
  setPriceAt(frame: number, pair: string, price: DecimalInput, move?: PriceMove): void;
  /** Every request the client sent, in order; with `method`, only that method's (`sent('AddOrder')`). */
  sent(method?: string): readonly SentRequest[];
  /**
   * Plays a stream of prices into a pair, each one a `setPrice` when it arrives:
   * `playPrices('BTC/USD', cold('--a--b', { a: '59000', b: '61000' }))`. Stops at `close()`.
   */
  playPrices(pair: string, prices$: Observable<DecimalInput>): Subscription;
  /** Injects `kind` for the next `count` requests to `endpoint` (`*`: every private one) at an absolute frame. */
  faultAt(frame: number, endpoint: string, kind: FaultKind, count?: number): void;
  /**
   * Answers matching requests to `method` with Kraken's error string `code`, `latencyMs` after they are sent, without
   * processing them (nothing happens on the exchange): for refusals whose cause the paper engine does not model
   * (`EOrder:Trading agreement required`, `EGeneral:Permission denied`), or a fault aimed at one order
   * (`refuse('CancelOrder', 'EGeneral:Internal error', { when: (p) => p['txid'] === txid })`). The error is the class
   * the client makes of that string over HTTP. Counted in `inspect.requestCounts()`, never in a rate counter.
   * Active from now until the returned subscription is unsubscribed, or `count` requests are refused.
   *
   * @throws RangeError when `code` is not a Kraken error string (`E…:…`) or `count` is not a positive integer
   */
  refuse(method: string, code: string, refusal?: Refusal): Subscription;
  /** One step of the seeded price process, then matching. */
  step(): void;
  setSystemStatus(status: SystemStatus): void;
  setOpenOrdersLag(ms: number): void;
  /** The exchange's clock: `originMs` plus the scheduler's frame. */
  now(): number;
  /** Ends price plays and scheduled scripts, and drops answers still on their way; throws a price stream's error. */
  close(): void;
}

/** `scheduler` with its `now()` moved by `originMs`: the same frames, read as epoch ms from `originMs`. */
export function offsetScheduler(scheduler: SchedulerLike, originMs: number): SchedulerLike {
  return new OffsetScheduler(scheduler, originMs);
}

class OffsetScheduler implements SchedulerLike {
  constructor(
    private readonly inner: SchedulerLike,
    private readonly originMs: number,
  ) {}

  now(): number {
    return this.originMs + this.inner.now();
  }

  schedule<T>(work: (this: SchedulerAction<T>, state?: T) => void, delay?: number, state?: T): Subscription {
    return this.inner.schedule(work, delay, state);
  }
}

/**
 * A virtual-time Kraken: the paper exchange's own engine (matching, partial fills, fees, pair rules, balance
 * holds, both rate limiters, its error strings) on `scheduler.now()`, reached through an in-process transport,
 * so that a marble test can run the real handler against it without a socket.
 *
 * prices$:   --a-----b------      playPrices('BTC/USD', prices$)
 * faults:    -----f---------      faultAt(5, 'AddOrder', 'accept-then-drop')
 *
 * Nothing moves on its own: prices change when the test says so (`setPrice`, `playPrices`, `step`).
 * Its dates start at `originMs` (2026-01-05T09:00Z unless given): frame f is `originMs + f`.
 *
 * @param options the scheduler, and optionally the catalogue, prices, balances, tier, seed, faults and timings
 */
export function createVirtualExchange(options: VirtualExchangeOptions): VirtualExchange {
  const { scheduler } = options;
  const seed = options.seed ?? 42;
  const clock = offsetScheduler(scheduler, options.originMs ?? IDLE_CLOCK_ORIGIN);
  const venue = createVenue({
    clock: () => clock.now(),
    seed,
    ...(options.tier !== undefined ? { tier: options.tier } : {}),
    ...(options.pairs !== undefined ? { pairs: options.pairs } : {}),
    ...(options.prices !== undefined ? { prices: options.prices } : {}),
    ...(options.balances !== undefined ? { balances: options.balances } : {}),
    ...(options.volatility !== undefined ? { volatility: options.volatility } : {}),
    ...(options.openOrdersLagMs !== undefined ? { openOrdersLagMs: options.openOrdersLagMs } : {}),
  });
  const faults = new FaultPlan(seed, options.faults);
  const transport = createInProcessTransport({
    venue,
    faults,
    scheduler: clock,
    ...(options.latencyMs !== undefined ? { latencyMs: options.latencyMs } : {}),
    ...(options.requestTimeoutMs !== undefined ? { requestTimeoutMs: options.requestTimeoutMs } : {}),
  });
  const log: SentRequest[] = [];
  const refusals = new Refusals(transport, scheduler, options.latencyMs ?? 10);
  const client = krakenClientOver(recording(refusals, scheduler, log));
  const scripts = new Subscription();
  const scriptErrors: unknown[] = [];
  const setPrice = (pair: string, price: DecimalInput, move?: PriceMove): void =>
    venue.setPrice(pair, new Decimal(price), move?.liquidity === undefined ? undefined : liquidityOf(move.liquidity));
  const at = (frame: number, work: () => void): void => {
    scripts.add(scheduler.schedule(work, Math.max(0, frame - scheduler.now())));
  };

  return {
    port: new KrakenExchange(client),
    client,
    transport,
    tier: venue.tier,
    clock,
    inspect: createInspector(venue, transport),
    faults,
    setPrice,
    setPriceAt: (frame, pair, price, move) => {
      // A bad volume is the script's mistake: said when it is written, not at its frame.
      if (move?.liquidity !== undefined) liquidityOf(move.liquidity);
      at(frame, () => setPrice(pair, price, move));
    },
    sent: (method) => (method === undefined ? [...log] : log.filter((request) => request.method === method)),
    playPrices: (pair, prices$) => {
      const playing = prices$.subscribe({
        next: (price) => setPrice(pair, price),
        // A broken script is the test's own mistake: kept, and thrown by close().
        error: (error: unknown) => scriptErrors.push(error),
      });
      scripts.add(playing);
      return playing;
    },
    faultAt: (frame, endpoint, kind, count = 1) => at(frame, () => faults.inject(endpoint, kind, count)),
    refuse: (method, code, refusal) => refusals.add(method, code, refusal ?? {}),
    step: () => venue.step(),
    setSystemStatus: (status) => {
      venue.systemStatus = status;
    },
    setOpenOrdersLag: (ms) => {
      venue.openOrdersLagMs = ms;
    },
    now: () => venue.now(),
    close: () => {
      scripts.unsubscribe();
      transport.close();
      if (scriptErrors.length > 0) throw scriptErrors[0];
    },
  };
}

interface ActiveRefusal {
  readonly method: string;
  readonly code: string;
  readonly when: (params: Readonly<RequestParams>) => boolean;
  left: number;
}

/** `transport`, with the scripted refusals answered in front of it. */
class Refusals implements KrakenTransport {
  private readonly active: ActiveRefusal[] = [];

  constructor(
    private readonly transport: InProcessTransport,
    private readonly scheduler: SchedulerLike,
    private readonly latencyMs: number,
  ) {}

  add(method: string, code: string, refusal: Refusal): Subscription {
    if (!/^E[A-Za-z]+:./.test(code)) throw new RangeError(`refuse: code must be a Kraken error string such as EOrder:Insufficient funds, got ${code}`);
    const count = refusal.count ?? Number.POSITIVE_INFINITY;
    if (!(count === Number.POSITIVE_INFINITY || (Number.isInteger(count) && count > 0))) throw new RangeError(`refuse: count must be a positive integer, got ${count}`);
    const entry: ActiveRefusal = { method, code, when: refusal.when ?? (() => true), left: count };
    this.active.push(entry);
    return new Subscription(() => this.drop(entry));
  }

  publicGet(method: string, params?: RequestParams): Observable<unknown> {
    return defer(() => this.refused(method, params) ?? this.transport.publicGet(method, params));
  }

  privatePost(method: string, params?: RequestParams): Observable<unknown> {
    return defer(() => this.refused(method, params) ?? this.transport.privatePost(method, params));
  }

  /** The refusal's answer for this request, if a refusal takes it. */
  private refused(method: string, params: RequestParams | undefined): Observable<never> | undefined {
    const entry = this.active.find((candidate) => candidate.method === method && candidate.when({ ...params }));
    if (!entry) return undefined;
    entry.left -= 1;
    if (entry.left <= 0) this.drop(entry);
    const requests = this.transport.traffic.requests;
    requests.set(method, (requests.get(method) ?? 0) + 1);
    const error = classifyKrakenErrors([entry.code], method, 200);
    return timer(this.latencyMs, this.scheduler).pipe(mergeMap(() => throwError(() => error)));
  }

  private drop(entry: ActiveRefusal): void {
    const at = this.active.indexOf(entry);
    if (at >= 0) this.active.splice(at, 1);
  }
}

/** A price move's liquidity as a volume, or a RangeError naming the field. */
function liquidityOf(input: DecimalInput): Decimal {
  let volume: Decimal;
  try {
    volume = new Decimal(input);
  } catch {
    throw new RangeError(`liquidity must be a non-negative decimal, got ${String(input)}`);
  }
  if (!volume.isFinite() || volume.isNegative()) throw new RangeError(`liquidity must be a non-negative decimal, got ${String(input)}`);
  return volume;
}

/** `transport`, with each request written to `log` when it is sent (subscribed). */
function recording(transport: KrakenTransport, scheduler: SchedulerLike, log: SentRequest[]): KrakenTransport {
  const sent = (method: string, params: RequestParams | undefined, request: () => Observable<unknown>): Observable<unknown> =>
    defer(() => {
      log.push({ method, frame: scheduler.now(), params: { ...params } });
      return request();
    });
  return {
    publicGet: (method, params) => sent(method, params, () => transport.publicGet(method, params)),
    privatePost: (method, params) => sent(method, params, () => transport.privatePost(method, params)),
  };
}
