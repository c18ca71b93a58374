import { Decimal } from 'decimal.js';
import {
  asArray,
  asDecimal,
  asInteger,
  asNumber,
  asOneOf,
  asRecord,
  asString,
  mapEntries,
  optional,
  WireFormatError,
} from './wire-parse';
import { type KrakenSystemStatus } from './wire';

export interface ServerTime {
  /** Unix seconds. */
  readonly unixtime: number;
  readonly rfc1123: string;
}

export function parseTime(result: unknown): ServerTime {
  const record = asRecord(result, 'Time result');
  return {
    unixtime: asInteger(record['unixtime'], 'Time result.unixtime'),
    rfc1123: optional(record['rfc1123'], asString, 'Time result.rfc1123') ?? '',
  };
}

export interface SystemStatusInfo {
  readonly status: KrakenSystemStatus;
  readonly timestamp: string;
}

const SYSTEM_STATUSES: readonly KrakenSystemStatus[] = ['online', 'maintenance', 'cancel_only', 'post_only'];

export function parseSystemStatus(result: unknown): SystemStatusInfo {
  const record = asRecord(result, 'SystemStatus result');
  return {
    status: asOneOf(record['status'], SYSTEM_STATUSES, 'SystemStatus result.status'),
    timestamp: asString(record['timestamp'], 'SystemStatus result.timestamp'),
  };
}

export interface AssetInfo {
  /** Asset id, e.g. `XXBT`. */
  readonly id: string;
  /** e.g. `XBT`. */
  readonly altname: string;
  readonly assetClass: string;
  readonly decimals: number;
  readonly displayDecimals: number;
  readonly status: string | null;
}

export function parseAssets(result: unknown): ReadonlyMap<string, AssetInfo> {
  return mapEntries(result, 'Assets result', (entry, id, path) => {
    const asset = asRecord(entry, path);
    return {
      id,
      altname: asString(asset['altname'], `${path}.altname`),
      assetClass: optional(asset['aclass'], asString, `${path}.aclass`) ?? 'currency',
      decimals: asInteger(asset['decimals'], `${path}.decimals`),
      displayDecimals: optional(asset['display_decimals'], asInteger, `${path}.display_decimals`) ?? asInteger(asset['decimals'], `${path}.decimals`),
      status: optional(asset['status'], asString, `${path}.status`),
    };
  });
}

/** One row of a fee schedule: at or above `volume` (30-day, in the fee volume currency), `percent` applies. */
export interface FeeTier {
  readonly volume: Decimal;
  readonly percent: Decimal;
}

export interface AssetPairInfo {
  /** Pair key, e.g. `XXBTZUSD`. */
  readonly key: string;
  readonly altname: string;
  readonly wsname: string | null;
  readonly base: string;
  readonly quote: string;
  readonly pairDecimals: number;
  readonly lotDecimals: number;
  readonly costDecimals: number;
  readonly lotMultiplier: number;
  /** `tick_size`, or one unit of the last price decimal when Kraken does not send it. */
  readonly tickSize: Decimal;
  readonly orderMin: Decimal;
  /** `costmin`, 0 when Kraken does not send it. */
  readonly costMin: Decimal;
  /** `status` as sent; `online` when absent. */
  readonly status: string;
  readonly takerFees: readonly FeeTier[];
  readonly makerFees: readonly FeeTier[];
}

const feeTiers = (value: unknown, path: string): readonly FeeTier[] =>
  (optional(value, asArray, path) ?? []).map((row, i) => {
    const [volume, percent] = asArray(row, `${path}[${i}]`);
    return { volume: asDecimal(volume, `${path}[${i}][0]`), percent: asDecimal(percent, `${path}[${i}][1]`) };
  });

