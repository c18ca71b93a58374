import { Decimal } from 'decimal.js';

/**
 * Small readers for Kraken's JSON. Each checks one field and names it (`QueryOrders: result.OABC….vol`) when
 * it is missing or of the wrong shape; fields nobody asked for are ignored, so Kraken may add fields freely.
 */

/** A response that does not have the shape Kraken documents. Names the endpoint and the field. */
export class WireFormatError extends Error {
  constructor(
    readonly field: string,
    readonly expected: string,
  ) {
    super(`${field}: expected ${expected}`);
    this.name = 'WireFormatError';
  }
}

export type WireRecord = Readonly<Record<string, unknown>>;

const describe = (value: unknown): string =>
  value === undefined ? 'missing' : value === null ? 'null' : Array.isArray(value) ? 'an array' : typeof value;

export function asRecord(value: unknown, path: string): WireRecord {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new WireFormatError(path, `an object, got ${describe(value)}`);
  }
  return value as WireRecord;
}

export function asArray(value: unknown, path: string): readonly unknown[] {
  if (!Array.isArray(value)) throw new WireFormatError(path, `an array, got ${describe(value)}`);
  return value;
}

export function asString(value: unknown, path: string): string {
  if (typeof value !== 'string') throw new WireFormatError(path, `a string, got ${describe(value)}`);
  return value;
}

/** A plain decimal numeral: no exponent, no hex, no `Infinity`/`NaN` (all of which decimal.js would accept). */
const DECIMAL_NUMERAL = /^[+-]?(?:\d+(?:\.\d*)?|\.\d+)$/;

/**
 * A number from the wire as a `Decimal`. Kraken sends strings; a JSON number (as in the AssetPairs fee tables)
 * is taken through its shortest round-trip representation, which is the literal the JSON text carried.
 */
export function asDecimal(value: unknown, path: string): Decimal {
  if (typeof value === 'string' && DECIMAL_NUMERAL.test(value.trim())) return new Decimal(value.trim());
  if (typeof value === 'number' && Number.isFinite(value)) return new Decimal(value.toString());
  throw new WireFormatError(path, `a decimal number, got ${typeof value === 'string' ? JSON.stringify(value.slice(0, 40)) : describe(value)}`);
}

/** A count, an id or a timestamp: a finite JSON number or a numeric string. */
export function asNumber(value: unknown, path: string): number {
  if (typeof value === 'number' && Number.isFinite(value)) return value;
  if (typeof value === 'string' && DECIMAL_NUMERAL.test(value.trim())) return Number(value);
  throw new WireFormatError(path, `a number, got ${describe(value)}`);
}

export function asInteger(value: unknown, path: string): number {
  const n = asNumber(value, path);
  if (!Number.isInteger(n)) throw new WireFormatError(path, `an integer, got ${n}`);
  return n;
}

export function asBoolean(value: unknown, path: string): boolean {
  if (typeof value === 'boolean') return value;
  if (value === 'true' || value === 'false') return value === 'true';
  throw new WireFormatError(path, `a boolean, got ${describe(value)}`);
}

export function asOneOf<const T extends string>(value: unknown, allowed: readonly T[], path: string): T {
  const text = asString(value, path);
  const found = allowed.find((candidate) => candidate === text);
  if (found === undefined) throw new WireFormatError(path, `one of ${allowed.join(' | ')}, got ${JSON.stringify(text.slice(0, 40))}`);
  return found;
}

/** `undefined` and `null` become `null`; anything else goes through `read`. */
export function optional<T>(value: unknown, read: (value: unknown, path: string) => T, path: string): T | null {
  return value === undefined || value === null ? null : read(value, path);
}

/** Each entry of a keyed object (Kraken's `txid → order`, `pair → info` maps), read by `read`. */
export function mapEntries<T>(
  value: unknown,
  path: string,
  read: (entry: unknown, key: string, path: string) => T,
): ReadonlyMap<string, T> {
  const record = asRecord(value, path);
  const out = new Map<string, T>();
  for (const [key, entry] of Object.entries(record)) out.set(key, read(entry, key, `${path}.${key}`));
  return out;
}
