import { type Decimal } from 'decimal.js';

export type PairStatus = 'online' | 'cancel_only' | 'post_only' | 'limit_only' | 'reduce_only';

/** A pair's trading rules (from Kraken's AssetPairs), exchange-neutral. */
export interface PairRules {
  /** Canonical key, e.g. `XXBTZUSD`. */
  readonly key: string;
  /** e.g. `XBTUSD`. */
  readonly altname: string;
  /** e.g. `XBT/USD`. */
  readonly wsname: string;
  /** Display form, e.g. `BTC/USD`. */
  readonly symbol: string;
  /** Asset ids, e.g. `XXBT`, `ZUSD`. */
  readonly base: string;
  readonly quote: string;
  readonly pairDecimals: number;
  readonly lotDecimals: number;
  readonly costDecimals: number;
  readonly tickSize: Decimal;
  readonly orderMin: Decimal;
  readonly costMin: Decimal;
  readonly status: PairStatus;
  /** Fee percentages of the lowest volume tier. */
  readonly takerFeePercent: Decimal;
  readonly makerFeePercent: Decimal;
}

/** Lookup of pair rules by any of a pair's names (key, altname, wsname, `BTC/USD`). */
export interface PairBook {
  find(name: string): PairRules | undefined;
  all(): readonly PairRules[];
}
