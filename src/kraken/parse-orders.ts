import { type Decimal } from 'decimal.js';
import { type CancelOutcome, type ExchangeOrderStatus, type OrderSnapshot } from '../model/order';
import {
  asArray,
  asBoolean,
  asDecimal,
  asInteger,
  asNumber,
  asOneOf,
  asRecord,
  asString,
  mapEntries,
  optional,
} from './wire-parse';

const STATUSES: readonly ExchangeOrderStatus[] = ['pending', 'open', 'closed', 'canceled', 'expired'];
const SIDES = ['buy', 'sell'] as const;

/** A price field where Kraken writes `"0"` (or omits it) to mean "none"; odd text (relative prices) is none too. */
const priceOrNull = (value: unknown, path: string): Decimal | null => {
  if (value === undefined || value === null || value === '') return null;
  try {
    const price = asDecimal(value, path);
    return price.isZero() ? null : price;
  } catch {
    return null;
  }
};

/** Which of `descr.price` / `descr.price2` is the limit and which the trigger depends on the order type. */
function pricesOf(orderType: string, descr: Readonly<Record<string, unknown>>, path: string) {
  const price = priceOrNull(descr['price'], `${path}.price`);
  const price2 = priceOrNull(descr['price2'], `${path}.price2`);
  switch (orderType) {
    case 'limit':
    case 'iceberg':
      return { limitPrice: price, stopPrice: null };
    case 'stop-loss':
    case 'take-profit':
    case 'trailing-stop':
      return { limitPrice: null, stopPrice: price };
    case 'stop-loss-limit':
    case 'take-profit-limit':
    case 'trailing-stop-limit':
      return { limitPrice: price2, stopPrice: price };
    default:
      return { limitPrice: null, stopPrice: null };
  }
}

/**
 * One Kraken order object as an `OrderSnapshot`.
 *
 * @param value the order object (`KrakenOrderWire`)
 * @param txid its key in the response map
 * @param path where it sits in the response, for error messages
 * @throws WireFormatError naming the first missing or malformed required field
 */
export function parseOrder(value: unknown, txid: string, path: string): OrderSnapshot {
  const order = asRecord(value, path);
  const descr = asRecord(order['descr'], `${path}.descr`);
  const orderType = asString(descr['ordertype'], `${path}.descr.ordertype`);
  const clientOrderId = optional(order['cl_ord_id'], asString, `${path}.cl_ord_id`);
  const closedAt = optional(order['closetm'], asNumber, `${path}.closetm`);
  return {
    txid,
    clientOrderId: clientOrderId === '' ? null : clientOrderId,
    pair: asString(descr['pair'], `${path}.descr.pair`),
    side: asOneOf(descr['type'], SIDES, `${path}.descr.type`),
    orderType,
    status: asOneOf(order['status'], STATUSES, `${path}.status`),
    volume: asDecimal(order['vol'], `${path}.vol`),
    volumeExecuted: asDecimal(order['vol_exec'], `${path}.vol_exec`),
    cost: asDecimal(order['cost'], `${path}.cost`),
    fee: asDecimal(order['fee'], `${path}.fee`),
    averagePrice: asDecimal(order['price'], `${path}.price`),
    ...pricesOf(orderType, descr, `${path}.descr`),
    openedAt: asNumber(order['opentm'], `${path}.opentm`),
    closedAt: closedAt === 0 ? null : closedAt,
    reason: optional(order['reason'], asString, `${path}.reason`),
  };
}

const ordersOf = (value: unknown, path: string): ReadonlyMap<string, OrderSnapshot> =>
  mapEntries(value, path, (entry, txid, entryPath) => parseOrder(entry, txid, entryPath));

/** AddOrder's result: the txids (none for `validate=true`) and Kraken's description of the order. */
export interface AddOrderResult {
  readonly txids: readonly string[];
  readonly description: string;
  /** Description of the conditional close, when one was attached. */
  readonly closeDescription: string | null;
}

export function parseAddOrder(result: unknown): AddOrderResult {
  const record = asRecord(result, 'AddOrder result');
  const descr = asRecord(record['descr'], 'AddOrder result.descr');
  const txids = optional(record['txid'], asArray, 'AddOrder result.txid') ?? [];
  const close = optional(descr['close'], asString, 'AddOrder result.descr.close');
  return {
    txids: txids.map((txid, i) => asString(txid, `AddOrder result.txid[${i}]`)),
    description: asString(descr['order'], 'AddOrder result.descr.order'),
    closeDescription: close === '' ? null : close,
  };
}

/** CancelOrder's and CancelAll's result. */
export function parseCancelOrder(result: unknown, endpoint = 'CancelOrder'): CancelOutcome {
  const record = asRecord(result, `${endpoint} result`);
  return {
    count: asInteger(record['count'], `${endpoint} result.count`),
    pending: optional(record['pending'], asBoolean, `${endpoint} result.pending`) ?? false,
  };
}

/** OpenOrders' result: txid → snapshot. */
export function parseOpenOrders(result: unknown): ReadonlyMap<string, OrderSnapshot> {
  const record = asRecord(result, 'OpenOrders result');
  return ordersOf(record['open'], 'OpenOrders result.open');
}

/** ClosedOrders' result: one page of orders and the total count of matching closed orders. */
export interface ClosedOrdersResult {
  readonly orders: ReadonlyMap<string, OrderSnapshot>;
  readonly count: number;
}

export function parseClosedOrders(result: unknown): ClosedOrdersResult {
  const record = asRecord(result, 'ClosedOrders result');
  const orders = ordersOf(record['closed'], 'ClosedOrders result.closed');
  return { orders, count: optional(record['count'], asInteger, 'ClosedOrders result.count') ?? orders.size };
}

/** QueryOrders' result: txid → snapshot. */
export function parseQueryOrders(result: unknown): ReadonlyMap<string, OrderSnapshot> {
  return ordersOf(result, 'QueryOrders result');
}

export interface CancelAllOrdersAfterResult {
  readonly currentTime: string;
  readonly triggerTime: string;
}

export function parseCancelAllOrdersAfter(result: unknown): CancelAllOrdersAfterResult {
  const record = asRecord(result, 'CancelAllOrdersAfter result');
  return {
    currentTime: asString(record['currentTime'], 'CancelAllOrdersAfter result.currentTime'),
    triggerTime: asString(record['triggerTime'], 'CancelAllOrdersAfter result.triggerTime'),
  };
}
