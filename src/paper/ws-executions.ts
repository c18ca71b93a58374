import { Decimal } from 'decimal.js';
import { type PairCatalogue, type PaperPair } from './catalogue';
import { type EngineEvent, type PaperTrade } from './engine';
import { type MarketStats } from './market';
import { isOpen, isTriggerType, type PaperOrder } from './orders';
import { type WsObject, int, num, wsTime } from './ws-frames';

/**
 * Kraken's WebSocket v2 payloads for paper orders, fills and prices (kraken-api.md §8.2): sparse execution
 * events (a `new` or `canceled` carries no `symbol`), full ones for `pending_new`, trades and snapshots; numbers
 * as JSON numbers; symbols and assets in v2's common codes (`BTC/USD`, `BTC`), where REST says `XBT`.
 */

const COMMON_CODES: Readonly<Record<string, string>> = { XBT: 'BTC', XDG: 'DOGE' };
const common = (code: string): string => COMMON_CODES[code] ?? code;

/** `XBT/USD` → `BTC/USD`. */
export const wsSymbol = (pair: PaperPair): string => pair.wsname.split('/').map(common).join('/');

const ZERO = new Decimal(0);

/** Kraken's WS `order_status` for a paper order's state. */
function orderStatus(o: PaperOrder): string {
  switch (o.status) {
    case 'pending':
      return 'pending_new';
    case 'open':
      return o.volExec.gt(0) ? 'partially_filled' : 'new';
    case 'closed':
      return 'filled';
    case 'canceled':
      return 'canceled';
    case 'expired':
      return 'expired';
  }
}

const ids = (o: PaperOrder): WsObject => ({
  order_id: o.txid,
  ...(o.clOrdId !== null ? { cl_ord_id: o.clOrdId } : {}),
  order_userref: int(o.userref ?? 0),
});

const progress = (o: PaperOrder): WsObject => ({
  cum_qty: num(o.volExec),
  cum_cost: num(o.cost),
  avg_price: num(o.volExec.gt(0) ? o.cost.div(o.volExec).toDecimalPlaces(o.pair.pairDecimals) : ZERO),
  fee_usd_equiv: num(o.pair.quote === 'ZUSD' ? o.fee : ZERO),
});

/** The terms of an order, as `pending_new` and the snapshot describe it. */
function terms(o: PaperOrder): WsObject {
  const trigger = isTriggerType(o.orderType) && o.price !== null;
  const limit = o.orderType === 'limit' ? o.price : o.price2;
  return {
    symbol: wsSymbol(o.pair),
    side: o.side,
    order_type: o.orderType,
    order_qty: num(o.volume),
    ...(limit !== null ? { limit_price: num(limit), limit_price_type: 'static' } : {}),
    ...(trigger && o.price !== null
      ? { triggers: { reference: 'last', price: num(o.price), price_type: 'static', status: o.triggered ? 'triggered' : 'untriggered' } }
      : {}),
    time_in_force: o.timeInForce,
    post_only: o.postOnly,
    // As the order's oflags show it (Kraken lists the implicit fcib on sells).
    fee_ccy_pref: o.oflags.includes('fcib') ? 'fcib' : 'fciq',
    ...(o.expiresAt !== null ? { expire_time: wsTime(o.expiresAt) } : {}),
  };
}

function tradeFields(t: PaperTrade, catalogue: PairCatalogue): WsObject {
  const feeAsset = catalogue.findAsset(t.pair.quote)?.altname ?? t.pair.quote;
  return {
    exec_id: t.id,
    trade_id: int(t.tradeNumber),
    symbol: wsSymbol(t.pair),
    side: t.side,
    order_type: t.orderType,
    last_qty: num(t.volume),
    last_price: num(t.price),
    cost: num(t.cost),
    liquidity_ind: t.maker ? 'm' : 't',
    fees: [{ asset: common(feeAsset), qty: num(t.fee) }],
  };
}

/** The `executions` entries one engine event makes (Kraken sends `pending_new` then `new` for an accepted order). */
export function executionEntries(event: EngineEvent, catalogue: PairCatalogue): WsObject[] {
  const o = event.order;
  switch (event.kind) {
    case 'accepted':
      return [
        { ...ids(o), exec_type: 'pending_new', order_status: 'pending_new', ...terms(o), ...progress(o), timestamp: wsTime(event.at) },
        { ...ids(o), exec_type: 'new', order_status: 'new', timestamp: wsTime(event.at) },
      ];
    case 'trade':
      // Kraken's own nuance: a trade that completes the order may still say partially_filled; `filled` follows.
      return [
        {
          ...ids(o),
          exec_type: 'trade',
          order_status: 'partially_filled',
          ...tradeFields(event.trade, catalogue),
          ...progress(o),
          timestamp: wsTime(event.trade.time),
        },
      ];
    case 'closed': {
      const status = orderStatus(o);
      return [
        {
          ...ids(o),
          exec_type: status,
          order_status: status,
          ...(o.reason !== null ? { reason: o.reason } : {}),
          ...progress(o),
          timestamp: wsTime(event.at),
        },
      ];
    }
  }
}

/** One open order in the `snap_orders` snapshot. */
export function snapshotOrder(o: PaperOrder): WsObject {
  if (!isOpen(o)) throw new Error(`paper ws: order ${o.txid} is not open`);
  return { ...ids(o), exec_type: 'new', order_status: orderStatus(o), ...terms(o), ...progress(o), timestamp: wsTime(o.openedAt) };
}

/** One fill in the `snap_trades` snapshot. */
export function snapshotTrade(t: PaperTrade, order: PaperOrder | undefined, catalogue: PairCatalogue): WsObject {
  return {
    order_id: t.orderTxid,
    ...(order && order.clOrdId !== null ? { cl_ord_id: order.clOrdId } : {}),
    order_userref: int(order?.userref ?? 0),
    exec_type: 'trade',
    ...tradeFields(t, catalogue),
    timestamp: wsTime(t.time),
  };
}

/** One `ticker` entry (WS v2: numbers, `change` since the open). */
export function tickerEntry(pair: PaperPair, s: MarketStats): WsObject {
  const depth = pair.liquidityPerStep;
  const change = s.last.minus(s.open);
  return {
    symbol: wsSymbol(pair),
    bid: num(s.bid),
    bid_qty: num(depth),
    ask: num(s.ask),
    ask_qty: num(depth),
    last: num(s.last),
    volume: num(s.volume.toDecimalPlaces(pair.lotDecimals, Decimal.ROUND_DOWN)),
    vwap: num(s.vwap.toDecimalPlaces(pair.pairDecimals)),
    low: num(s.low),
    high: num(s.high),
    change: num(change),
    change_pct: num(s.open.isZero() ? ZERO : change.div(s.open).mul(100).toDecimalPlaces(2)),
  };
}
