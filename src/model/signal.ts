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
