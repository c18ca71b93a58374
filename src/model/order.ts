import { type Decimal } from 'decimal.js';
import { type Side } from './signal';

export type ExchangeOrderType =
  | 'market'
  | 'limit'
  | 'stop-loss'
  | 'take-profit'
  | 'stop-loss-limit'
  | 'take-profit-limit';

/** One order as it is sent to the exchange: already rounded to the pair's rules. */
export interface OrderRequest {
  /** Fixed once, before the first attempt, and kept across retries (Kraken `cl_ord_id`). */
  readonly clientOrderId: string;
  /** The pair's canonical key (e.g. `XXBTZUSD`). */
  readonly pair: string;
  readonly side: Side;
  readonly orderType: ExchangeOrderType;
  readonly volume: Decimal;
  /** Limit price (limit) or trigger price (stop-loss / take-profit and their -limit forms). */
  readonly price?: Decimal;
  /** Limit price of a triggered -limit order. */
  readonly price2?: Decimal;
  readonly postOnly?: boolean;
  readonly timeInForce?: 'GTC' | 'IOC' | 'GTD';
  /** Epoch ms after which the exchange must refuse the request if still queued (Kraken `deadline`). */
  readonly deadline?: number;
  /** Ask the exchange to check the order without placing it. */
  readonly validate?: boolean;
}

/** Kraken's order statuses. */
export type ExchangeOrderStatus = 'pending' | 'open' | 'closed' | 'canceled' | 'expired';

export const isOpenStatus = (status: ExchangeOrderStatus): boolean =>
  status === 'pending' || status === 'open';

/** One order as the exchange last described it. */
export interface OrderSnapshot {
  readonly txid: string;
  readonly clientOrderId: string | null;
  /** `descr.pair` (the altname, e.g. `XBTUSD`). */
  readonly pair: string;
  readonly side: Side;
  readonly orderType: string;
  readonly status: ExchangeOrderStatus;
  readonly volume: Decimal;
  readonly volumeExecuted: Decimal;
  /** Total quote cost of what has executed. */
  readonly cost: Decimal;
  readonly fee: Decimal;
  /** Average execution price (0 while nothing executed). */
  readonly averagePrice: Decimal;
  readonly limitPrice: Decimal | null;
  readonly stopPrice: Decimal | null;
  /** Unix seconds. */
  readonly openedAt: number;
  readonly closedAt: number | null;
  readonly reason: string | null;
}

export interface PlacedOrder {
  /** Empty for a validate-only request. */
  readonly txid: string;
  readonly clientOrderId: string;
  readonly description: string;
}

export interface CancelOutcome {
  readonly count: number;
  readonly pending: boolean;
}

/** Best bid / ask / last trade of a pair. */
export interface Quote {
  readonly pair: string;
  readonly bid: Decimal;
  readonly ask: Decimal;
  readonly last: Decimal;
}
