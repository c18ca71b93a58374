import { type CostModel, type PortCall, type RateBudget, type RateCost } from '../model/budget';
import { type Tier } from '../model/config';
import { type RateCountersRecord } from '../model/journal';

/** One leaky-bucket counter's limits: it may rise to `max`, and falls by `decayPerSecond` continuously. */
export interface CounterLimits {
  readonly max: number;
  readonly decayPerSecond: number;
}

/** A tier's limiters. `null` means "never limits" (the paper exchange's `unlimited` tier). */
export interface TierLimits {
  /** The per-key REST call counter. */
  readonly rest: CounterLimits | null;
  /** The per-pair trading-engine counter (one such counter for each pair). */
  readonly trading: CounterLimits | null;
  /** The per-IP counter of public calls (the same at every tier: it is not tied to a key). */
  readonly public: CounterLimits | null;
}

/**
 * Kraken's public endpoints are limited per IP address, but Kraken publishes no exact figures: its support
 * pages say that about one call per second stays within the limit and that going faster gets calls refused
 * (`EAPI:Rate limit exceeded`) for a while. The common reading, used here on both sides: one call a second
 * sustained, with a small burst of 5 on top.
 */
export const PUBLIC_LIMITS: CounterLimits = { max: 5, decayPerSecond: 1 };

/** Kraken's published limits per tier (kraken-api.md §7.1, §7.2), and the public-call counter. */
export const TIERS: Readonly<Record<Tier, TierLimits>> = {
  starter: { rest: { max: 15, decayPerSecond: 0.33 }, trading: { max: 60, decayPerSecond: 1 }, public: PUBLIC_LIMITS },
  intermediate: { rest: { max: 20, decayPerSecond: 0.5 }, trading: { max: 125, decayPerSecond: 2.34 }, public: PUBLIC_LIMITS },
  pro: { rest: { max: 20, decayPerSecond: 1 }, trading: { max: 180, decayPerSecond: 3.75 }, public: PUBLIC_LIMITS },
  unlimited: { rest: null, trading: null, public: null },
};

/**
 * The trading-counter penalty for cancelling an order of this age (Kraken's table: the younger the order, the
 * dearer the cancel; the cancel itself has no fixed part).
 */
export function cancelPenaltyUnits(orderAgeMs: number): number {
  if (orderAgeMs < 5_000) return 8;
  if (orderAgeMs < 10_000) return 6;
  if (orderAgeMs < 15_000) return 5;
  if (orderAgeMs < 45_000) return 4;
  if (orderAgeMs < 90_000) return 2;
  if (orderAgeMs < 300_000) return 1;
  return 0;
}

const PUBLIC_ENDPOINTS: ReadonlySet<string> = new Set([
  'Time',
  'SystemStatus',
  'Assets',
  'AssetPairs',
  'Ticker',
  'Depth',
  'Trades',
  'Spread',
  'OHLC',
]);

/** Calls that go to the trading engine's per-pair counter instead of the REST counter. */
const TRADING_ENGINE_ENDPOINTS: ReadonlySet<string> = new Set(['AddOrder', 'CancelOrder']);

/** Ledger and trade-history calls: Kraken charges them double. */
const HISTORY_ENDPOINTS: ReadonlySet<string> = new Set(['Ledgers', 'QueryLedgers', 'TradesHistory']);

/** Whether `endpoint` (a method name such as `Ticker`) is one of Kraken's public endpoints. */
export const isPublicEndpoint = (endpoint: string): boolean => PUBLIC_ENDPOINTS.has(endpoint);

/**
 * Units an endpoint adds to the per-key REST counter: 0 for public calls and for AddOrder / CancelOrder
 * (they count on the trading counter instead), 2 for ledger and trade-history calls, 1 for every other
 * private call.
 */
export function restCostOf(endpoint: string): number {
  if (PUBLIC_ENDPOINTS.has(endpoint) || TRADING_ENGINE_ENDPOINTS.has(endpoint)) return 0;
  if (HISTORY_ENDPOINTS.has(endpoint)) return 2;
  return 1;
}

/** What each `ExchangePort` call costs on Kraken (pairs are the canonical pair keys the calls carry). */
export const krakenCostModel: CostModel = (call: PortCall): RateCost => {
  switch (call.kind) {
    case 'placeOrder':
      return { rest: restCostOf('AddOrder'), trading: { pair: call.pair, units: 1 } };
    case 'cancelOrder':
      return { rest: restCostOf('CancelOrder'), trading: { pair: call.pair, units: cancelPenaltyUnits(call.orderAgeMs) } };
    case 'queryOrders':
      return { rest: restCostOf('QueryOrders') };
    case 'openOrders':
      return { rest: restCostOf('OpenOrders') };
    case 'closedOrders':
      return { rest: restCostOf('ClosedOrders') };
    case 'ticker':
      return { rest: restCostOf('Ticker'), public: 1 };
    case 'pairs':
      return { rest: restCostOf('AssetPairs'), public: 1 };
    case 'webSocketsToken':
      return { rest: restCostOf('GetWebSocketsToken') };
  }
};

