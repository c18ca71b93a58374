import { type Decimal } from 'decimal.js';

export type Side = 'buy' | 'sell';

/** A price or quantity as it arrives from outside: a Decimal, or its decimal string. Never a float. */
export type DecimalInput = Decimal | string;

/** An approved trade signal: one entry order, optionally protected by a stop-loss and a take-profit. */
export interface TradeSignal {
  readonly signalId: string;
  /** Any of Kraken's names for the pair: `XXBTZUSD`, `XBTUSD`, `XBT/USD` or `BTC/USD`. */
  readonly pair: string;
  readonly side: Side;
  readonly orderType: 'market' | 'limit';
  /** Base-asset volume. */
  readonly quantity: DecimalInput;
  /** Required for limit entries, forbidden for market entries. */
  readonly limitPrice?: DecimalInput;
  /** Trigger price of the protective stop (below the entry for a buy, above for a sell). */
  readonly stopLoss?: DecimalInput;
  /** Price at which the position is taken out in profit (above the entry for a buy, below for a sell). */
  readonly takeProfit?: DecimalInput;
  /** Limit entries only: cancel what has not filled after this many milliseconds (default from config). */
  readonly timeoutMs?: number;
}

/** Close the tracked position on a pair (or the given quantity of it) at market, cancelling its protection first. */
export interface ClosePositionCommand {
  readonly commandId: string;
  readonly pair: string;
  readonly quantity?: DecimalInput;
  /**
   * Opt-in: when the handler tracks no position on the pair, sell `quantity` from the account's holdings anyway
   * (holdings the handler did not buy). Without it such a close is rejected: a close never sells what it does
   * not own by accident.
   */
  readonly sellUntracked?: boolean;
}

/** The longest `signalId` or `commandId` taken: ids are printed, logged and journaled, and must stay readable. */
export const MAX_ID_LENGTH = 128;

// Control (C0, DEL, C1), format (bidi overrides, zero-width), surrogate, and line/paragraph separators:
// characters that can forge a line, move the cursor or reorder what a terminal shows.
export const UNPRINTABLE = /[\p{Cc}\p{Cf}\p{Cs}\p{Zl}\p{Zp}]/u;

/**
 * Why an id cannot be used, or `null` when it can: it must be printable and at most `MAX_ID_LENGTH` characters.
 * The reason never repeats the id itself (it may be what is wrong), only the offending character's code point.
 * @param field the id's field name, e.g. `signalId`
 * @param id the id as received
 */
export function idProblem(field: string, id: string): string | null {
  const length = [...id].length;
  if (length === 0) return `${field} is empty`;
  if (length > MAX_ID_LENGTH) return `${field} is ${length} characters long; at most ${MAX_ID_LENGTH} are taken`;
  const found = UNPRINTABLE.exec(id);
  if (found !== null) {
    const code = (found[0].codePointAt(0) ?? 0).toString(16).toUpperCase().padStart(4, '0');
    return `${field} contains the unprintable character U+${code} (at character ${[...id.slice(0, found.index)].length + 1}); ids must be printable`;
  }
  return null;
}
