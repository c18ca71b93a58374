import { type Decimal } from 'decimal.js';
import { type FeedFee, type FeedOrder, type FeedOrderChange, type FeedOrderStatus, type FeedTrade } from '../model/feed';
import { type Quote } from '../model/order';
import { JsonNumber, asExactDecimal, asExactInteger, asIdText, parseExactJson } from './ws-json';
import { WireFormatError, type WireRecord, asArray, asBoolean, asOneOf, asString } from './wire-parse';

/**
 * Kraken WebSocket v2 frames as typed values (kraken-api.md §8), read as strictly as the REST parsers: a frame
 * that does not have Kraken's shape is a `WireFormatError` naming the field, never a half-read value. Numbers are
 * taken from their JSON text (`ws-json.ts`). Fields nobody asked for are ignored.
 */

/** A symbol (`BTC/USD`) → canonical pair key; `undefined` for a pair the client does not know. */
export type PairOfSymbol = (symbol: string) => string | undefined;

export interface WsResponse {
  readonly method: string;
  readonly reqId: number | null;
  readonly outcome: { readonly success: true; readonly result: WireRecord } | { readonly success: false; readonly error: string };
}

/** One entry of an executions frame: an order event, a fill, or (a `trade` with its order status) both. */
export interface ExecutionEntry {
  readonly order: FeedOrder | null;
  readonly trade: FeedTrade | null;
}

export type WsInbound =
  | { readonly type: 'status'; readonly system: string; readonly connectionId: string | null }
  | { readonly type: 'heartbeat' }
  | { readonly type: 'pong'; readonly reqId: number | null }
  | { readonly type: 'response'; readonly response: WsResponse }
  | { readonly type: 'executions'; readonly snapshot: boolean; readonly sequence: number; readonly entries: readonly ExecutionEntry[] }
  | { readonly type: 'ticker'; readonly quotes: readonly Quote[] }
  /** A channel this client does not read (book, trade, …): ignored, but it is traffic (the watchdog counts it). */
  | { readonly type: 'other'; readonly channel: string };

const asWsRecord = (value: unknown, path: string): WireRecord => {
  if (typeof value !== 'object' || value === null || Array.isArray(value) || value instanceof JsonNumber) {
    throw new WireFormatError(path, 'an object');
  }
  return value as WireRecord;
};

const opt = <T>(record: WireRecord, field: string, read: (value: unknown, path: string) => T, path: string): T | null => {
  const value = record[field];
  return value === undefined || value === null ? null : read(value, `${path}.${field}`);
};

const EXEC_TYPES = ['pending_new', 'new', 'trade', 'filled', 'iceberg_refill', 'canceled', 'expired', 'amended', 'restated', 'status'] as const;
const ORDER_STATUSES = ['pending_new', 'new', 'partially_filled', 'filled', 'canceled', 'expired'] as const;

const CHANGE: Readonly<Record<(typeof EXEC_TYPES)[number], FeedOrderChange>> = {
  pending_new: 'pending',
  new: 'new',
  trade: 'trade',
  filled: 'filled',
  iceberg_refill: 'iceberg-refill',
  canceled: 'canceled',
  expired: 'expired',
  amended: 'amended',
  restated: 'restated',
  status: 'status',
};

const STATUS: Readonly<Record<(typeof ORDER_STATUSES)[number], FeedOrderStatus>> = {
  pending_new: 'pending',
  new: 'open',
  partially_filled: 'partially-filled',
  filled: 'filled',
  canceled: 'canceled',
  expired: 'expired',
};

/** RFC 3339 with up to nanoseconds → epoch ms (the sub-millisecond digits are dropped, not rounded through a float). */
const asTimestamp = (value: unknown, path: string): number => {
  const text = asString(value, path);
  const match = /^(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2})(?:\.(\d+))?(Z|[+-]\d{2}:\d{2})$/.exec(text);
  const at = match ? Date.parse(`${match[1]}.${(match[2] ?? '').padEnd(3, '0').slice(0, 3)}${match[3]}`) : Number.NaN;
  if (Number.isNaN(at)) throw new WireFormatError(path, `an RFC 3339 time, got ${JSON.stringify(text.slice(0, 40))}`);
  return at;
};

const SIDES = ['buy', 'sell'] as const;

function fees(value: unknown, path: string): readonly FeedFee[] {
  return asArray(value, path).map((entry, i) => {
    const fee = asWsRecord(entry, `${path}[${i}]`);
    return { asset: asString(fee['asset'], `${path}[${i}].asset`), amount: asExactDecimal(fee['qty'], `${path}[${i}].qty`) };
  });
}

/**
 * One `executions` entry. A `trade` entry is a fill (and, when it carries `order_status`, an order event too);
 * every other entry is an order event. `pairOf` maps a symbol to its pair key (an unknown symbol is `null`).
 */
