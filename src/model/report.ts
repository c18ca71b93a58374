import { type Decimal } from 'decimal.js';
import { type Side } from './signal';

export type OrderRole = 'entry' | 'stop-loss' | 'take-profit' | 'close';

export type ReportStatus =
  | 'PENDING_NEW'
  | 'NEW'
  | 'PARTIALLY_FILLED'
  | 'FILLED'
  | 'PENDING_CANCEL'
  | 'CANCELED'
  | 'EXPIRED'
  | 'REJECTED'
  | 'UNKNOWN'
  | 'ERROR';

/** Statuses after which an order's report stream says nothing more. */
export const FINAL_STATUSES: ReadonlySet<ReportStatus> = new Set<ReportStatus>([
  'FILLED',
  'CANCELED',
  'EXPIRED',
  'REJECTED',
  'ERROR',
]);

export const isFinalStatus = (status: ReportStatus): boolean => FINAL_STATUSES.has(status);

/** What the handler tells the outside world about one order at one moment. */
export interface ExecutionReport {
  readonly reportId: string;
  /** Milliseconds since the epoch, from the handler's scheduler. */
  readonly timestamp: number;
  readonly signalId: string;
  readonly clientOrderId: string | null;
  readonly exchangeOrderId: string | null;
  readonly pair: string;
  readonly role: OrderRole;
  readonly side: Side;
  readonly orderType: string;
  readonly status: ReportStatus;
  readonly quantityOrdered: Decimal | null;
  /** Cumulative executed volume. */
  readonly quantityFilled: Decimal;
  readonly lastFillQuantity: Decimal | null;
  readonly lastFillPrice: Decimal | null;
  readonly averageFillPrice: Decimal | null;
  readonly limitPrice: Decimal | null;
  readonly stopPrice: Decimal | null;
  /** Cumulative fee. */
  readonly commission: Decimal;
  readonly commissionAsset: string | null;
  /** Why: the rejection reason, `dust`, the cancel reason, the error. Never contains a secret. */
  readonly reason: string | null;
}
