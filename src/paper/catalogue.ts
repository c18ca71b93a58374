import { Decimal } from 'decimal.js';

/** One asset as Kraken's `Assets` endpoint describes it. */
export interface PaperAsset {
  /** Asset id, e.g. `XXBT`, `ZUSD`, `SOL`. */
  readonly id: string;
  /** e.g. `XBT`, `USD`. */
  readonly altname: string;
  /** Decimals Kraken keeps balances in. */
  readonly decimals: number;
  readonly displayDecimals: number;
}

/** One tradable pair with Kraken's AssetPairs fields and the paper market's own parameters. */
export interface PaperPair {
  readonly key: string;
  readonly altname: string;
  readonly wsname: string;
  readonly base: string;
  readonly quote: string;
  readonly pairDecimals: number;
  readonly lotDecimals: number;
  readonly costDecimals: number;
  readonly orderMin: Decimal;
  readonly costMin: Decimal;
  readonly tickSize: Decimal;
  /** Taker schedule `[[volume, percent], …]`; the first row is what the paper account pays. */
  readonly fees: readonly (readonly [number, number])[];
  readonly feesMaker: readonly (readonly [number, number])[];
  /** Where the paper market opens. */
  readonly initialPrice: Decimal;
  /** Base volume the paper market offers resting orders per matching run (so fills can be partial). */
  readonly liquidityPerStep: Decimal;
}

const asset = (id: string, altname: string, decimals: number, displayDecimals: number): PaperAsset => ({
  id,
  altname,
  decimals,
  displayDecimals,
});

export const PAPER_ASSETS: readonly PaperAsset[] = [
  asset('XXBT', 'XBT', 10, 5),
  asset('XETH', 'ETH', 10, 5),
  asset('SOL', 'SOL', 10, 5),
  asset('XXRP', 'XRP', 8, 5),
  asset('ADA', 'ADA', 8, 6),
  asset('DOT', 'DOT', 10, 8),
  asset('ZUSD', 'USD', 4, 2),
  asset('ZEUR', 'EUR', 4, 2),
];

/** Kraken's lowest-volume spot fee tiers (percent). */
const TAKER_FEES: readonly (readonly [number, number])[] = [
  [0, 0.4],
  [10000, 0.35],
  [50000, 0.24],
  [100000, 0.22],
  [250000, 0.2],
  [500000, 0.18],
  [1000000, 0.16],
];
const MAKER_FEES: readonly (readonly [number, number])[] = [
  [0, 0.25],
  [10000, 0.2],
  [50000, 0.14],
  [100000, 0.12],
  [250000, 0.1],
  [500000, 0.08],
  [1000000, 0.06],
];

interface PairSeed {
  key: string;
  altname: string;
  wsname: string;
  base: string;
  quote: string;
  pairDecimals: number;
  lotDecimals: number;
  costDecimals: number;
  orderMin: string;
  costMin: string;
  tickSize: string;
  initialPrice: string;
  liquidityPerStep: string;
}

const pair = (seed: PairSeed): PaperPair => ({
  key: seed.key,
  altname: seed.altname,
  wsname: seed.wsname,
  base: seed.base,
  quote: seed.quote,
  pairDecimals: seed.pairDecimals,
  lotDecimals: seed.lotDecimals,
  costDecimals: seed.costDecimals,
  orderMin: new Decimal(seed.orderMin),
  costMin: new Decimal(seed.costMin),
  tickSize: new Decimal(seed.tickSize),
  fees: TAKER_FEES,
  feesMaker: MAKER_FEES,
  initialPrice: new Decimal(seed.initialPrice),
  liquidityPerStep: new Decimal(seed.liquidityPerStep),
});