export function parseExecutionEntry(value: unknown, path: string, pairOf: PairOfSymbol): ExecutionEntry {
  const entry = asWsRecord(value, path);
  const txid = asString(entry['order_id'], `${path}.order_id`);
  const execType = asOneOf(entry['exec_type'], EXEC_TYPES, `${path}.exec_type`);
  const symbol = opt(entry, 'symbol', asString, path);
  const pair = symbol === null ? null : (pairOf(symbol) ?? null);
  const clientOrderId = opt(entry, 'cl_ord_id', asString, path);
  const userref = opt(entry, 'order_userref', asExactInteger, path);
  const side = opt(entry, 'side', (v, p) => asOneOf(v, SIDES, p), path);
  const at = opt(entry, 'timestamp', asTimestamp, path);
  const status = opt(entry, 'order_status', (v, p) => asOneOf(v, ORDER_STATUSES, p), path);
  if (status === null && execType !== 'trade') throw new WireFormatError(`${path}.order_status`, 'an order status');
  const decimal = (field: string): Decimal | null => opt(entry, field, asExactDecimal, path);
  const order: FeedOrder | null =
    status === null
      ? null
      : {
          txid,
          clientOrderId: clientOrderId === '' ? null : clientOrderId,
          userref,
          pair,
          change: CHANGE[execType],
          status: STATUS[status],
          side,
          orderType: opt(entry, 'order_type', asString, path),
          volume: decimal('order_qty'),
          volumeExecuted: decimal('cum_qty'),
          cost: decimal('cum_cost'),
          averagePrice: decimal('avg_price'),
          limitPrice: decimal('limit_price'),
          reason: opt(entry, 'reason', asString, path),
          at,
        };
  const trade: FeedTrade | null =
    execType !== 'trade'
      ? null
      : {
          tradeId: asString(entry['exec_id'], `${path}.exec_id`),
          txid,
          clientOrderId: clientOrderId === '' ? null : clientOrderId,
          pair,
          side,
          volume: asExactDecimal(entry['last_qty'], `${path}.last_qty`),
          price: asExactDecimal(entry['last_price'], `${path}.last_price`),
          cost: decimal('cost'),
          fees: opt(entry, 'fees', fees, path) ?? [],
          liquidity: opt(entry, 'liquidity_ind', (v, p) => (asOneOf(v, ['m', 't'], p) === 'm' ? 'maker' : 'taker'), path),
          at,
        };
  return { order, trade };
}

function parseQuote(value: unknown, path: string, pairOf: PairOfSymbol): Quote | null {
  const entry = asWsRecord(value, path);
  const symbol = asString(entry['symbol'], `${path}.symbol`);
  const bid = asExactDecimal(entry['bid'], `${path}.bid`);
  const ask = asExactDecimal(entry['ask'], `${path}.ask`);
  const last = asExactDecimal(entry['last'], `${path}.last`);
  const pair = pairOf(symbol);
  return pair === undefined ? null : { pair, bid, ask, last };
}

function parseResponse(frame: WireRecord, method: string): WsResponse {
  const reqId = opt(frame, 'req_id', asExactInteger, 'response');
  const success = asBoolean(frame['success'], `${method} response.success`);
  if (success) {
    const result = frame['result'];
    return { method, reqId, outcome: { success: true, result: result === undefined ? {} : asWsRecord(result, `${method} response.result`) } };
  }
  return { method, reqId, outcome: { success: false, error: asString(frame['error'], `${method} response.error`) } };
}

/**
 * One frame from Kraken's WebSocket v2.
 *
 * @throws WireFormatError when the frame is not JSON or not of Kraken's shape
 */
export function parseWsFrame(text: string, pairOf: PairOfSymbol): WsInbound {
  const frame = asWsRecord(parseExactJson(text), 'frame');
  const method = frame['method'];
  if (typeof method === 'string') {
    if (method === 'pong') return { type: 'pong', reqId: opt(frame, 'req_id', asExactInteger, 'pong') };
    return { type: 'response', response: parseResponse(frame, method) };
  }
  const channel = asString(frame['channel'], 'frame.channel');
  switch (channel) {
    case 'heartbeat':
      return { type: 'heartbeat' };
    case 'status': {
      const data = asArray(frame['data'], 'status.data');
      const first = asWsRecord(data[0], 'status.data[0]');
      return {
        type: 'status',
        system: asString(first['system'], 'status.data[0].system'),
        connectionId: opt(first, 'connection_id', asIdText, 'status.data[0]'),
      };
    }
    case 'executions': {
      const type = asOneOf(frame['type'], ['snapshot', 'update'], 'executions.type');
      const data = asArray(frame['data'], 'executions.data');
      return {
        type: 'executions',
        snapshot: type === 'snapshot',
        sequence: asExactInteger(frame['sequence'], 'executions.sequence'),
        entries: data.map((entry, i) => parseExecutionEntry(entry, `executions.data[${i}]`, pairOf)),
      };
    }
    case 'ticker': {
      asOneOf(frame['type'], ['snapshot', 'update'], 'ticker.type');
      const data = asArray(frame['data'], 'ticker.data');
      const quotes = data.map((entry, i) => parseQuote(entry, `ticker.data[${i}]`, pairOf)).filter((q): q is Quote => q !== null);
      return { type: 'ticker', quotes };
    }
    default:
      return { type: 'other', channel };
  }
}

