import { type OrderRequest } from '../model/order';
import { type OrderRef } from '../model/port';
import { type ExactJsonOut, encodeExactJson, jsonNumber } from './ws-json';
import { krakenError } from './errors';

/**
 * The requests this client sends over Kraken's WebSocket v2 (kraken-api.md §8.2, §8.3), as frame text. Amounts
 * are JSON numbers written from the decimal's digits. The token rides inside `params`, so a frame is never logged.
 */

type Params = { readonly [key: string]: ExactJsonOut | undefined };

const frame = (method: string, params: Params | undefined, reqId: number): string =>
  encodeExactJson({ method, ...(params ? { params } : {}), req_id: jsonNumber(reqId) });

/** `executions` with the open orders and the last fills in the snapshot: every (re)subscription is a resync point. */
export const subscribeExecutions = (token: string, reqId: number): string =>
  frame('subscribe', { channel: 'executions', token, snap_orders: true, snap_trades: true, order_status: true }, reqId);

/** `ticker` for WS v2 symbols (`BTC/USD`); Kraken acknowledges once per symbol. */
export const subscribeTicker = (symbols: readonly string[], reqId: number): string =>
  frame('subscribe', { channel: 'ticker', symbol: [...symbols], event_trigger: 'trades', snapshot: true }, reqId);

export const ping = (reqId: number): string => frame('ping', undefined, reqId);

const TRIGGERED = new Set(['stop-loss', 'take-profit', 'stop-loss-limit', 'take-profit-limit']);

/**
 * `add_order` for an order request. REST's `price` / `price2` become WS's `triggers.price` and `limit_price`
 * according to the order type; `validate` is sent only when true, as on REST.
 *
 * @param symbol the pair's WS v2 symbol (`BTC/USD`)
 * @throws ExchangeError (`refused`) when the request cannot be expressed (non-positive amounts, a bad deadline)
 */
export function addOrderFrame(request: OrderRequest, symbol: string, token: string, reqId: number): string {
  const refuse = (reason: string): never => {
    throw krakenError({ kind: 'refused', codes: [reason], endpoint: 'add_order' });
  };
  for (const [name, value] of [['volume', request.volume], ['price', request.price], ['price2', request.price2]] as const) {
    if (value !== undefined && !(value.isFinite() && value.gt(0))) refuse(`${name} must be a positive number, got ${value.toString()}`);
  }
  if (request.deadline !== undefined && !Number.isFinite(request.deadline)) refuse(`deadline must be epoch milliseconds, got ${request.deadline}`);
  const triggered = TRIGGERED.has(request.orderType);
  const limit = triggered ? request.price2 : request.price;
  return frame(
    'add_order',
    {
      order_type: request.orderType,
      side: request.side,
      symbol,
      order_qty: jsonNumber(request.volume),
      ...(limit !== undefined ? { limit_price: jsonNumber(limit) } : {}),
      ...(triggered && request.price !== undefined
        ? { triggers: { reference: 'last', price: jsonNumber(request.price), price_type: 'static' } }
        : {}),
      ...(request.timeInForce !== undefined ? { time_in_force: request.timeInForce.toLowerCase() } : {}),
      ...(request.postOnly === true ? { post_only: true } : {}),
      cl_ord_id: request.clientOrderId,
      ...(request.deadline !== undefined ? { deadline: new Date(request.deadline).toISOString() } : {}),
      ...(request.validate === true ? { validate: true } : {}),
      token,
    },
    reqId,
  );
}

/** `cancel_order` for one order: Kraken takes arrays, and answers once per id. */
export const cancelOrderFrame = (ref: OrderRef, token: string, reqId: number): string =>
  frame('cancel_order', { ...('txid' in ref ? { order_id: [ref.txid] } : { cl_ord_id: [ref.clientOrderId] }), token }, reqId);
