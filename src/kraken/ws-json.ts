import { Decimal } from 'decimal.js';
import { WireFormatError, asDecimal } from './wire-parse';

/**
 * JSON for Kraken's WebSocket v2, read without a float in the way. WS v2 sends quantities and prices as JSON
 * numbers (`"last_qty":105.02014889`), and `connection_id` is a 64-bit integer; `JSON.parse` would round both
 * through a double. This reader keeps every number as the text it was written with, for `Decimal` (or `BigInt`)
 * to take exactly. Strings, arrays, objects, booleans and null read as `JSON.parse` reads them.
 */

/** A JSON number, kept as its literal text (JSON's grammar: `-?int frac? exp?`). */
export class JsonNumber {
  constructor(readonly text: string) {}
}

export type ExactJson = string | boolean | null | JsonNumber | readonly ExactJson[] | { readonly [key: string]: ExactJson };

const NUMBER = /-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?/y;
const WHITESPACE = /[ \t\n\r]*/y;

/**
 * Parses one JSON text, numbers kept exact.
 *
 * @throws WireFormatError naming the offset where the text stops being JSON
 */
export function parseExactJson(text: string): ExactJson {
  let at = 0;
  const fail = (what: string): never => {
    throw new WireFormatError(`message at offset ${at}`, what);
  };
  const skip = (): void => {
    WHITESPACE.lastIndex = at;
    WHITESPACE.exec(text);
    at = WHITESPACE.lastIndex;
  };
  const literal = (word: string, value: ExactJson): ExactJson => {
    if (!text.startsWith(word, at)) fail('a JSON value');
    at += word.length;
    return value;
  };
  const string = (): string => {
    // From the opening quote to the matching unescaped one, then JSON.parse for the escapes (no numbers inside).
    const start = at;
    at += 1;
    for (;;) {
      const c = text.charCodeAt(at);
      if (Number.isNaN(c)) fail('a closing quote');
      if (c === 0x22) break;
      if (c < 0x20) fail('no control characters in a string');
      at += c === 0x5c ? 2 : 1;
    }
    at += 1;
    try {
      return JSON.parse(text.slice(start, at)) as string;
    } catch {
      return fail('a valid string escape');
    }
  };
  const value = (depth: number): ExactJson => {
    if (depth > 64) fail('nesting of at most 64 levels');
    skip();
    const c = text[at];
    if (c === '{') {
      at += 1;
      const record: Record<string, ExactJson> = {};
      skip();
      if (text[at] === '}') {
        at += 1;
        return record;
      }
      for (;;) {
        skip();
        if (text[at] !== '"') fail('a key');
        const key = string();
        skip();
        if (text[at] !== ':') fail('a colon');
        at += 1;
        // defineProperty: a `__proto__` key is data, as JSON.parse has it.
        Object.defineProperty(record, key, { value: value(depth + 1), enumerable: true, writable: false, configurable: true });
        skip();
        if (text[at] === ',') {
          at += 1;
          continue;
        }
        if (text[at] === '}') {
          at += 1;
          return record;
        }
        fail('a comma or a closing brace');
      }
    }
    if (c === '[') {
      at += 1;
      const list: ExactJson[] = [];
      skip();
      if (text[at] === ']') {
        at += 1;
        return list;
      }
      for (;;) {
        list.push(value(depth + 1));
        skip();
        if (text[at] === ',') {
          at += 1;
          continue;
        }
        if (text[at] === ']') {
          at += 1;
          return list;
        }
        fail('a comma or a closing bracket');
      }
    }
    if (c === '"') return string();
    if (c === 't') return literal('true', true);
    if (c === 'f') return literal('false', false);
    if (c === 'n') return literal('null', null);
    NUMBER.lastIndex = at;
    const number = NUMBER.exec(text);
    if (!number) return fail('a JSON value');
    at = NUMBER.lastIndex;
    return new JsonNumber(number[0]);
  };
  const result = value(0);
  skip();
  if (at !== text.length) fail('the end of the message');
  return result;
}

/** A quantity or price from WS v2: a JSON number taken from its text, or a decimal string (as REST sends). */
export function asExactDecimal(value: unknown, path: string): Decimal {
  if (value instanceof JsonNumber) return new Decimal(value.text);
  return asDecimal(value, path);
}

/** A count, a `req_id` or a sequence number: a JSON integer within a double's exact range. */
export function asExactInteger(value: unknown, path: string): number {
  if (value instanceof JsonNumber && /^-?\d+$/.test(value.text)) {
    const n = Number(value.text);
    if (Number.isSafeInteger(n)) return n;
  }
  throw new WireFormatError(path, `an integer, got ${value instanceof JsonNumber ? value.text : typeof value}`);
}

/** An id Kraken sends as a JSON integer that may not fit a double (`connection_id`, a u64): its digits. */
export function asIdText(value: unknown, path: string): string {
  if (value instanceof JsonNumber && /^\d+$/.test(value.text)) return value.text;
  if (typeof value === 'string' && value !== '') return value;
  throw new WireFormatError(path, 'an integer id');
}

/** What `encodeExactJson` writes: JSON with numbers given as their text; `undefined` members are left out. */
export type ExactJsonOut =
  | string
  | boolean
  | null
  | JsonNumber
  | readonly ExactJsonOut[]
  | { readonly [key: string]: ExactJsonOut | undefined };

/** A decimal as a JSON number: its own digits, no exponent (what Kraken's WS v2 sends and accepts). */
export const jsonNumber = (value: Decimal | number | bigint): JsonNumber =>
  new JsonNumber(value instanceof Decimal ? value.toFixed() : value.toString());

/** JSON text whose numbers are written from their text, never through a double. */
export function encodeExactJson(value: ExactJsonOut): string {
  if (value instanceof JsonNumber) return value.text;
  if (value === null || typeof value === 'boolean' || typeof value === 'string') return JSON.stringify(value);
  if (Array.isArray(value)) return `[${(value as readonly ExactJsonOut[]).map(encodeExactJson).join(',')}]`;
  const members: string[] = [];
  for (const [key, member] of Object.entries(value as { readonly [key: string]: ExactJsonOut | undefined })) {
    if (member !== undefined) members.push(`${JSON.stringify(key)}:${encodeExactJson(member)}`);
  }
  return `{${members.join(',')}}`;
}