/** The default catalogue: legacy X/Z-keyed pairs and newer slashless ones, with real-looking rules. */
export const PAPER_PAIRS: readonly PaperPair[] = [
  pair({ key: 'XXBTZUSD', altname: 'XBTUSD', wsname: 'XBT/USD', base: 'XXBT', quote: 'ZUSD', pairDecimals: 1, lotDecimals: 8, costDecimals: 5, orderMin: '0.00005', costMin: '0.5', tickSize: '0.1', initialPrice: '60000.0', liquidityPerStep: '0.5' }),
  pair({ key: 'XETHZUSD', altname: 'ETHUSD', wsname: 'ETH/USD', base: 'XETH', quote: 'ZUSD', pairDecimals: 2, lotDecimals: 8, costDecimals: 5, orderMin: '0.002', costMin: '0.5', tickSize: '0.01', initialPrice: '3000.00', liquidityPerStep: '5' }),
  pair({ key: 'SOLUSD', altname: 'SOLUSD', wsname: 'SOL/USD', base: 'SOL', quote: 'ZUSD', pairDecimals: 2, lotDecimals: 8, costDecimals: 5, orderMin: '0.02', costMin: '0.5', tickSize: '0.01', initialPrice: '150.00', liquidityPerStep: '100' }),
  pair({ key: 'XXBTZEUR', altname: 'XBTEUR', wsname: 'XBT/EUR', base: 'XXBT', quote: 'ZEUR', pairDecimals: 1, lotDecimals: 8, costDecimals: 5, orderMin: '0.00005', costMin: '0.5', tickSize: '0.1', initialPrice: '55000.0', liquidityPerStep: '0.5' }),
  pair({ key: 'XETHXXBT', altname: 'ETHXBT', wsname: 'ETH/XBT', base: 'XETH', quote: 'XXBT', pairDecimals: 5, lotDecimals: 8, costDecimals: 10, orderMin: '0.002', costMin: '0.00002', tickSize: '0.00001', initialPrice: '0.05000', liquidityPerStep: '5' }),
  pair({ key: 'XXRPZUSD', altname: 'XRPUSD', wsname: 'XRP/USD', base: 'XXRP', quote: 'ZUSD', pairDecimals: 5, lotDecimals: 8, costDecimals: 5, orderMin: '2', costMin: '0.5', tickSize: '0.00001', initialPrice: '0.60000', liquidityPerStep: '20000' }),
  pair({ key: 'ADAUSD', altname: 'ADAUSD', wsname: 'ADA/USD', base: 'ADA', quote: 'ZUSD', pairDecimals: 6, lotDecimals: 8, costDecimals: 5, orderMin: '5', costMin: '0.5', tickSize: '0.000001', initialPrice: '0.450000', liquidityPerStep: '20000' }),
  pair({ key: 'DOTUSD', altname: 'DOTUSD', wsname: 'DOT/USD', base: 'DOT', quote: 'ZUSD', pairDecimals: 4, lotDecimals: 8, costDecimals: 5, orderMin: '0.5', costMin: '0.5', tickSize: '0.0005', initialPrice: '7.0000', liquidityPerStep: '1000' }),
];

/** Common display codes for Kraken's legacy asset altnames (`BTC/USD` is how users and WS v2 name XBT/USD). */
const DISPLAY_CODE: Readonly<Record<string, string>> = { XBT: 'BTC', XDG: 'DOGE' };

/** Finds pairs by key, altname, wsname or the `BTC/USD` display form, and assets by id or altname. */
export class PairCatalogue {
  private readonly byName = new Map<string, PaperPair>();
  private readonly assetsById = new Map<string, PaperAsset>();
  private readonly assetsByName = new Map<string, PaperAsset>();

  constructor(
    readonly pairs: readonly PaperPair[],
    readonly assets: readonly PaperAsset[],
  ) {
    for (const a of assets) {
      this.assetsById.set(a.id, a);
      this.assetsByName.set(a.id.toUpperCase(), a);
      this.assetsByName.set(a.altname.toUpperCase(), a);
      const display = DISPLAY_CODE[a.altname];
      if (display) this.assetsByName.set(display, a);
    }
    for (const p of pairs) {
      for (const name of [p.key, p.altname, p.wsname, this.displaySymbol(p)]) this.byName.set(name.toUpperCase(), p);
    }
  }

  /** A pair by any of its names (case-insensitive), or undefined. */
  find(name: string): PaperPair | undefined {
    return this.byName.get(name.trim().toUpperCase());
  }

  asset(id: string): PaperAsset | undefined {
    return this.assetsById.get(id);
  }

  /** An asset by id (`XXBT`), altname (`XBT`) or display code (`BTC`). */
  findAsset(name: string): PaperAsset | undefined {
    return this.assetsByName.get(name.trim().toUpperCase());
  }

  /** `BTC/USD`-style symbol. */
  displaySymbol(p: PaperPair): string {
    const [base = '', quote = ''] = p.wsname.split('/');
    return `${DISPLAY_CODE[base] ?? base}/${DISPLAY_CODE[quote] ?? quote}`;
  }

  /** Fee rate (a fraction, not percent) of the paper account's tier in the schedule. */
  static feeRate(schedule: readonly (readonly [number, number])[]): Decimal {
    const first = schedule[0];
    return new Decimal(first ? first[1] : 0).div(100);
  }
}

/** A catalogue restricted to the named pairs (any of their names); the assets stay complete. */
export function buildCatalogue(pairNames?: readonly string[]): PairCatalogue {
  const full = new PairCatalogue(PAPER_PAIRS, PAPER_ASSETS);
  if (!pairNames) return full;
  const chosen = pairNames.map((name) => {
    const found = full.find(name);
    if (!found) throw new Error(`paper exchange: unknown pair ${name}`);
    return found;
  });
  return new PairCatalogue([...new Set(chosen)], PAPER_ASSETS);
}
