import { Decimal } from 'decimal.js';
import { type PairRules } from './pair';

/** Volume rounded down to the pair's lot decimals (never sell or buy more than was asked or held). */
export function roundVolumeDown(rules: PairRules, volume: Decimal): Decimal {
  return volume.toDecimalPlaces(rules.lotDecimals, Decimal.ROUND_DOWN);
}

export type PriceRounding = 'down' | 'up' | 'nearest';

const roundingMode = (mode: PriceRounding): Decimal.Rounding =>
  mode === 'down' ? Decimal.ROUND_DOWN : mode === 'up' ? Decimal.ROUND_UP : Decimal.ROUND_HALF_UP;

/** Price rounded to a multiple of `tick_size`, then to `pair_decimals`. */
export function roundPrice(rules: PairRules, price: Decimal, mode: PriceRounding = 'nearest'): Decimal {
  const ticks = price.div(rules.tickSize).toDecimalPlaces(0, roundingMode(mode));
  return ticks.mul(rules.tickSize).toDecimalPlaces(rules.pairDecimals, roundingMode(mode));
}

/** The price as Kraken expects it on the wire: at most `pair_decimals` places, no exponent. */
export const formatPrice = (rules: PairRules, price: Decimal): string =>
  price.toDecimalPlaces(rules.pairDecimals, Decimal.ROUND_HALF_UP).toFixed();

/** The volume as Kraken expects it on the wire: exactly `lot_decimals` places, rounded down. */
export const formatVolume = (rules: PairRules, volume: Decimal): string =>
  roundVolumeDown(rules, volume).toFixed(rules.lotDecimals);

/** True when the price is already a multiple of the tick size and within the pair's decimals. */
export const isOnTick = (rules: PairRules, price: Decimal): boolean =>
  price.mod(rules.tickSize).isZero() && price.decimalPlaces() <= rules.pairDecimals;

export type MinimumCheck =
  | { readonly ok: true }
  | { readonly ok: false; readonly field: 'quantity' | 'cost'; readonly reason: string };

/**
 * Kraken's `ordermin` (volume) and `costmin` (volume × price) checks. `price` is the limit price, or a
 * reference price (last trade) for market orders.
 */
export function checkMinimums(rules: PairRules, volume: Decimal, price: Decimal): MinimumCheck {
  if (volume.lt(rules.orderMin)) {
    return { ok: false, field: 'quantity', reason: `${volume.toFixed()} is below the ${rules.symbol} order minimum ${rules.orderMin.toFixed()}` };
  }
  const cost = volume.mul(price);
  if (cost.lt(rules.costMin)) {
    return { ok: false, field: 'cost', reason: `cost ${cost.toFixed()} is below the ${rules.symbol} cost minimum ${rules.costMin.toFixed()}` };
  }
  return { ok: true };
}
