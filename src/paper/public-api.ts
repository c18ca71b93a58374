import { type PairCatalogue, type PaperPair } from './catalogue';
import { type Market } from './market';
import { type Params } from './params';
import { assetJson, type JsonObject, pairJson, rfc1123, rfc3339Seconds, tickerJson } from './wire';

/** What an endpoint answers: Kraken's `result`, or one error string for the envelope. */
export type Outcome = { readonly ok: true; readonly result: JsonObject } | { readonly ok: false; readonly error: string };

export const success = (result: JsonObject): Outcome => ({ ok: true, result });
export const failure = (error: string): Outcome => ({ ok: false, error });

export const PUBLIC_METHODS: ReadonlySet<string> = new Set(['Time', 'SystemStatus', 'Assets', 'AssetPairs', 'Ticker']);

/** Kraken's public market-data endpoints over the paper catalogue and market. */
export function callPublic(method: string, params: Params, catalogue: PairCatalogue, market: Market, now: number, status: string): Outcome {
  switch (method) {
    case 'Time':
      return success({ unixtime: Math.floor(now / 1000), rfc1123: rfc1123(now) });
    case 'SystemStatus':
      return success({ status, timestamp: rfc3339Seconds(now) });
    case 'Assets':
      return assets(params, catalogue);
    case 'AssetPairs':
      return assetPairs(params, catalogue);
    case 'Ticker':
      return ticker(params, catalogue, market);
    default:
      return failure('EGeneral:Unknown method');
  }
}

/** The pairs a comma list names, every pair when absent; `undefined` when one is unknown. */
function selectPairs(params: Params, catalogue: PairCatalogue): PaperPair[] | undefined {
  const list = params.text('pair');
  if (list === undefined || list === '') return [...catalogue.pairs];
  if (list === null) return undefined;
  const chosen: PaperPair[] = [];
  for (const name of list.split(',')) {
    const found = catalogue.find(name);
    if (!found) return undefined;
    if (!chosen.includes(found)) chosen.push(found);
  }
  return chosen;
}

function assets(params: Params, catalogue: PairCatalogue): Outcome {
  const list = params.text('asset');
  const chosen = list === undefined || list === '' ? [...catalogue.assets] : [];
  if (list === null) return failure('EGeneral:Invalid arguments:asset');
  if (typeof list === 'string' && list !== '') {
    for (const name of list.split(',')) {
      const found = catalogue.findAsset(name);
      if (!found) return failure('EQuery:Unknown asset');
      chosen.push(found);
    }
  }
  const result: Record<string, JsonObject> = {};
  for (const a of chosen) result[a.id] = assetJson(a);
  return success(result);
}

function assetPairs(params: Params, catalogue: PairCatalogue): Outcome {
  const pairs = selectPairs(params, catalogue);
  if (!pairs) return failure('EQuery:Unknown asset pair');
  const info = params.text('info') ?? 'info';
  const result: Record<string, JsonObject> = {};
  for (const p of pairs) {
    const full = pairJson(p);
    const pick = (...keys: string[]): JsonObject => Object.fromEntries(keys.map((k) => [k, full[k] ?? null]));
    switch (info) {
      case 'info':
        result[p.key] = full;
        break;
      case 'leverage':
        result[p.key] = pick('leverage_buy', 'leverage_sell');
        break;
      case 'fees':
        result[p.key] = pick('fees', 'fees_maker', 'fee_volume_currency');
        break;
      case 'margin':
        result[p.key] = pick('margin_call', 'margin_stop');
        break;
      default:
        return failure('EGeneral:Invalid arguments:info');
    }
  }
  return success(result);
}

function ticker(params: Params, catalogue: PairCatalogue, market: Market): Outcome {
  const pairs = selectPairs(params, catalogue);
  if (!pairs) return failure('EQuery:Unknown asset pair');
  const result: Record<string, JsonObject> = {};
  for (const p of pairs) result[p.key] = tickerJson(p, market.stats(p.key));
  return success(result);
}
