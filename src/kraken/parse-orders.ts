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
const KNOWN_STATUSES: ReadonlySet<string> = new Set(STATUSES);
const SIDES = ['buy', 'sell'] as const;

/**
 * Decimals already read in one answer, by their text. A Decimal is immutable, so the orders of one answer can
 * share one instance per distinct numeral: most fields of a 10,000-order OpenOrders answer repeat (`0.00000`,
 * the same volume, the same price), and parsing them once instead of 10,000 times is most of the parse; what a
 * follower keeps of its order's last snapshot then costs next to nothing either.
 */
export class DecimalTexts {
  private readonly seen = new Map<string, Decimal>();

  read(value: unknown, path: () => string): Decimal {
    if (typeof value === 'string') {
      const known = this.seen.get(value);
      if (known) return known;
      const parsed = asDecimal(value, path());
      // Bounded: an answer of all-distinct numerals must not grow it without limit.
      if (this.seen.size < 65_536) this.seen.set(value, parsed);
      return parsed;
    }
    return asDecimal(value, path());
  }
}

/** A price field where Kraken writes `"0"` (or omits it) to mean "none"; odd text (relative prices) is none too. */
const priceOrNull = (value: unknown, decimals: DecimalTexts, path: () => string): Decimal | null => {
  if (value === undefined || value === null || value === '') return null;
  try {
    const price = decimals.read(value, path);
    return price.isZero() ? null : price;
  } catch {
    return null;
  }
};

/** Which of `descr.price` / `descr.price2` is the limit and which the trigger depends on the order type. */
function pricesOf(orderType: string, descr: Readonly<Record<string, unknown>>, decimals: DecimalTexts, path: string) {
  const price = priceOrNull(descr['price'], decimals, () => `${path}.price`);
  const price2 = priceOrNull(descr['price2'], decimals, () => `${path}.price2`);
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

// Field readers whose error path is built only when the field is bad: an answer has 15 fields per order.
const stringField = (record: Readonly<Record<string, unknown>>, name: string, path: string): string => {
  const value = record[name];
  return typeof value === 'string' ? value : asString(value, `${path}.${name}`);
};

const optionalField = <T>(record: Readonly<Record<string, unknown>>, name: string, read: (value: unknown, path: string) => T, path: string): T | null => {
  const value = record[name];
  return value === undefined || value === null ? null : read(value, `${path}.${name}`);
};

const numberField = (record: Readonly<Record<string, unknown>>, name: string, path: string): number => {
  const value = record[name];
  return typeof value === 'number' && Number.isFinite(value) ? value : asNumber(value, `${path}.${name}`);
};

/**
 * One Kraken order object as an `OrderSnapshot`.
 *
 * @param value the order object (`KrakenOrderWire`)
 * @param txid its key in the response map
 * @param path where it sits in the response, for error messages
 * @param decimals numerals already read in the same answer (shared, immutable Decimals)
 * @throws WireFormatError naming the first missing or malformed required field
 */
export function parseOrder(value: unknown, txid: string, path: string, decimals: DecimalTexts = new DecimalTexts()): OrderSnapshot {
  const order = asRecord(value, path);
  const descrPath = `${path}.descr`;
  const descr = asRecord(order['descr'], descrPath);
  const orderType = stringField(descr, 'ordertype', descrPath);
  const clientOrderId = optionalField(order, 'cl_ord_id', asString, path);
  const closedAt = optionalField(order, 'closetm', asNumber, path);
  const side = descr['type'];
  const status = order['status'];
  return {
    txid,
    clientOrderId: clientOrderId === '' ? null : clientOrderId,
    pair: stringField(descr, 'pair', descrPath),
    side: side === 'buy' || side === 'sell' ? side : asOneOf(side, SIDES, `${descrPath}.type`),
    orderType,
    status: typeof status === 'string' && KNOWN_STATUSES.has(status) ? (status as ExchangeOrderStatus) : asOneOf(status, STATUSES, `${path}.status`),
    volume: decimals.read(order['vol'], () => `${path}.vol`),
    volumeExecuted: decimals.read(order['vol_exec'], () => `${path}.vol_exec`),
    cost: decimals.read(order['cost'], () => `${path}.cost`),
    fee: decimals.read(order['fee'], () => `${path}.fee`),
    averagePrice: decimals.read(order['price'], () => `${path}.price`),
    ...pricesOf(orderType, descr, decimals, descrPath),
    openedAt: numberField(order, 'opentm', path),
    closedAt: closedAt === 0 ? null : closedAt,
    reason: optionalField(order, 'reason', asString, path),
  };
}

const ordersOf = (value: unknown, path: string): ReadonlyMap<string, OrderSnapshot> => {
  const decimals = new DecimalTexts();
  return mapEntries(value, path, (entry, txid, entryPath) => parseOrder(entry, txid, entryPath, decimals));
};

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

/** ClosedOrders' result read as one page of a walk: without its `count` the walk cannot know where it ends. */
export function parseClosedOrdersPage(result: unknown): ClosedOrdersResult {
  const record = asRecord(result, 'ClosedOrders result');
  return { orders: ordersOf(record['closed'], 'ClosedOrders result.closed'), count: asInteger(record['count'], 'ClosedOrders result.count') };
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