export function parseAssetPair(value: unknown, key: string, path: string): AssetPairInfo {
  const pair = asRecord(value, path);
  const pairDecimals = asInteger(pair['pair_decimals'], `${path}.pair_decimals`);
  const takerFees = feeTiers(pair['fees'], `${path}.fees`);
  const makerFees = feeTiers(pair['fees_maker'], `${path}.fees_maker`);
  return {
    key,
    altname: asString(pair['altname'], `${path}.altname`),
    wsname: optional(pair['wsname'], asString, `${path}.wsname`),
    base: asString(pair['base'], `${path}.base`),
    quote: asString(pair['quote'], `${path}.quote`),
    pairDecimals,
    lotDecimals: asInteger(pair['lot_decimals'], `${path}.lot_decimals`),
    costDecimals: optional(pair['cost_decimals'], asInteger, `${path}.cost_decimals`) ?? pairDecimals,
    lotMultiplier: optional(pair['lot_multiplier'], asInteger, `${path}.lot_multiplier`) ?? 1,
    tickSize: optional(pair['tick_size'], asDecimal, `${path}.tick_size`) ?? new Decimal(1).div(new Decimal(10).pow(pairDecimals)),
    orderMin: asDecimal(pair['ordermin'], `${path}.ordermin`),
    costMin: optional(pair['costmin'], asDecimal, `${path}.costmin`) ?? new Decimal(0),
    status: optional(pair['status'], asString, `${path}.status`) ?? 'online',
    takerFees,
    makerFees: makerFees.length > 0 ? makerFees : takerFees,
  };
}

/** AssetPairs' result: pair key → info. */
export function parseAssetPairs(result: unknown): ReadonlyMap<string, AssetPairInfo> {
  return mapEntries(result, 'AssetPairs result', (entry, key, path) => parseAssetPair(entry, key, path));
}

export interface TickerInfo {
  /** Pair key. */
  readonly pair: string;
  readonly ask: { readonly price: Decimal; readonly wholeLotVolume: Decimal; readonly lotVolume: Decimal };
  readonly bid: { readonly price: Decimal; readonly wholeLotVolume: Decimal; readonly lotVolume: Decimal };
  readonly last: { readonly price: Decimal; readonly volume: Decimal };
  /** `[today, last 24 h]` pairs; null when Kraken leaves them out. */
  readonly volume: readonly [Decimal, Decimal] | null;
  readonly vwap: readonly [Decimal, Decimal] | null;
  readonly trades: readonly [number, number] | null;
  readonly low: readonly [Decimal, Decimal] | null;
  readonly high: readonly [Decimal, Decimal] | null;
  readonly open: Decimal | null;
}

const decimals = (value: unknown, path: string, length: number): Decimal[] => {
  const items = asArray(value, path);
  if (items.length < length) throw new WireFormatError(path, `at least ${length} entries, got ${items.length}`);
  return items.slice(0, length).map((item, i) => asDecimal(item, `${path}[${i}]`));
};

const todayAnd24h = (value: unknown, path: string): readonly [Decimal, Decimal] => {
  const [today, day] = decimals(value, path, 2);
  return [today!, day!];
};

export function parseTicker(value: unknown, pair: string, path: string): TickerInfo {
  const ticker = asRecord(value, path);
  const [askPrice, askWhole, askLot] = decimals(ticker['a'], `${path}.a`, 3);
  const [bidPrice, bidWhole, bidLot] = decimals(ticker['b'], `${path}.b`, 3);
  const [lastPrice, lastVolume] = decimals(ticker['c'], `${path}.c`, 2);
  const trades = optional(ticker['t'], asArray, `${path}.t`);
  return {
    pair,
    ask: { price: askPrice!, wholeLotVolume: askWhole!, lotVolume: askLot! },
    bid: { price: bidPrice!, wholeLotVolume: bidWhole!, lotVolume: bidLot! },
    last: { price: lastPrice!, volume: lastVolume! },
    volume: optional(ticker['v'], todayAnd24h, `${path}.v`),
    vwap: optional(ticker['p'], todayAnd24h, `${path}.p`),
    trades: trades === null ? null : [asNumber(trades[0], `${path}.t[0]`), asNumber(trades[1], `${path}.t[1]`)],
    low: optional(ticker['l'], todayAnd24h, `${path}.l`),
    high: optional(ticker['h'], todayAnd24h, `${path}.h`),
    open: optional(ticker['o'], asDecimal, `${path}.o`),
  };
}

/** Ticker's result: pair key → ticker. */
export function parseTickers(result: unknown): ReadonlyMap<string, TickerInfo> {
  return mapEntries(result, 'Ticker result', (entry, pair, path) => parseTicker(entry, pair, path));
}
