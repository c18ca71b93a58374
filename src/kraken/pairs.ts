import { Decimal } from 'decimal.js';
import { type PairBook, type PairRules, type PairStatus } from '../model/pair';
import { type AssetInfo, type AssetPairInfo, parseAssetPairs, parseAssets } from './parse-public';
import { type KrakenAssetPairsWire, type KrakenAssetsWire } from './wire';

/** Kraken's legacy asset codes and the codes the rest of the world uses for them. */
const COMMON_CODES: Readonly<Record<string, string>> = { XBT: 'BTC', XDG: 'DOGE' };

/**
 * Legacy asset ids carry an `X` (crypto) or `Z` (fiat) prefix. Stripping any 4-letter X/Z id would mangle
 * modern codes (`ZEUS`, `XCN`…), so only the known legacy ids are decoded when `Assets` is not at hand.
 */
const LEGACY_ASSET_IDS: Readonly<Record<string, string>> = {
  XXBT: 'XBT', XETH: 'ETH', XLTC: 'LTC', XXRP: 'XRP', XXLM: 'XLM', XXMR: 'XMR', XZEC: 'ZEC', XXDG: 'XDG',
  XETC: 'ETC', XREP: 'REP', XMLN: 'MLN', XICN: 'ICN', XNMC: 'NMC', XXVN: 'XVN',
  ZUSD: 'USD', ZEUR: 'EUR', ZGBP: 'GBP', ZCAD: 'CAD', ZJPY: 'JPY', ZAUD: 'AUD', ZCHF: 'CHF',
};

const PAIR_STATUSES: readonly PairStatus[] = ['online', 'cancel_only', 'post_only', 'limit_only', 'reduce_only'];

/**
 * A status this code does not know (Kraken adds some from time to time) is read as `cancel_only`: the most
 * restrictive known state, so no new order is sent to a pair in a state we cannot interpret.
 */
const pairStatusOf = (status: string): PairStatus => PAIR_STATUSES.find((known) => known === status) ?? 'cancel_only';

/** Dark-pool pairs (`XBTUSD.d`) are not tradable with ordinary orders. */
const isDarkPool = (pair: AssetPairInfo): boolean => pair.altname.endsWith('.d') || pair.key.endsWith('.d');

const commonCode = (code: string): string => COMMON_CODES[code] ?? code;

function displaySymbol(pair: AssetPairInfo, assets: ReadonlyMap<string, AssetInfo> | undefined): string {
  const fromAssets = (id: string): string | undefined => assets?.get(id)?.altname;
  const base = fromAssets(pair.base);
  const quote = fromAssets(pair.quote);
  if (base !== undefined && quote !== undefined) return `${commonCode(base)}/${commonCode(quote)}`;
  const [wsBase, wsQuote, ...rest] = pair.wsname?.split('/') ?? [];
  if (wsBase && wsQuote && rest.length === 0) return `${commonCode(wsBase)}/${commonCode(wsQuote)}`;
  return `${commonCode(LEGACY_ASSET_IDS[pair.base] ?? pair.base)}/${commonCode(LEGACY_ASSET_IDS[pair.quote] ?? pair.quote)}`;
}

/** Kraken's own `XBT/USD` form, for the pairs that come without a wsname. */
function legacyWsname(pair: AssetPairInfo, assets: ReadonlyMap<string, AssetInfo> | undefined): string {
  const nameOf = (id: string): string => assets?.get(id)?.altname ?? LEGACY_ASSET_IDS[id] ?? id;
  return `${nameOf(pair.base)}/${nameOf(pair.quote)}`;
}

/**
 * Exchange-neutral rules for one Kraken pair.
 * @param pair the pair as parsed from AssetPairs
 * @param assets Assets (id → altname), for the display symbol; without it, wsname or the legacy table serve
 */
export function pairRulesOf(pair: AssetPairInfo, assets?: ReadonlyMap<string, AssetInfo>): PairRules {
  return {
    key: pair.key,
    altname: pair.altname,
    wsname: pair.wsname ?? legacyWsname(pair, assets),
    symbol: displaySymbol(pair, assets),
    base: pair.base,
    quote: pair.quote,
    pairDecimals: pair.pairDecimals,
    lotDecimals: pair.lotDecimals,
    costDecimals: pair.costDecimals,
    tickSize: pair.tickSize,
    orderMin: pair.orderMin,
    costMin: pair.costMin,
    status: pairStatusOf(pair.status),
    takerFeePercent: pair.takerFees[0]?.percent ?? new Decimal(0),
    makerFeePercent: pair.makerFees[0]?.percent ?? pair.takerFees[0]?.percent ?? new Decimal(0),
  };
}

/** Every name a pair answers to, most authoritative first. */
const namesOf = (rules: PairRules): readonly (readonly string[])[] => [
  [rules.key],
  [rules.altname],
  [rules.wsname],
  [rules.symbol, rules.symbol.replace('/', '')],
];

class KrakenPairBook implements PairBook {
  private readonly byName = new Map<string, PairRules>();

  constructor(private readonly rules: readonly PairRules[]) {
    // One pass per kind of name, so a pair's key can never be shadowed by another pair's display name.
    for (let rank = 0; rank < 4; rank++) {
      for (const pair of rules) {
        for (const name of namesOf(pair)[rank] ?? []) {
          const normalised = name.toUpperCase();
          if (!this.byName.has(normalised)) this.byName.set(normalised, pair);
        }
      }
    }
  }

  find(name: string): PairRules | undefined {
    return this.byName.get(name.trim().toUpperCase());
  }

  all(): readonly PairRules[] {
    return this.rules;
  }
}

const isMap = <K, V>(value: unknown): value is ReadonlyMap<K, V> => value instanceof Map;

/**
 * A `PairBook` from Kraken's AssetPairs: lookup by key (`XXBTZUSD`), altname (`XBTUSD`), wsname (`XBT/USD`)
 * and the common form (`BTC/USD`, also `BTCUSD`), case-insensitive; dark-pool `.d` pairs are left out.
 *
 * @param assetPairs AssetPairs' result, raw (as the wire types) or parsed
 * @param assets Assets' result, raw or parsed, to name the assets; optional
 * @throws WireFormatError when a pair lacks a required field
 */
export function pairBookFromAssetPairs(
  assetPairs: KrakenAssetPairsWire | ReadonlyMap<string, AssetPairInfo>,
  assets?: KrakenAssetsWire | ReadonlyMap<string, AssetInfo>,
): PairBook {
  const pairs = isMap<string, AssetPairInfo>(assetPairs) ? assetPairs : parseAssetPairs(assetPairs);
  const assetMap = assets === undefined ? undefined : isMap<string, AssetInfo>(assets) ? assets : parseAssets(assets);
  const rules = [...pairs.values()].filter((pair) => !isDarkPool(pair)).map((pair) => pairRulesOf(pair, assetMap));
  return new KrakenPairBook(rules);
}
