import { Decimal } from 'decimal.js';
import { type PaperTrade } from './engine';
import { type PaperOrder } from './orders';
import { type Params } from './params';
import { failure, type Outcome, success } from './public-api';
import { type Venue } from './venue';
import { type JsonObject, orderJson, tradeJson } from './wire';

const PAGE = 50;
const MAX_QUERY_TXIDS = 50;

type Filter = { readonly ok: true; readonly keep: (o: PaperOrder) => boolean } | { readonly ok: false; readonly error: string };

/** The `userref` / `cl_ord_id` filters shared by OpenOrders and ClosedOrders. */
function idFilter(params: Params): Filter {
  const userrefText = params.text('userref');
  const clOrdId = params.text('cl_ord_id');
  if (userrefText === null || (userrefText !== undefined && !/^-?\d{1,10}$/.test(userrefText))) {
    return { ok: false, error: 'EGeneral:Invalid arguments:userref' };
  }
  if (clOrdId === null) return { ok: false, error: 'EGeneral:Invalid arguments:cl_ord_id' };
  const userref = userrefText === undefined ? undefined : Number(userrefText);
  return {
    ok: true,
    keep: (o) => (userref === undefined || o.userref === userref) && (clOrdId === undefined || o.clOrdId === clOrdId),
  };
}

const withTrades = (params: Params): boolean => params.flag('trades') === true;

/** OpenOrders. An order younger than the OpenOrders lag is not listed yet (Kraken's just-placed gap). */
export function openOrders(venue: Venue, params: Params, now: number): Outcome {
  const filter = idFilter(params);
  if (!filter.ok) return failure(filter.error);
  const trades = withTrades(params);
  const open: Record<string, JsonObject> = {};
  for (const o of venue.book.open()) {
    if (now - o.openedAt < venue.openOrdersLagMs) continue;
    if (filter.keep(o)) open[o.txid] = orderJson(o, trades);
  }
  return success({ open });
}

/** A `start` / `end` bound: unix seconds, or a txid meaning that order's open time. */
function bound(venue: Venue, text: string | undefined | null): number | undefined | null {
  if (text === undefined) return undefined;
  if (text === null) return null;
  if (/^\d+(\.\d+)?$/.test(text)) return Number(text) * 1000;
  const order = venue.book.get(text);
  return order ? order.openedAt : null;
}

/** ClosedOrders: newest first, 50 per page from `ofs`, `count` = all that match. */
export function closedOrders(venue: Venue, params: Params): Outcome {
  const filter = idFilter(params);
  if (!filter.ok) return failure(filter.error);
  const start = bound(venue, params.text('start'));
  const end = bound(venue, params.text('end'));
  if (start === null) return failure('EGeneral:Invalid arguments:start');
  if (end === null) return failure('EGeneral:Invalid arguments:end');
  const closetime = params.text('closetime') ?? 'both';
  if (closetime !== 'open' && closetime !== 'close' && closetime !== 'both') return failure('EGeneral:Invalid arguments:closetime');
  const ofs = pageOffset(params);
  if (ofs === undefined) return failure('EGeneral:Invalid arguments:ofs');
  const inRange = (t: number | null): boolean => t !== null && (start === undefined || t > start) && (end === undefined || t <= end);
  const matching = venue.book
    .closed()
    .filter(filter.keep)
    .filter((o) =>
      closetime === 'open' ? inRange(o.openedAt) : closetime === 'close' ? inRange(o.closedAt) : inRange(o.openedAt) || inRange(o.closedAt),
    )
    .sort((a, b) => (b.closedAt ?? 0) - (a.closedAt ?? 0) || b.openedAt - a.openedAt);
  const trades = withTrades(params);
  const closed: Record<string, JsonObject> = {};
  for (const o of matching.slice(ofs, ofs + PAGE)) closed[o.txid] = orderJson(o, trades);
  return success({ closed, count: matching.length });
}

function pageOffset(params: Params): number | undefined {
  const text = params.text('ofs');
  if (text === undefined) return 0;
  if (text === null || !/^\d{1,9}$/.test(text)) return undefined;
  return Number(text);
}

/** QueryOrders: up to 50 txids (comma list); an unknown txid fails the call. */
export function queryOrders(venue: Venue, params: Params): Outcome {
  const raw = params.text('txid');
  if (raw === undefined || raw === null || raw.trim() === '') return failure('EGeneral:Invalid arguments:txid');
  const txids = raw.split(',').map((t) => t.trim());
  if (txids.length > MAX_QUERY_TXIDS || txids.some((t) => t === '')) return failure('EGeneral:Invalid arguments:txid');
  const userrefText = params.text('userref');
  if (userrefText === null || (userrefText !== undefined && !/^-?\d{1,10}$/.test(userrefText))) return failure('EGeneral:Invalid arguments:userref');
  const trades = withTrades(params);
  const result: Record<string, JsonObject> = {};
  for (const txid of txids) {
    const order = venue.book.get(txid);
    // UNCONFIRMED: Kraken's answer for an unknown txid in QueryOrders; `EOrder:Invalid order` is what is reported.
    if (!order) return failure('EOrder:Invalid order');
    if (userrefText !== undefined && order.userref !== Number(userrefText)) continue;
    result[txid] = orderJson(order, trades);
  }
  return success(result);
}

const amountText = (venue: Venue, asset: string, amount: Decimal): string =>
  amount.toFixed(venue.catalogue.asset(asset)?.decimals ?? 8, Decimal.ROUND_DOWN);

export function balance(venue: Venue): Outcome {
  const result: Record<string, string> = {};
  for (const asset of venue.ledger.assets()) result[asset] = amountText(venue, asset, venue.ledger.balance(asset));
  return success(result);
}

/** BalanceEx: each asset's `balance` and `hold_trade` (held by open orders). */
export function balanceEx(venue: Venue): Outcome {
  const holds = venue.engine.holds();
  const result: Record<string, JsonObject> = {};
  for (const asset of venue.ledger.assets()) {
    const held = (holds.get(asset) ?? new Decimal(0)).toDecimalPlaces(venue.catalogue.asset(asset)?.decimals ?? 8, Decimal.ROUND_UP);
    result[asset] = { balance: amountText(venue, asset, venue.ledger.balance(asset)), hold_trade: amountText(venue, asset, held) };
  }
  return success(result);
}

/** TradesHistory: newest first, 50 per page from `ofs`. */
export function tradesHistory(venue: Venue, params: Params): Outcome {
  const start = bound(venue, params.text('start'));
  const end = bound(venue, params.text('end'));
  if (start === null) return failure('EGeneral:Invalid arguments:start');
  if (end === null) return failure('EGeneral:Invalid arguments:end');
  const ofs = pageOffset(params);
  if (ofs === undefined) return failure('EGeneral:Invalid arguments:ofs');
  const matching: PaperTrade[] = venue.engine
    .trades()
    .filter((t) => (start === undefined || t.time > start) && (end === undefined || t.time <= end))
    .reverse();
  const trades: Record<string, JsonObject> = {};
  for (const t of matching.slice(ofs, ofs + PAGE)) trades[t.id] = tradeJson(t);
  return success({ trades, count: matching.length });
}
