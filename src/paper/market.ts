import { Decimal } from 'decimal.js';
import { type PaperPair, type PairCatalogue } from './catalogue';
import { SeededRandom } from './random';

/** Best bid, best ask and last trade of one pair. */
export interface MarketQuote {
  readonly last: Decimal;
  readonly bid: Decimal;
  readonly ask: Decimal;
}

/** Ticker statistics of one pair since the paper exchange started ("today" and "24h" are the same window). */
export interface MarketStats extends MarketQuote {
  readonly open: Decimal;
  readonly high: Decimal;
  readonly low: Decimal;
  readonly volume: Decimal;
  readonly vwap: Decimal;
  readonly trades: number;
  readonly lastVolume: Decimal;
}

class PairMarket {
  last: Decimal;
  readonly open: Decimal;
  high: Decimal;
  low: Decimal;
  volume = new Decimal(0);
  turnover = new Decimal(0);
  trades = 0;
  lastVolume = new Decimal(0);

  constructor(readonly pair: PaperPair, price: Decimal) {
    this.last = price;
    this.open = price;
    this.high = price;
    this.low = price;
  }

  move(price: Decimal): void {
    this.last = price;
    if (price.gt(this.high)) this.high = price;
    if (price.lt(this.low)) this.low = price;
  }

  trade(price: Decimal, volume: Decimal): void {
    this.move(price);
    this.tally(price, volume);
  }

  tally(price: Decimal, volume: Decimal): void {
    this.volume = this.volume.plus(volume);
    this.turnover = this.turnover.plus(volume.mul(price));
    this.trades += 1;
    this.lastVolume = volume;
  }

  quote(): MarketQuote {
    // One tick either side of the last trade: a tight, always-crossable book that keeps tests readable.
    const tick = this.pair.tickSize;
    const bid = Decimal.max(tick, this.last.minus(tick));
    return { last: this.last, bid, ask: this.last.plus(tick) };
  }

  stats(): MarketStats {
    const vwap = this.volume.isZero() ? this.last : this.turnover.div(this.volume);
    return {
      ...this.quote(),
      open: this.open,
      high: this.high,
      low: this.low,
      volume: this.volume,
      vwap,
      trades: this.trades,
      lastVolume: this.lastVolume,
    };
  }
}

/**
 * The seeded price process: each step moves every pair's last price by a small random walk (at most
 * `volatility` of the price, on the tick grid) and prints a synthetic market trade, so the ticker looks alive.
 */
export class Market {
  private readonly pairs = new Map<string, PairMarket>();
  private readonly random: SeededRandom;

  constructor(
    catalogue: PairCatalogue,
    seed: number,
    private readonly volatility: number,
    initialPrices: ReadonlyMap<string, Decimal>,
  ) {
    this.random = SeededRandom.derive(seed, 'prices');
    for (const p of catalogue.pairs) this.pairs.set(p.key, new PairMarket(p, initialPrices.get(p.key) ?? p.initialPrice));
  }

  quote(pairKey: string): MarketQuote {
    return this.market(pairKey).quote();
  }

  stats(pairKey: string): MarketStats {
    return this.market(pairKey).stats();
  }

  /** Moves the last price to `price` (on the tick grid, at least one tick). */
  setPrice(pairKey: string, price: Decimal): void {
    const m = this.market(pairKey);
    m.move(onTick(m.pair, price));
  }

  /**
   * A fill of a paper order counts in the day's volume but does not move the last price: the paper account
   * is a price taker in a deep market, so tests that set a price see exactly that price.
   */
  recordFill(pairKey: string, price: Decimal, volume: Decimal): void {
    this.market(pairKey).tally(price, volume);
  }

  /** One step of the random walk for every pair, in catalogue order (deterministic for a seed). */
  step(): void {
    for (const m of this.pairs.values()) {
      const drift = (this.random.next() * 2 - 1) * this.volatility;
      const next = onTick(m.pair, m.last.mul(new Decimal(1).plus(new Decimal(drift.toFixed(12)))));
      const volume = m.pair.liquidityPerStep.mul(new Decimal(this.random.next().toFixed(6))).toDecimalPlaces(m.pair.lotDecimals, Decimal.ROUND_DOWN);
      if (volume.isZero()) m.move(next);
      else m.trade(next, volume);
    }
  }

  private market(pairKey: string): PairMarket {
    const m = this.pairs.get(pairKey);
    if (!m) throw new Error(`paper market: unknown pair ${pairKey}`);
    return m;
  }
}

const onTick = (p: PaperPair, price: Decimal): Decimal =>
  Decimal.max(p.tickSize, price.div(p.tickSize).toDecimalPlaces(0, Decimal.ROUND_HALF_UP).mul(p.tickSize));
