import { type ExactJson, JsonNumber } from '../kraken/ws-json';
import { Params } from './params';

/**
 * WebSocket v2 `add_order` / `cancel_order` parameters in REST's terms, so that both APIs share one validation,
 * one engine, one set of balances and the account's trading counter (Kraken: the counter is shared across REST,
 * WS and FIX). Numbers keep their literal text. Answers `undefined` with the offending field when a parameter
 * has a shape REST could not express.
 */

type WsParams = { readonly [key: string]: ExactJson };

const scalar = (value: ExactJson | undefined): string | undefined => {
  if (value === undefined || value === null) return undefined;
  if (value instanceof JsonNumber) return value.text;
  if (typeof value === 'string') return value;
  if (typeof value === 'boolean') return String(value);
  return undefined;
};

const isRecord = (value: ExactJson | undefined): value is WsParams =>
  typeof value === 'object' && value !== null && !Array.isArray(value) && !(value instanceof JsonNumber);

export type Translated = { readonly ok: true; readonly params: Params } | { readonly ok: false; readonly field: string };

const TRIGGERED_TYPES = new Set(['stop-loss', 'take-profit', 'stop-loss-limit', 'take-profit-limit']);

/** `add_order`'s params as AddOrder's. Unsupported WS-only options (margin, reduce_only, conditional…) are refused. */
export function addOrderParams(ws: WsParams): Translated {
  for (const field of ['margin', 'reduce_only', 'conditional', 'display_qty', 'cash_order_qty', 'stp_type']) {
    if (ws[field] !== undefined && ws[field] !== false) return { ok: false, field };
  }
  const orderType = scalar(ws['order_type']);
  const rest: Record<string, string> = {};
  const put = (name: string, value: string | undefined): void => {
    if (value !== undefined) rest[name] = value;
  };
  put('ordertype', orderType);
  put('type', scalar(ws['side']));
  put('pair', scalar(ws['symbol']));
  put('volume', scalar(ws['order_qty']));
  const triggers = ws['triggers'];
  if (triggers !== undefined && !isRecord(triggers)) return { ok: false, field: 'triggers' };
  const triggerPrice = triggers ? scalar(triggers['price']) : undefined;
  if (triggers && scalar(triggers['price_type']) !== undefined && scalar(triggers['price_type']) !== 'static') {
    return { ok: false, field: 'triggers' };
  }
  put('trigger', triggers ? scalar(triggers['reference']) : undefined);
  if (orderType !== undefined && TRIGGERED_TYPES.has(orderType)) {
    put('price', triggerPrice);
    put('price2', scalar(ws['limit_price']));
  } else {
    put('price', scalar(ws['limit_price']));
  }
  const tif = scalar(ws['time_in_force']);
  put('timeinforce', tif?.toUpperCase());
  const expire = scalar(ws['expire_time']);
  if (expire !== undefined) {
    const at = Date.parse(expire);
    if (Number.isNaN(at)) return { ok: false, field: 'expire_time' };
    put('expiretm', (at / 1000).toString());
  }
  const flags: string[] = [];
  if (ws['post_only'] === true) flags.push('post');
  const fee = scalar(ws['fee_preference']);
  if (fee === 'base') flags.push('fcib');
  else if (fee === 'quote') flags.push('fciq');
  else if (fee !== undefined) return { ok: false, field: 'fee_preference' };
  if (ws['no_mpp'] === true) flags.push('nompp');
  if (flags.length > 0) put('oflags', flags.join(','));
  put('cl_ord_id', scalar(ws['cl_ord_id']));
  put('userref', scalar(ws['order_userref']));
  put('deadline', scalar(ws['deadline']));
  if (ws['validate'] === true) put('validate', 'true');
  const params = Params.fromJson(JSON.stringify(rest));
  return params ? { ok: true, params } : { ok: false, field: 'params' };
}

/** One CancelOrder target per id in `cancel_order`'s arrays (`order_id` or `cl_ord_id`, not both, as Kraken says). */
export function cancelTargets(ws: WsParams): { readonly ok: true; readonly targets: ReadonlyArray<{ field: 'order_id' | 'cl_ord_id'; id: string; params: Params }> } | { readonly ok: false; readonly field: string } {
  const byOrder = ws['order_id'];
  const byClient = ws['cl_ord_id'];
  if ((byOrder === undefined) === (byClient === undefined)) return { ok: false, field: 'order_id' };
  const field = byOrder !== undefined ? 'order_id' : 'cl_ord_id';
  const list = byOrder ?? byClient;
  if (!Array.isArray(list) || list.length === 0) return { ok: false, field };
  const targets: Array<{ field: 'order_id' | 'cl_ord_id'; id: string; params: Params }> = [];
  for (const entry of list as readonly ExactJson[]) {
    if (typeof entry !== 'string' || entry === '') return { ok: false, field };
    const params = Params.fromJson(JSON.stringify(field === 'order_id' ? { txid: entry } : { cl_ord_id: entry }));
    if (!params) return { ok: false, field };
    targets.push({ field, id: entry, params });
  }
  return { ok: true, targets };
}
