import { type Decimal } from 'decimal.js';

/**
 * Frames as Kraken's WebSocket v2 writes them: quantities and prices are JSON numbers (`"last_qty":105.02014889`),
 * written from the decimal's own digits, never through a double (a double would print 0.1 + 0.2 as
 * 0.30000000000000004, and drop digits of a 64-bit id).
 */
export class WsNumber {
  constructor(readonly text: string) {}
}

export type WsValue = string | boolean | null | WsNumber | readonly WsValue[] | { readonly [key: string]: WsValue | undefined };
export type WsObject = { readonly [key: string]: WsValue | undefined };

/** A decimal as a JSON number: plain digits, no exponent, no trailing zeros. */
export const num = (value: Decimal): WsNumber => new WsNumber(value.toFixed());

/** An integer (a count, a `req_id`, a sequence number) as a JSON number. */
export const int = (value: number | bigint): WsNumber => new WsNumber(value.toString());

/** The frame's text. `undefined` members are left out, as JSON.stringify does. */
export function encodeFrame(value: WsValue): string {
  if (value instanceof WsNumber) return value.text;
  if (value === null || typeof value === 'boolean' || typeof value === 'string') return JSON.stringify(value);
  if (Array.isArray(value)) return `[${(value as readonly WsValue[]).map(encodeFrame).join(',')}]`;
  const members: string[] = [];
  for (const [key, member] of Object.entries(value as WsObject)) {
    if (member !== undefined) members.push(`${JSON.stringify(key)}:${encodeFrame(member)}`);
  }
  return `{${members.join(',')}}`;
}

/** Kraken's WS v2 times: RFC 3339 with microseconds (`2024-05-18T12:05:50.293682Z`). */
export const wsTime = (ms: number): string => new Date(ms).toISOString().replace('Z', '000Z');
