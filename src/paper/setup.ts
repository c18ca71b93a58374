import { Decimal } from 'decimal.js';
import { type Tier } from '../model/config';
import { buildCatalogue, type PairCatalogue } from './catalogue';
import { Venue } from './venue';

/** Opening balances when none are given, by asset id. */
export const DEFAULT_BALANCES: Readonly<Record<string, string>> = {
  ZUSD: '100000',
  XXBT: '10',
  XETH: '100',
  SOL: '500',
  ZEUR: '50000',
  XXRP: '100000',
  ADA: '100000',
  DOT: '5000',
};

/** What a paper venue is made from; every field but `clock` has the paper exchange's default. */
export interface VenueOptions {
  readonly clock: () => number;
  readonly seed?: number;
  readonly tier?: Tier;
  /** Opening balances by asset id or altname (`ZUSD` or `USD`); replaces the defaults when given. */
  readonly balances?: Readonly<Record<string, Decimal | string>>;
  /** Restrict the catalogue to these pairs (any of their names). Default: every pair. */
  readonly pairs?: readonly string[];
  /** Opening last prices by pair name. */
  readonly prices?: Readonly<Record<string, Decimal | string>>;
  /** Largest relative move of one price step. Default 0.001. */
  readonly volatility?: number;
  /** A just-placed order is missing from OpenOrders for this long (paper-clock ms). Default 0. */
  readonly openOrdersLagMs?: number;
  /** Refuse public calls beyond Kraken's per-IP public rate. Default true. */
  readonly publicRateLimit?: boolean;
}

/**
 * The paper exchange's engine and state — catalogue, market, book, balances, both limiters — with the paper
 * exchange's defaults (seed 42, starter tier, `DEFAULT_BALANCES`, every pair), before any way in is attached:
 * `startPaperExchange` puts an HTTP server in front of it, the testing kit an in-process transport.
 *
 * @throws Error naming an unknown pair or asset
 */
export function createVenue(options: VenueOptions): Venue {
  const catalogue = buildCatalogue(options.pairs);
  return new Venue({
    catalogue,
    seed: options.seed ?? 42,
    tier: options.tier ?? 'starter',
    clock: options.clock,
    balances: balancesOf(catalogue, options.balances ?? DEFAULT_BALANCES),
    prices: pricesOf(catalogue, options.prices ?? {}),
    volatility: options.volatility ?? 0.001,
    openOrdersLagMs: options.openOrdersLagMs ?? 0,
    publicRateLimit: options.publicRateLimit ?? true,
  });
}

function balancesOf(catalogue: PairCatalogue, given: Readonly<Record<string, Decimal | string>>): Map<string, Decimal> {
  const balances = new Map<string, Decimal>();
  for (const [name, amount] of Object.entries(given)) {
    const asset = catalogue.findAsset(name);
    if (!asset) throw new Error(`paper exchange: unknown asset ${name}`);
    balances.set(asset.id, new Decimal(amount));
  }
  return balances;
}

function pricesOf(catalogue: PairCatalogue, given: Readonly<Record<string, Decimal | string>>): Map<string, Decimal> {
  const prices = new Map<string, Decimal>();
  for (const [name, price] of Object.entries(given)) {
    const pair = catalogue.find(name);
    if (!pair) throw new Error(`paper exchange: unknown pair ${name}`);
    prices.set(pair.key, new Decimal(price));
  }
  return prices;
}
