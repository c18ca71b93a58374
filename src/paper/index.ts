import { createHash, randomBytes } from 'node:crypto';
import { Decimal } from 'decimal.js';
import { type Tier } from '../model/config';
import { type LinkTracker, UNTRACKED } from '../time/link-tracker';
import { type TimerHandle, type Timers, realTimers } from '../time/timers';
import { type ApiCredentials, Authenticator, DEFAULT_LOCKOUT, type LockoutPolicy } from './auth';
import { type FaultConfig, type FaultControl, FaultPlan } from './faults';
import { createInspector, type PaperInspector } from './inspect';
import { PaperServer } from './server';
import { createVenue } from './setup';
import { type SystemStatus } from './venue';
import { type WsFaultControl } from './ws-faults';
import { PaperWsServer } from './ws-server';

export { type ApiCredentials, type LockoutPolicy } from './auth';
export { type AppliedFault, type FaultConfig, type FaultControl, type FaultKind, type FaultRates, FAULT_KINDS, NETWORK_FAULT_KINDS, evenFaultRates } from './faults';
export { type InspectedBalance, type InspectedOrder, type InspectedTrade, type PaperInspector } from './inspect';
export { PAPER_ASSETS, PAPER_PAIRS } from './catalogue';
export { type SystemStatus } from './venue';
export { type WsFaultControl } from './ws-faults';
export { HEARTBEAT_MS } from './ws-server';
export { WS_TOKEN_TTL_MS } from './ws-tokens';

export interface PaperOptions {
  /** 0 (default) picks a free port. The host is always 127.0.0.1. */
  readonly port?: number;
  readonly apiKey?: string;
  /** Base64 of 64 bytes. Generated (or derived from `seed`) when absent. */
  readonly apiSecret?: string;
  /** Sets both rate limiters and the open-order limit. Default `starter`. */
  readonly tier?: Tier;
  /** Seeds the price process, ids and faults (and the credentials when not given). Default 42. */
  readonly seed?: number;
  /** Epoch ms. Default `Date.now`; pass a virtual or scaled clock to make time-driven behaviour fast. */
  readonly clock?: () => number;
  /**
   * The timers a request waits on (injected latency, an answer held until the client gives up). Default Node's;
   * an end-to-end run passes its idle clock's `waitTimers`, so these waits pass in virtual time.
   */
  readonly timers?: Timers;
  /** Opening balances by asset id or altname (`ZUSD` or `USD`); replaces the defaults when given. */
  readonly balances?: Readonly<Record<string, Decimal | string>>;
  /** Restrict the catalogue to these pairs (any of their names). Default: every pair. */
  readonly pairs?: readonly string[];
  /** Opening last prices by pair name. */
  readonly prices?: Readonly<Record<string, Decimal | string>>;
  /** Largest relative move of one price step. Default 0.001. */
  readonly volatility?: number;
  /** Run a price step (and matching) every this many ms, on `timers`. Off by default. */
  readonly autoTick?: number;
  readonly faults?: FaultConfig;
  /** A just-placed order is missing from OpenOrders for this long (paper-clock ms). Default 0. */
  readonly openOrdersLagMs?: number;
  /** Failed authentications that lock a key out. Default: 10 within 60 s lock it for 60 s. */
  readonly lockout?: Partial<LockoutPolicy>;
  /** Larger request bodies get an HTTP 413 page. Default 64 KiB. */
  readonly maxBodyBytes?: number;
  /**
   * Where the WebSocket server reports its frames in flight (an idle clock's `links`, shared with the client);
   * none by default.
   */
  readonly links?: LinkTracker;
  /**
   * The timers of the WebSocket side (heartbeats, held frames); default `timers`. An end-to-end run passes its idle
   * clock's plain `timers`: a heartbeat armed while a REST request is served must not park that request.
   */
  readonly wsTimers?: Timers;
  /**
   * Refuse public calls beyond Kraken's per-IP public rate (`PUBLIC_LIMITS`: about one a second, a burst of 5)
   * with `EAPI:Rate limit exceeded`, as Kraken does. Default true (never at tier `unlimited`); tests that read
   * public data back to back on purpose turn it off.
   */
  readonly publicRateLimit?: boolean;
}

