import { Decimal } from 'decimal.js';
import { WireFormatError, asDecimal, asInteger, asRecord, mapEntries, optional } from './wire-parse';

/** Balance's result: asset id (`XXBT`, `ZUSD`) → total balance. */
export function parseBalance(result: unknown): ReadonlyMap<string, Decimal> {
  return mapEntries(result, 'Balance result', (entry, _asset, path) => asDecimal(entry, path));
}

export interface BalanceExEntry {
  readonly balance: Decimal;
  /** Held for open orders. */
  readonly holdTrade: Decimal;
  readonly credit: Decimal;
  readonly creditUsed: Decimal;
  /** What can be traded now: balance + credit − credit used − hold. */
  readonly available: Decimal;
}

/** BalanceEx's result: asset id → balance, holds and what is available. */
export function parseBalanceEx(result: unknown): ReadonlyMap<string, BalanceExEntry> {
  return mapEntries(result, 'BalanceEx result', (entry, _asset, path) => {
    const record = asRecord(entry, path);
    const balance = asDecimal(record['balance'], `${path}.balance`);
    const holdTrade = optional(record['hold_trade'], asDecimal, `${path}.hold_trade`) ?? new Decimal(0);
    const credit = optional(record['credit'], asDecimal, `${path}.credit`) ?? new Decimal(0);
    const creditUsed = optional(record['credit_used'], asDecimal, `${path}.credit_used`) ?? new Decimal(0);
    return { balance, holdTrade, credit, creditUsed, available: balance.plus(credit).minus(creditUsed).minus(holdTrade) };
  });
}

/** GetWebSocketsToken's result. The token is a credential: it is never put into a message or a log. */
export interface WebSocketsToken {
  readonly token: string;
  /** Seconds within which it must be used (900). */
  readonly expiresInSeconds: number;
}

export function parseWebSocketsToken(result: unknown): WebSocketsToken {
  const record = asRecord(result, 'GetWebSocketsToken result');
  const token = record['token'];
  // Not asString: its error message would quote the value.
  if (typeof token !== 'string' || token === '') throw new WireFormatError('GetWebSocketsToken result.token', 'a non-empty string');
  return { token, expiresInSeconds: asInteger(record['expires'], 'GetWebSocketsToken result.expires') };
}
