import { type Decimal } from 'decimal.js';
import { type ExactJsonOut, JsonNumber, encodeExactJson, jsonNumber } from '../kraken/ws-json';

/**
 * Frames as Kraken's WebSocket v2 writes them: quantities and prices are JSON numbers (`"last_qty":105.02014889`),
 * written from the decimal's own digits, never through a double (a double would print 0.1 + 0.2 as
 * 0.30000000000000004, and drop digits of a 64-bit id).
 */
export { JsonNumber as WsNumber };
export type WsValue = ExactJsonOut;
export type WsObject = { readonly [key: string]: ExactJsonOut | undefined };

/** A decimal as a JSON number: plain digits, no exponent, no trailing zeros. */
export const num = (value: Decimal): JsonNumber => jsonNumber(value);

/** An integer (a count, a `req_id`, a sequence number) as a JSON number. */
export const int = (value: number | bigint): JsonNumber => jsonNumber(value);

export const encodeFrame = (value: WsValue): string => encodeExactJson(value);

/** Kraken's WS v2 times: RFC 3339 with microseconds (`2024-05-18T12:05:50.293682Z`). */
export const wsTime = (ms: number): string => new Date(ms).toISOString().replace('Z', '000Z');
