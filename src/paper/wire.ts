import { Decimal } from 'decimal.js';
import { type PaperAsset, type PaperPair } from './catalogue';
import { type PaperTrade } from './engine';
import { type MarketStats } from './market';
import { isOpen, isTriggerType, type PaperOrder } from './orders';

/**
 * Kraken's JSON shapes for the paper exchange's objects: field names and string-typed numbers exactly as
 * kraken-api.md §3 and §5 show them (prices to `pair_decimals`, volumes to `lot_decimals`, cost and fee to
 * `cost_decimals`, times as float seconds).
 */

type Json = string | number | boolean | null | readonly Json[] | { readonly [key: string]: Json };
export type JsonObject = { readonly [key: string]: Json };

const ZERO_PRICE = '0.00000';

export const priceText = (p: PaperPair, price: Decimal): string => price.toFixed(p.pairDecimals);
export const volumeText = (p: PaperPair, volume: Decimal): string => volume.toFixed(p.lotDecimals, Decimal.ROUND_DOWN);
const costText = (p: PaperPair, cost: Decimal): string => cost.toFixed(p.costDecimals);
export const seconds = (ms: number): number => Math.round(ms * 10) / 10_000;

/** `buy 0.10000000 XBTUSD @ limit 30000.0`, as Kraken describes an order. */
export function describeOrder(o: Pick<PaperOrder, 'pair' | 'side' | 'orderType' | 'volume' | 'price' | 'price2'>): string {
  const p = o.pair;
  const price = o.price ? priceText(p, o.price) : '';
  const price2 = o.price2 ? priceText(p, o.price2) : '';
  const how = (() => {
    switch (o.orderType) {
      case 'market':
        return 'market';
      case 'limit':
        return `limit ${price}`;
      case 'stop-loss':
        return `stop loss ${price}`;
      case 'take-profit':
        return `take profit ${price}`;
      case 'stop-loss-limit':
        return `stop loss ${price} -> limit ${price2}`;
      case 'take-profit-limit':
        return `take profit ${price} -> limit ${price2}`;
    }
  })();
  return `${o.side} ${volumeText(p, o.volume)} ${p.altname} @ ${how}`;
}

export function orderDescr(o: Pick<PaperOrder, 'pair' | 'side' | 'orderType' | 'volume' | 'price' | 'price2'>): JsonObject {
  return {
    pair: o.pair.altname,
    type: o.side,
    ordertype: o.orderType,
    price: o.price ? priceText(o.pair, o.price) : '0',
    price2: o.price2 ? priceText(o.pair, o.price2) : '0',
    leverage: 'none',
    order: describeOrder(o),
    close: '',
  };
}

export function orderJson(o: PaperOrder, withTrades: boolean): JsonObject {
  const p = o.pair;
  const average = o.volExec.gt(0) ? o.cost.div(o.volExec) : new Decimal(0);
  const body: Record<string, Json> = {
    refid: null,
    userref: o.userref ?? (o.clOrdId === null ? 0 : null),
  };
  if (o.clOrdId !== null) body['cl_ord_id'] = o.clOrdId;
  body['status'] = o.status;
  body['reason'] = o.reason;
  body['opentm'] = seconds(o.openedAt);
  if (!isOpen(o) && o.closedAt !== null) body['closetm'] = seconds(o.closedAt);
  body['starttm'] = 0;
  body['expiretm'] = o.expiresAt === null ? 0 : seconds(o.expiresAt);
  body['descr'] = orderDescr(o);
  body['vol'] = volumeText(p, o.volume);
  body['vol_exec'] = volumeText(p, o.volExec);
  body['cost'] = costText(p, o.cost);
  body['fee'] = costText(p, o.fee);
  body['price'] = priceText(p, average);
  body['stopprice'] = isTriggerType(o.orderType) && o.price ? priceText(p, o.price) : ZERO_PRICE;
  body['limitprice'] = o.triggered && o.price2 ? priceText(p, o.price2) : ZERO_PRICE;
  body['misc'] = o.misc.join(',');
  body['oflags'] = o.oflags.join(',');
  if (withTrades) body['trades'] = [...o.trades];
  return body;
}

export function tradeJson(t: PaperTrade): JsonObject {
  const p = t.pair;
  return {
    ordertxid: t.orderTxid,
    postxid: t.id,
    pair: p.key,
    time: seconds(t.time),
    type: t.side,
    ordertype: t.orderType,
    price: costText(p, t.price),
    cost: costText(p, t.cost),
    fee: costText(p, t.fee),
    vol: volumeText(p, t.volume),
    margin: costText(p, new Decimal(0)),
    leverage: '0',
    misc: '',
    trade_id: t.tradeNumber,
    maker: t.maker,
  };
}

const feeSchedule = (rows: readonly (readonly [number, number])[]): Json => rows.map(([v, pct]) => [v, pct]);

export function pairJson(p: PaperPair): JsonObject {
  return {
    altname: p.altname,
    wsname: p.wsname,
    aclass_base: 'currency',
    base: p.base,
    aclass_quote: 'currency',
    quote: p.quote,
    lot: 'unit',
    cost_decimals: p.costDecimals,
    pair_decimals: p.pairDecimals,
    lot_decimals: p.lotDecimals,
    lot_multiplier: 1,
    leverage_buy: [],
    leverage_sell: [],
    fees: feeSchedule(p.fees),
    fees_maker: feeSchedule(p.feesMaker),
    fee_volume_currency: 'ZUSD',
    margin_call: 80,
    margin_stop: 40,
    ordermin: p.orderMin.toFixed(),
    costmin: p.costMin.toFixed(),
    tick_size: p.tickSize.toFixed(),
    status: 'online',
  };
}

export function assetJson(a: PaperAsset): JsonObject {
  return {
    aclass: 'currency',
    altname: a.altname,
    decimals: a.decimals,
    display_decimals: a.displayDecimals,
    status: 'enabled',
  };
}

export function tickerJson(p: PaperPair, s: MarketStats): JsonObject {
  const px = (d: Decimal): string => priceText(p, d);
  const vol = (d: Decimal): string => volumeText(p, d);
  const depth = p.liquidityPerStep;
  const wholeLots = Decimal.max(1, depth.toDecimalPlaces(0, Decimal.ROUND_DOWN)).toFixed();
  return {
    a: [px(s.ask), wholeLots, depth.toFixed(3)],
    b: [px(s.bid), wholeLots, depth.toFixed(3)],
    c: [px(s.last), vol(s.lastVolume)],
    v: [vol(s.volume), vol(s.volume)],
    p: [px(s.vwap), px(s.vwap)],
    t: [s.trades, s.trades],
    l: [px(s.low), px(s.low)],
    h: [px(s.high), px(s.high)],
    o: px(s.open),
  };
}

/** Kraken's `2023-03-24T17:41:56Z` (whole seconds). */
export const rfc3339Seconds = (ms: number): string => new Date(Math.floor(ms / 1000) * 1000).toISOString().replace('.000Z', 'Z');

/** `Thu, 06 Jul 23 18:50:48 +0000`, the `rfc1123` field of `Time`. */
export function rfc1123(ms: number): string {
  const d = new Date(ms);
  const days = ['Sun', 'Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat'];
  const months = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];
  const two = (n: number): string => String(n).padStart(2, '0');
  return `${days[d.getUTCDay()] ?? ''}, ${two(d.getUTCDate())} ${months[d.getUTCMonth()] ?? ''} ${two(d.getUTCFullYear() % 100)} ${two(d.getUTCHours())}:${two(d.getUTCMinutes())}:${two(d.getUTCSeconds())} +0000`;
}