/**
 * Counter arithmetic is done in integers: micro-units, and a decay in micro-units per millisecond (every
 * Kraken decay rate is a whole number of micro-units per ms). With integer times the readings and waits are
 * exact, so "wait `waitMs`, then it fits" holds without floating-point slack.
 */
const MICRO = 1_000_000;

class DecayingCounter {
  private readonly maxMicro: number;
  /** Where calls stop fitting: the cap less the headroom the client keeps. */
  private readonly fitMicro: number;
  private readonly decayMicroPerMs: number;
  private levelMicro = 0;
  private at = Number.NEGATIVE_INFINITY;

  constructor(limits: CounterLimits, headroomUnits: number) {
    this.maxMicro = Math.round(limits.max * MICRO);
    this.fitMicro = this.maxMicro - Math.round(headroomUnits * MICRO);
    this.decayMicroPerMs = Math.round((limits.decayPerSecond * MICRO) / 1000);
  }

  /** Level in micro-units at `now`; a clock that steps back does not refill the counter. */
  private levelAt(now: number): number {
    if (this.levelMicro === 0) return 0;
    const elapsed = Math.max(0, now - this.at);
    return Math.max(0, this.levelMicro - this.decayMicroPerMs * elapsed);
  }

  level(now: number): number {
    return this.levelAt(now) / MICRO;
  }

  waitMs(units: number, now: number): number {
    const level = this.levelAt(now);
    // A cost larger than the whole counter can never fit under the cap; the best there is: an empty counter.
    const excess = Math.min(level, level + Math.round(units * MICRO) - this.fitMicro);
    if (excess <= 0) return 0;
    return Math.ceil(excess / this.decayMicroPerMs);
  }

  add(units: number, now: number): void {
    this.levelMicro = this.levelAt(now) + Math.round(units * MICRO);
    this.at = Math.max(now, this.at);
  }

  fill(now: number): void {
    this.levelMicro = Math.max(this.levelAt(now), this.maxMicro);
    this.at = Math.max(now, this.at);
  }

  /** Raises the level to `units` read at `at` and decayed since, when that is higher than the level at `now`. */
  raiseTo(units: number, at: number, now: number): void {
    const read = Math.min(this.maxMicro, Math.max(0, Math.round(units * MICRO)));
    const decayed = Math.max(0, read - this.decayMicroPerMs * Math.max(0, now - at));
    if (decayed <= this.levelAt(now)) return;
    this.levelMicro = decayed;
    this.at = Math.max(now, this.at);
  }

  isEmpty(now: number): boolean {
    return this.levelAt(now) === 0;
  }
}

/** Counter readings, in units, for logs and tests. */
export interface BudgetLevels {
  readonly rest: number;
  /** Per pair, only pairs whose counter is not empty. */
  readonly trading: ReadonlyMap<string, number>;
  readonly public: number;
}

/**
 * Kraken's rate limiters as a pure model: the per-key REST counter, one trading counter per pair, and the
 * per-IP public-call counter. Each
 * counter decays linearly and continuously; a call fits when the counter plus its cost stays within the cap.
 * Time is passed in (epoch ms), so the client's rate limiting (in virtual time under test) and the paper
 * exchange's enforcement share this one model.
 */
export interface BudgetOptions {
  /**
   * Units a client keeps free below each cap. The exchange charges a call when it arrives, so a call that took
   * longer on the wire than the next one can find the exchange's counter a fraction above the client's model;
   * one unit of headroom absorbs that. The exchange's own model (the paper exchange) uses 0.
   */
  readonly headroomUnits?: number;
}

export class KrakenRateBudget implements RateBudget {
  readonly limits: TierLimits;
  private readonly headroomUnits: number;
  private readonly rest: DecayingCounter | null;
  private readonly trading = new Map<string, DecayingCounter>();
  private readonly publicCalls: DecayingCounter | null;
  /** Since `seed(null, at)`: trading counters not seen yet start full at that time (unknown is not empty). */
  private tradingFullSince: number | null = null;

  constructor(
    readonly tier: Tier,
    options: BudgetOptions = {},
  ) {
    this.limits = TIERS[tier];
    this.headroomUnits = options.headroomUnits ?? 0;
    if (!(this.headroomUnits >= 0)) throw new RangeError(`headroomUnits must be 0 or more, got ${this.headroomUnits}`);
    this.rest = this.limits.rest ? new DecayingCounter(this.limits.rest, this.headroomUnits) : null;
    this.publicCalls = this.limits.public ? new DecayingCounter(this.limits.public, this.headroomUnits) : null;
  }