export interface PaperExchange {
  /** e.g. `http://127.0.0.1:41234`; Kraken's paths (`/0/public/Time`, …) hang off it. */
  readonly url: string;
  /** Kraken's WebSocket API v2 on the same port: `ws://127.0.0.1:41234/v2` (public and private channels alike). */
  readonly wsUrl: string;
  readonly apiKey: string;
  readonly apiSecret: string;
  readonly tier: Tier;
  /** Another API key on the same account (own nonce and REST counter; shared balances, orders and trading counters). */
  addApiKey(): ApiCredentials;
  /**
   * Moves a pair's last price and runs matching; `move.liquidity` is the base volume this move trades at resting
   * limits' prices instead of the pair's depth per move (a partial fill of a chosen size).
   */
  setPrice(pair: string, price: Decimal | string, move?: { readonly liquidity?: Decimal | string }): void;
  /** One step of the seeded price process, then matching. */
  step(): void;
  /** Moves the paper clock `ms` ahead of the injected clock, then runs one step. */
  advance(ms: number): void;
  /** The paper clock, epoch ms. */
  now(): number;
  setOpenOrdersLag(ms: number): void;
  /**
   * What SystemStatus reports and how the engine behaves: `maintenance` answers every private call with
   * `EService:Unavailable`; `cancel_only` refuses AddOrder (`EService:Market in cancel_only mode`); `post_only`
   * refuses all but post-only limits (`EService:Market in post_only mode`); outside `online` nothing matches.
   */
  setSystemStatus(status: SystemStatus): void;
  readonly inspect: PaperInspector;
  readonly faults: FaultControl;
  /** Faults of the WebSocket API: drop, stall, skip a sequence number, delay frames, refuse tokens. */
  readonly wsFaults: WsFaultControl;
  /** Open WebSocket connections. */
  wsConnections(): number;
  /** `ticker` subscriptions acknowledged since the start, for one WS symbol (`BTC/USD`). */
  wsTickerSubscribes(symbol: string): number;
  close(): Promise<void>;
}

/**
 * Starts a Kraken-compatible exchange on 127.0.0.1 (design.md §6): Kraken's paths, envelopes, field names,
 * string-typed numbers, error strings, signature and nonce checks, both rate limiters of the tier (the shared
 * `KrakenRateBudget` model), open-order limits, balance holds, a seeded market and seeded faults; and Kraken's
 * WebSocket API v2 on `/v2` of the same port (design.md §9), over the same engine, book and counters.
 *
 * Where kraken-api.md leaves Kraken's behaviour open, the paper exchange chooses (and tests pin) this:
 * - a `cl_ord_id` already used by an open order → `EOrder:Duplicate order` (UNCONFIRMED string);
 * - volume below `ordermin` → `EOrder:Order minimum not met` (Kraken also answers `EGeneral:Invalid arguments:volume`);
 * - a post-only limit that would take → `EOrder:Post only order`, nothing placed;
 * - QueryOrders with an unknown txid → `EOrder:Invalid order` (UNCONFIRMED); CancelOrder of a gone order →
 *   `EOrder:Unknown order`;
 * - `deadline` is checked against the arrival time (now+2 s..now+60 s, else `EGeneral:Invalid arguments:deadline`)
 *   and against the processing time (passed → `EService:Deadline elapsed`, nothing placed);
 * - REST counter costs per `restCostOf` (TradesHistory 2, AddOrder/CancelOrder 0); the trading counter is charged
 *   as soon as AddOrder's pair is known (so failed orders count) and CancelOrder pays the order-age penalty, refused
 *   with `EOrder:Rate limit exceeded` when it does not fit; CancelAll charges only the REST counter;
 * - fees are charged in quote except on a buy with explicit `fcib` (then in base); `oflags` shows the implicit
 *   `fciq` (buys) / `fcib` (sells) as Kraken does; a partly filled order that ends canceled/expired gets `misc: partial`;
 * - not supported (answered with `EGeneral:Invalid arguments:<field>`): iceberg and trailing types, `leverage`,
 *   `close[...]`, `starttm` other than 0, `viqc`; relative prices → `EOrder:Invalid price:Invalid price argument.`
 *
 * Matching: limits that cross the touch on arrival take at the touch (taker); resting limits fill at their own
 * price (maker) once the last price reaches them, sharing the pair's `liquidityPerStep` per matching run, so big
 * orders fill in parts; stops and take-profits trigger on the last price and execute as market orders (the
 * -limit forms become limits at `price2`). Paper fills never move the last price: tests see the price they set.
 */
