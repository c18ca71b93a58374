import { type Decimal } from 'decimal.js';
import { KrakenRateBudget } from '../kraken/budget';
import { type Tier } from '../model/config';
import { type PairCatalogue } from './catalogue';
import { Engine } from './engine';
import { Ledger } from './ledger';
import { Market } from './market';
import { IdMint, OrderBook } from './orders';
import { WsTokens } from './ws-tokens';

/** Kraken's SystemStatus values (kraken-api.md §3.2). */
export type SystemStatus = 'online' | 'maintenance' | 'cancel_only' | 'post_only';

/** Open orders allowed per pair, by tier (kraken-api.md §7.3). */
const OPEN_ORDER_LIMITS: Readonly<Record<Tier, number>> = {
  starter: 60,
  intermediate: 80,
  pro: 225,
  unlimited: Number.POSITIVE_INFINITY,
};

export interface VenueSetup {
  readonly catalogue: PairCatalogue;
  readonly seed: number;
  readonly tier: Tier;
  readonly clock: () => number;
  readonly balances: ReadonlyMap<string, Decimal>;
  readonly prices: ReadonlyMap<string, Decimal>;
  readonly volatility: number;
  readonly openOrdersLagMs: number;
  /** Whether public calls are limited per IP (`PUBLIC_LIMITS`). */
  readonly publicRateLimit: boolean;
}

/**
 * The paper exchange's state and time: catalogue, market, order book, balances, matching engine and both rate
 * limiters. The endpoints (public-api, trading-api, account-api) read and change it; the server only routes.
 */
export class Venue {
  readonly catalogue: PairCatalogue;
  readonly market: Market;
  readonly book = new OrderBook();
  readonly ledger: Ledger;
  readonly engine: Engine;
  readonly ids: IdMint;
  readonly tier: Tier;
  readonly openOrderLimit: number;
  openOrdersLagMs: number;
  /** The per-pair trading counters belong to the account (shared by its keys). */
  readonly tradingBudget: KrakenRateBudget;
  private readonly restBudgets = new Map<string, KrakenRateBudget>();
  /** Public calls are counted per client IP address, not per key (kraken-api.md §7; `PUBLIC_LIMITS`). */
  private readonly publicBudgets = new Map<string, KrakenRateBudget>();
  private readonly publicRateLimit: boolean;
  private readonly clock: () => number;
  /** Time the paper clock has been moved ahead of `clock` by `advance`. */
  private offsetMs = 0;
  /** Dead man's switch (CancelAllOrdersAfter): epoch ms when every open order is cancelled, or null. */
  deadMansSwitchAt: number | null = null;
  /** Outside `online` the engine does not match (kraken-api.md §3.2). */
  systemStatus: SystemStatus = 'online';
  readonly acceptedByClOrdId = new Map<string, number>();
  readonly rateLimitErrors = { rest: 0, trading: 0, public: 0 };
  /** WebSocket tokens (GetWebSocketsToken) belong to the account's keys, like the REST counters. */
  readonly wsTokens: WsTokens;
  private readonly marketWatchers = new Set<() => void>();

  constructor(setup: VenueSetup) {
    this.catalogue = setup.catalogue;
    this.tier = setup.tier;
    this.clock = setup.clock;
    this.openOrderLimit = OPEN_ORDER_LIMITS[setup.tier];
    this.openOrdersLagMs = setup.openOrdersLagMs;
    this.market = new Market(setup.catalogue, setup.seed, setup.volatility, setup.prices);
    this.ledger = new Ledger(setup.balances);
    this.ids = new IdMint(setup.seed);
    this.engine = new Engine(this.market, this.book, this.ledger, this.ids);
    this.tradingBudget = new KrakenRateBudget(setup.tier);
    this.publicRateLimit = setup.publicRateLimit;
    this.wsTokens = new WsTokens(setup.seed);
  }

  /** Calls `watcher` after every move of the market (a step or a set price); the returned function stops it. */
  watchMarket(watcher: () => void): () => void {
    this.marketWatchers.add(watcher);
    return () => this.marketWatchers.delete(watcher);
  }

  now(): number {
    return this.clock() + this.offsetMs;
  }

  /** Moves the paper clock ahead (relative to the injected clock). */
  shiftClock(ms: number): void {
    if (!(ms >= 0)) throw new RangeError('advance needs a non-negative number of ms');
    this.offsetMs += ms;
  }

  restBudget(apiKey: string): KrakenRateBudget {
    let budget = this.restBudgets.get(apiKey);
    if (!budget) {
      budget = new KrakenRateBudget(this.tier);
      this.restBudgets.set(apiKey, budget);
    }
    return budget;
  }

  /** The public-call counter of one client address (a tier without limits when they are switched off). */
  publicBudget(address: string): KrakenRateBudget {
    let budget = this.publicBudgets.get(address);
    if (!budget) {
      budget = new KrakenRateBudget(this.publicRateLimit ? this.tier : 'unlimited');
      this.publicBudgets.set(address, budget);
    }
    return budget;
  }

  /** Applies everything that the passing of time decides: the dead man's switch and GTD expiry. */
  catchUp(now: number): void {
    if (this.deadMansSwitchAt !== null && now >= this.deadMansSwitchAt) {
      const firedAt = this.deadMansSwitchAt;
      this.deadMansSwitchAt = null;
      for (const o of this.book.open()) this.engine.cancel(o, firedAt, 'User requested');
    }
    this.engine.expire(now);
  }

  /** One step of the seeded price process, then matching. */
  step(): void {
    const now = this.now();
    this.catchUp(now);
    this.market.step();
    this.matchIfOnline(now);
    this.marketMoved();
  }

  /**
   * Moves one pair's market and runs matching; `liquidity` (base volume) is what this move offers the pair's
   * resting orders instead of its `liquidityPerStep`.
   */
  setPrice(pairName: string, price: Decimal, liquidity?: Decimal): void {
    const pair = this.catalogue.find(pairName);
    if (!pair) throw new Error(`paper exchange: unknown pair ${pairName}`);
    const now = this.now();
    this.catchUp(now);
    this.market.setPrice(pair.key, price);
    this.matchIfOnline(now, liquidity === undefined ? undefined : new Map([[pair.key, liquidity]]));
    this.marketMoved();
  }

  private marketMoved(): void {
    for (const watcher of this.marketWatchers) watcher();
  }

  private matchIfOnline(now: number, offered?: ReadonlyMap<string, Decimal>): void {
    if (this.systemStatus === 'online') this.engine.match(now, offered);
  }
}
