import { Decimal } from 'decimal.js';
import { type SchedulerLike } from 'rxjs';
import { type OrderRequest, type OrderSnapshot } from '../model/order';
import { type PairRules } from '../model/pair';
import { type ExecutionReport, type OrderRole, type ReportStatus } from '../model/report';
import { type Side } from '../model/signal';

/** What every report of one order repeats: who asked for it and what it is. */
export interface OrderContext {
  /** The signal's id, or the close command's id for a close. */
  readonly signalId: string;
  readonly clientOrderId: string | null;
  readonly pair: string;
  readonly role: OrderRole;
  readonly side: Side;
  readonly orderType: string;
  readonly quantityOrdered: Decimal | null;
  readonly limitPrice: Decimal | null;
  readonly stopPrice: Decimal | null;
  readonly commissionAsset: string | null;
  /** Said by every report of the order that has no reason of its own, e.g. how the request was rounded. */
  readonly note?: string;
}

/** What changes from one report of an order to the next. */
export interface ReportDetails {
  readonly exchangeOrderId?: string | null;
  readonly quantityFilled?: Decimal;
  readonly lastFillQuantity?: Decimal | null;
  readonly lastFillPrice?: Decimal | null;
  readonly averageFillPrice?: Decimal | null;
  readonly commission?: Decimal;
  readonly reason?: string | null;
}

/** Builds one report; ids and timestamps come from the handler's id source and scheduler. */
export type ReportBuilder = (order: OrderContext, status: ReportStatus, details?: ReportDetails) => ExecutionReport;

const ZERO = new Decimal(0);

/**
 * The one place an `ExecutionReport` is made, so every report has an id, a timestamp from the scheduler
 * (virtual under test, scaled in end-to-end runs) and the same defaults.
 *
 * @param newId Source of report ids.
 * @param scheduler Clock of the timestamps.
 * @returns The report builder.
 */
export function createReportBuilder(newId: () => string, scheduler: SchedulerLike): ReportBuilder {
  return (order, status, details = {}) => ({
    reportId: newId(),
    timestamp: scheduler.now(),
    signalId: order.signalId,
    clientOrderId: order.clientOrderId,
    exchangeOrderId: details.exchangeOrderId ?? null,
    pair: order.pair,
    role: order.role,
    side: order.side,
    orderType: order.orderType,
    status,
    quantityOrdered: order.quantityOrdered,
    quantityFilled: details.quantityFilled ?? ZERO,
    lastFillQuantity: details.lastFillQuantity ?? null,
    lastFillPrice: details.lastFillPrice ?? null,
    averageFillPrice: details.averageFillPrice ?? null,
    limitPrice: order.limitPrice,
    stopPrice: order.stopPrice,
    commission: details.commission ?? ZERO,
    commissionAsset: order.commissionAsset,
    reason: details.reason ?? order.note ?? null,
  });
}

/** The report fields an exchange snapshot of the order tells. */
export const snapshotDetails = (snapshot: OrderSnapshot): ReportDetails => ({
  exchangeOrderId: snapshot.txid,
  quantityFilled: snapshot.volumeExecuted,
  averageFillPrice: snapshot.volumeExecuted.gt(0) ? snapshot.averagePrice : null,
  commission: snapshot.fee,
});

const isStopType = (orderType: OrderRequest['orderType']): boolean =>
  orderType === 'stop-loss' || orderType === 'take-profit' || orderType === 'stop-loss-limit' || orderType === 'take-profit-limit';

/**
 * The context of an order about to be sent: quantities and prices as rounded in the request.
 *
 * @param request The order request.
 * @param rules Its pair's rules (fees are charged in the quote asset by default).
 * @param signalId The signal or command behind it.
 * @param role What the order is for.
 */
export function contextOfRequest(request: OrderRequest, rules: PairRules, signalId: string, role: OrderRole): OrderContext {
  const triggered = isStopType(request.orderType);
  return {
    signalId,
    clientOrderId: request.clientOrderId,
    pair: rules.key,
    role,
    side: request.side,
    orderType: request.orderType,
    quantityOrdered: request.volume,
    limitPrice: triggered ? request.price2 ?? null : request.price ?? null,
    stopPrice: triggered ? request.price ?? null : null,
    commissionAsset: rules.quote,
  };
}
