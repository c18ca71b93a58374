import { type Decimal } from 'decimal.js';
import { type OrderRequest } from '../model/order';
import { type PairRules } from '../model/pair';
import { type TradeSignal } from '../model/signal';

/** A signal that will not become an order: an expected outcome, carried as a value rather than an error. */
export interface Rejection {
  readonly kind: 'rejected';
  /** The signal as received; it may be malformed (it can come from JSON), so its fields may be odd. */
  readonly signal: TradeSignal;
  /** The field at fault, e.g. `quantity`, `pair`, `limitPrice`, or `halted` for the HALT gate. */
  readonly field: string;
  /** A human sentence naming the problem. */
  readonly reason: string;
}

/** A signal translated into an exchange order, rounded to its pair's rules. */
export interface EntryIntent {
  readonly kind: 'entry';
  readonly signal: TradeSignal;
  readonly rules: PairRules;
  /** `clientOrderId` is fresh for this order and stays the same across every placement attempt. */
  readonly request: OrderRequest;
  /** Rounded to the tick size. */
  readonly stopLoss: Decimal | null;
  /** Rounded to the tick size. */
  readonly takeProfit: Decimal | null;
  /** Limit entries: cancel what has not filled after this long; `null` for market entries. */
  readonly timeoutMs: number | null;
  /**
   * What rounding to the pair's rules changed, in words for the reports, e.g.
   * `rounded to the BTC/USD rules: quantity 0.0100000099 → 0.01 (8 lot decimals, rounded down)`; `null`: nothing.
   */
  readonly roundingNote: string | null;
}

export type Translation = Rejection | EntryIntent;

/** Narrows any value (a signal, a translation, a gate output) to a `Rejection`. */
export const isRejection = (value: unknown): value is Rejection =>
  typeof value === 'object' &&
  value !== null &&
  'kind' in value &&
  value.kind === 'rejected' &&
  'field' in value &&
  typeof value.field === 'string' &&
  'reason' in value &&
  typeof value.reason === 'string';

/** Builds a `Rejection` (for gates and streams that turn a signal away). */
export const rejection = (signal: TradeSignal, field: string, reason: string): Rejection => ({
  kind: 'rejected',
  signal,
  field,
  reason,
});