export async function startPaperExchange(options: PaperOptions = {}): Promise<PaperExchange> {
  const seed = options.seed ?? 42;
  const venue = createVenue({ ...options, clock: options.clock ?? Date.now });
  const auth = new Authenticator({ ...DEFAULT_LOCKOUT, ...options.lockout });
  let keysIssued = 0;
  const issue = (): ApiCredentials => credentials(options.seed, keysIssued++);
  const first = issue();
  const main: ApiCredentials = { apiKey: options.apiKey ?? first.apiKey, apiSecret: options.apiSecret ?? first.apiSecret };
  if (Buffer.from(main.apiSecret, 'base64').length !== 64) throw new Error('paper exchange: apiSecret must be base64 of 64 bytes');
  auth.addKey(main);
  const faults = new FaultPlan(seed, options.faults);
  const timers = options.timers ?? realTimers;
  const server = new PaperServer(venue, auth, faults, options.maxBodyBytes ?? 64 * 1024, timers);
  const ws = new PaperWsServer(venue, options.wsTimers ?? timers, options.links ?? UNTRACKED, seed);
  server.onUpgrade = (req, socket, head) => ws.upgrade(req, socket, head);
  const url = await server.listen(options.port ?? 0);
  const ticker = options.autoTick ? new AutoTick(timers, options.autoTick, () => venue.step()) : undefined;

  return {
    url,
    wsUrl: `${url.replace(/^http/, 'ws')}/v2`,
    apiKey: main.apiKey,
    apiSecret: main.apiSecret,
    tier: venue.tier,
    addApiKey: () => {
      const extra = issue();
      auth.addKey(extra);
      return extra;
    },
    setPrice: (pair, price, move) => venue.setPrice(pair, new Decimal(price), move?.liquidity === undefined ? undefined : new Decimal(move.liquidity)),
    step: () => venue.step(),
    advance: (ms) => {
      venue.shiftClock(ms);
      venue.step();
    },
    now: () => venue.now(),
    setOpenOrdersLag: (ms) => {
      venue.openOrdersLagMs = ms;
    },
    setSystemStatus: (status) => {
      venue.systemStatus = status;
      ws.statusChanged();
    },
    inspect: createInspector(venue, server),
    faults,
    wsFaults: ws.control,
    wsConnections: () => ws.connections(),
    wsTickerSubscribes: (symbol) => ws.tickerSubscribes.get(symbol) ?? 0,
    close: async () => {
      ticker?.stop();
      ws.close();
      await server.close();
    },
  };
}

/** The market's own clockwork: a step every `everyMs`, re-armed on the exchange's timers. */
class AutoTick {
  private handle: TimerHandle | undefined;

  constructor(
    private readonly timers: Timers,
    private readonly everyMs: number,
    private readonly step: () => void,
  ) {
    this.arm();
  }

  stop(): void {
    if (this.handle !== undefined) this.timers.clearTimeout(this.handle);
    this.handle = undefined;
  }

  private arm(): void {
    this.handle = this.timers.setTimeout(() => {
      this.step();
      this.arm();
    }, this.everyMs);
  }
}

/** Random credentials, or deterministic ones derived from the seed (so `kraken-rx paper --seed N` is repeatable). */
function credentials(seed: number | undefined, index: number): ApiCredentials {
  const bytes = (purpose: string, n: number): Buffer => {
    if (seed === undefined) return randomBytes(n);
    return createHash('sha512').update(`paper-${purpose}-${seed}-${index}`).digest().subarray(0, n);
  };
  return { apiKey: bytes('key', 42).toString('base64'), apiSecret: bytes('secret', 64).toString('base64') };
}