  /** Milliseconds from `now` until `cost` fits on every counter it touches (0 when it fits now). */
  waitMs(cost: RateCost, now: number): number {
    const restWait = this.rest && cost.rest > 0 ? this.rest.waitMs(cost.rest, now) : 0;
    const pairCounter = cost.trading ? this.tradingCounter(cost.trading.pair, false) : undefined;
    const tradingWait = pairCounter && cost.trading ? pairCounter.waitMs(cost.trading.units, now) : 0;
    const publicWait = this.publicCalls && cost.public ? this.publicCalls.waitMs(cost.public, now) : 0;
    return Math.max(restWait, tradingWait, publicWait);
  }

  /** Charge `cost` at `now`, whether or not it fits (the exchange charges refused calls too). */
  record(cost: RateCost, now: number): void {
    if (this.rest && cost.rest > 0) this.rest.add(cost.rest, now);
    if (cost.trading && cost.trading.units > 0) this.tradingCounter(cost.trading.pair, true)?.add(cost.trading.units, now);
    if (cost.public) this.publicCalls?.add(cost.public, now);
    this.forgetEmptyPairs(now);
  }

  /** Charge `cost` only if it fits at `now`. Returns whether it was charged (the paper exchange's check). */
  tryCharge(cost: RateCost, now: number): boolean {
    if (this.waitMs(cost, now) > 0) return false;
    this.record(cost, now);
    return true;
  }

  /**
   * The exchange said a limit was exceeded: the counters this cost touches (the REST counter when it has a
   * REST cost, the pair's trading counter when it names a pair, the public counter when it has a public cost)
   * are set to their cap, never lowered.
   */
  snap(cost: RateCost, now: number): void {
    if (cost.rest > 0) this.snapRest(now);
    if (cost.trading) this.snapTrading(cost.trading.pair, now);
    if (cost.public) this.publicCalls?.fill(now);
  }

  /** Sets the REST counter to its cap (e.g. on `EAPI:Rate limit exceeded`). */
  snapRest(now: number): void {
    this.rest?.fill(now);
  }

  /** Sets one pair's trading counter to its cap (e.g. on `EOrder:Rate limit exceeded`). */
  snapTrading(pair: string, now: number): void {
    this.tradingCounter(pair, true)?.fill(now);
  }

  /** Counter readings at `now`. */
  level(now: number): BudgetLevels {
    const trading = new Map<string, number>();
    for (const [pair, counter] of this.trading) {
      const level = counter.level(now);
      if (level > 0) trading.set(pair, level);
    }
    return { rest: this.rest ? this.rest.level(now) : 0, trading, public: this.publicCalls ? this.publicCalls.level(now) : 0 };
  }

  /** The REST and trading counters at `now`, as journaled (`rest: null` when the tier has none). */
  counters(now: number): RateCountersRecord {
    const levels = this.level(now);
    return { at: now, rest: this.rest ? levels.rest : null, trading: [...levels.trading].map(([pair, units]) => ({ pair, units })) };
  }

  /**
   * Starts from journaled counters, decayed from their `at`; with `null` (none journaled), from full ones: the
   * REST counter full at `now`, and each pair's trading counter full at `now` when first used. The per-IP public
   * counter is not the key's and is not journaled: left as it is. Never lowers a counter this model already holds
   * higher (another run on the same key may have spent since).
   */
  seed(counters: RateCountersRecord | null, now: number): void {
    if (counters === null) {
      this.rest?.fill(now);
      this.tradingFullSince = now;
      for (const counter of this.trading.values()) counter.fill(now);
      return;
    }
    this.tradingFullSince = null;
    if (this.rest && counters.rest !== null) this.rest.raiseTo(counters.rest, counters.at, now);
    for (const { pair, units } of counters.trading) this.tradingCounter(pair, true)?.raiseTo(units, counters.at, now);
  }

  private tradingCounter(pair: string, create: boolean): DecayingCounter | undefined {
    if (!this.limits.trading) return undefined;
    const existing = this.trading.get(pair);
    if (existing || !create) return existing;
    const counter = new DecayingCounter(this.limits.trading, this.headroomUnits);
    if (this.tradingFullSince !== null) counter.fill(this.tradingFullSince);
    this.trading.set(pair, counter);
    return counter;
  }

  /** A long-running process touches many pairs; an empty counter holds no information. */
  private forgetEmptyPairs(now: number): void {
    if (this.trading.size < 64) return;
    for (const [pair, counter] of this.trading) if (counter.isEmpty(now)) this.trading.delete(pair);
  }
}

/** The budget a client paces itself by: Kraken's model with one unit of headroom below each cap. */
export const clientRateBudget = (tier: Tier): KrakenRateBudget => new KrakenRateBudget(tier, { headroomUnits: 1 });
