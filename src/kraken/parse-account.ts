import { Decimal } from 'decimal.js';
import { asDecimal, asRecord, mapEntries, optional } from './wire-parse';

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
