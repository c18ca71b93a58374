import { Decimal } from 'decimal.js';
import { type ExecutionReport, type OrderRole, type ReportStatus, isFinalStatus } from '../model/report';
import { jsonLine, printable } from './printable';

/**
 * What `kraken-rx run` and the demo print: one line per report (readable text or a JSON line) and, at the end,
 * a summary of the run folded from the same reports. Pure functions of reports; nothing here reads a clock.
 * Every line is escaped on its way out (`printable`, `jsonLine`): ids and reasons come from outside.
 */

const ZERO = new Decimal(0);

/** A Decimal as it reads best: plain notation, never an exponent (1e-8 would be misread as a typo). */
const plain = (value: Decimal): string => value.toFixed();

/** `HH:MM:SS.mmm` in UTC, so two runs on two machines print the same timeline. */
export function clockTime(epochMs: number): string {
  return new Date(epochMs).toISOString().slice(11, 23);
}

/** `+SS.mmm` since `origin`: the demo's timeline, whose clock runs faster than the wall clock. */
export function elapsedTime(epochMs: number, origin: number): string {
  const ms = Math.max(0, epochMs - origin);
  return `+${String(Math.floor(ms / 1000)).padStart(3, '0')}.${String(ms % 1000).padStart(3, '0')}s`;
}

/**
 * One report as one readable line:
 * `12:00:01.250 [s1] entry       BTC/USD  buy  limit  PARTIALLY_FILLED 0.004/0.01 fill 0.004 @ 30000 avg 30000 limit 30000 fee 0.078 USD — reason`
 */
export function formatReportText(report: ExecutionReport, timeOrigin?: number): string {
  const parts: string[] = [
    timeOrigin === undefined ? clockTime(report.timestamp) : elapsedTime(report.timestamp, timeOrigin),
    `[${report.signalId}]`,
    report.role.padEnd(11),
    report.pair.padEnd(8),
    report.side.padEnd(4),
    report.orderType.padEnd(11),
    report.status.padEnd(16),
    `${plain(report.quantityFilled)}/${report.quantityOrdered === null ? '?' : plain(report.quantityOrdered)}`,
  ];
  if (report.lastFillQuantity !== null && report.lastFillQuantity.gt(0)) {
    parts.push(`fill ${plain(report.lastFillQuantity)}${report.lastFillPrice === null ? '' : ` @ ${plain(report.lastFillPrice)}`}`);
  }
  if (report.averageFillPrice !== null && report.quantityFilled.gt(0)) parts.push(`avg ${plain(report.averageFillPrice)}`);
  if (report.limitPrice !== null) parts.push(`limit ${plain(report.limitPrice)}`);
  if (report.stopPrice !== null) parts.push(`stop ${plain(report.stopPrice)}`);
  if (report.commission.gt(0)) parts.push(`fee ${plain(report.commission)}${report.commissionAsset === null ? '' : ` ${report.commissionAsset}`}`);
  if (report.exchangeOrderId !== null) parts.push(report.exchangeOrderId);
  if (report.reason !== null && report.reason !== '') parts.push(`— ${report.reason}`);
  return printable(parts.join(' '));
}

/** A report as plain JSON data: every Decimal as its plain decimal string. */
export type ReportJson = { readonly [K in keyof ExecutionReport]: ExecutionReport[K] extends Decimal ? string : ExecutionReport[K] extends Decimal | null ? string | null : ExecutionReport[K] };

export function reportToJson(report: ExecutionReport): ReportJson {
  const decimalOrNull = (value: Decimal | null): string | null => (value === null ? null : plain(value));
  return {
    reportId: report.reportId,
    timestamp: report.timestamp,
    signalId: report.signalId,
    clientOrderId: report.clientOrderId,
    exchangeOrderId: report.exchangeOrderId,
    pair: report.pair,
    role: report.role,
    side: report.side,
    orderType: report.orderType,
    status: report.status,
    quantityOrdered: decimalOrNull(report.quantityOrdered),
    quantityFilled: plain(report.quantityFilled),
    lastFillQuantity: decimalOrNull(report.lastFillQuantity),
    lastFillPrice: decimalOrNull(report.lastFillPrice),
    averageFillPrice: decimalOrNull(report.averageFillPrice),
    limitPrice: decimalOrNull(report.limitPrice),
    stopPrice: decimalOrNull(report.stopPrice),
    commission: plain(report.commission),
    commissionAsset: report.commissionAsset,
    reason: report.reason,
  };
}

/** One report as one JSON line (no line break). */
export const formatReportJson = (report: ExecutionReport): string => jsonLine(reportToJson(report));

/** Where one order stands at the end of a run. */
export interface OrderLine {
  readonly signalId: string;
  readonly role: OrderRole;
  readonly pair: string;
  readonly side: ExecutionReport['side'];
  readonly orderType: string;
  readonly status: ReportStatus;
  readonly exchangeOrderId: string | null;
  readonly quantityOrdered: Decimal | null;
  readonly quantityFilled: Decimal;
  readonly averageFillPrice: Decimal | null;
  readonly stopPrice: Decimal | null;
  readonly commission: Decimal;
  readonly commissionAsset: string | null;
  readonly reason: string | null;
}

export interface RunSummary {
  readonly orders: readonly OrderLine[];
  /** How many orders ended (or stand) in each status. */
  readonly byStatus: ReadonlyMap<ReportStatus, number>;
  /** Every fill increment reported. */
  readonly fills: {
    readonly count: number;
    /** Executed volume per `pair side`, e.g. `BTC/USD buy`. */
    readonly volume: ReadonlyMap<string, Decimal>;
  };
  /** Total fees per asset (`?` when the exchange did not say which). */
  readonly fees: ReadonlyMap<string, Decimal>;
  /** Net base quantity per pair from every fill (buy +, sell −); only pairs where it is not zero. */
  readonly positions: ReadonlyMap<string, Decimal>;
  /** Protective orders still resting on the exchange when the run ended. */
  readonly restingProtection: readonly OrderLine[];
  /** Input lines skipped as malformed. */
  readonly skippedLines: number;
}

const isProtection = (role: OrderRole): boolean => role === 'stop-loss' || role === 'take-profit';

/** A protective order the exchange holds: its job is to rest, so a run may end while it does. */
const isResting = (line: { readonly role: OrderRole; readonly status: ReportStatus }): boolean =>
  isProtection(line.role) && (line.status === 'NEW' || line.status === 'PARTIALLY_FILLED');

/**
 * Folds reports into the run's summary as they arrive, and tells the CLI which orders are still in motion
 * (not final, and not protection resting as designed) — what `run` waits for at the end of its input.
 */
export class ReportLedger {
  private readonly latest = new Map<string, ExecutionReport>();
  private fillCount = 0;
  private readonly filledVolume = new Map<string, Decimal>();
  private skipped = 0;

  /** Orders are told apart by client order id, then txid; a report with neither (an early rejection) stands alone. */
  private static orderKey(report: ExecutionReport): string {
    return report.clientOrderId ?? report.exchangeOrderId ?? `report:${report.reportId}`;
  }

  add(report: ExecutionReport): void {
    const key = ReportLedger.orderKey(report);
    const previous = this.latest.get(key);
    // A late, stale report (e.g. a NEW arriving after the order's FILLED) must not reopen a finished order.
    if (previous !== undefined && isFinalStatus(previous.status) && !isFinalStatus(report.status)) return;
    this.latest.set(key, report);
    if (report.lastFillQuantity !== null && report.lastFillQuantity.gt(0)) {
      this.fillCount += 1;
      const bucket = `${report.pair} ${report.side}`;
      this.filledVolume.set(bucket, (this.filledVolume.get(bucket) ?? ZERO).plus(report.lastFillQuantity));
    }
  }

  skipLine(): void {
    this.skipped += 1;
  }

  /** The latest report of every order that is neither final nor resting protection. */
  inMotion(): readonly ExecutionReport[] {
    return [...this.latest.values()].filter((report) => !isFinalStatus(report.status) && !isResting(report));
  }

  /** How many orders the ledger has seen. */
  get orderCount(): number {
    return this.latest.size;
  }

  summary(): RunSummary {
    const orders: OrderLine[] = [...this.latest.values()].map((report) => ({
      signalId: report.signalId,
      role: report.role,
      pair: report.pair,
      side: report.side,
      orderType: report.orderType,
      status: report.status,
      exchangeOrderId: report.exchangeOrderId,
      quantityOrdered: report.quantityOrdered,
      quantityFilled: report.quantityFilled,
      averageFillPrice: report.averageFillPrice,
      stopPrice: report.stopPrice,
      commission: report.commission,
      commissionAsset: report.commissionAsset,
      reason: report.reason,
    }));
    const byStatus = new Map<ReportStatus, number>();
    const fees = new Map<string, Decimal>();
    const net = new Map<string, Decimal>();
    for (const order of orders) {
      byStatus.set(order.status, (byStatus.get(order.status) ?? 0) + 1);
      if (order.commission.gt(0)) {
        const asset = order.commissionAsset ?? '?';
        fees.set(asset, (fees.get(asset) ?? ZERO).plus(order.commission));
      }
      const signed = order.side === 'buy' ? order.quantityFilled : order.quantityFilled.neg();
      net.set(order.pair, (net.get(order.pair) ?? ZERO).plus(signed));
    }
    const positions = new Map([...net].filter(([, quantity]) => !quantity.isZero()));
    return {
      orders,
      byStatus,
      fills: { count: this.fillCount, volume: new Map(this.filledVolume) },
      fees,
      positions,
      restingProtection: orders.filter(isResting),
      skippedLines: this.skipped,
    };
  }
}

/** Columns padded to their widest cell; numbers right-aligned so their digits line up. */
export function renderTable(header: readonly string[], rows: readonly (readonly string[])[], rightAligned: readonly number[] = []): string[] {
  const widths = header.map((title, column) => Math.max(title.length, ...rows.map((row) => (row[column] ?? '').length)));
  const render = (cells: readonly string[]): string =>
    cells
      .map((cell, column) => {
        const width = widths[column] ?? cell.length;
        return rightAligned.includes(column) ? cell.padStart(width) : cell.padEnd(width);
      })
      .join('  ')
      .trimEnd();
  return [render(header), widths.map((width) => '-'.repeat(width)).join('  '), ...rows.map(render)];
}

const signedText = (quantity: Decimal): string => (quantity.gt(0) ? `+${plain(quantity)}` : plain(quantity));

/** The summary as readable text: an orders table, then counts, fills, fees, positions and resting protection. */
export function formatSummaryText(summary: RunSummary): string {
  const lines: string[] = ['', 'Summary', '======='];
  if (summary.orders.length === 0) {
    lines.push('No orders.');
  } else {
    lines.push(
      ...renderTable(
        ['signal', 'role', 'pair', 'side', 'type', 'status', 'filled', 'ordered', 'avg price', 'fee', 'reason'],
        summary.orders.map((order) => [
          order.signalId,
          order.role,
          order.pair,
          order.side,
          order.orderType,
          order.status,
          plain(order.quantityFilled),
          order.quantityOrdered === null ? '-' : plain(order.quantityOrdered),
          order.averageFillPrice === null || order.quantityFilled.isZero() ? '-' : plain(order.averageFillPrice),
          order.commission.isZero() ? '-' : `${plain(order.commission)} ${order.commissionAsset ?? ''}`.trim(),
          order.reason ?? '',
        ]),
        [6, 7, 8, 9],
      ),
    );
  }
  lines.push('');
  const statuses = [...summary.byStatus].map(([status, count]) => `${status} ${count}`);
  lines.push(`Orders by status: ${statuses.length === 0 ? 'none' : statuses.join(', ')}`);
  const volumes = [...summary.fills.volume].map(([bucket, volume]) => `${bucket} ${plain(volume)}`);
  lines.push(`Fills: ${summary.fills.count}${volumes.length === 0 ? '' : ` (${volumes.join(', ')})`}`);
  const fees = [...summary.fees].map(([asset, fee]) => `${plain(fee)} ${asset}`);
  lines.push(`Fees: ${fees.length === 0 ? 'none' : fees.join(', ')}`);
  const positions = [...summary.positions].map(([pair, quantity]) => `${pair} ${signedText(quantity)}`);
  lines.push(`Open positions: ${positions.length === 0 ? 'none' : positions.join(', ')}`);
  const resting = summary.restingProtection.map(
    (order) =>
      `${order.role} ${order.pair} ${order.side} ${order.quantityOrdered === null ? '?' : plain(order.quantityOrdered)}` +
      `${order.stopPrice === null ? '' : ` @ ${plain(order.stopPrice)}`}${order.exchangeOrderId === null ? '' : ` (${order.exchangeOrderId})`}`,
  );
  lines.push(`Protection left resting: ${resting.length === 0 ? 'none' : resting.join(', ')}`);
  if (summary.skippedLines > 0) lines.push(`Input lines skipped: ${summary.skippedLines}`);
  return lines.map(printable).join('\n');
}

/** The summary as one JSON line, `{"type":"summary",...}`, Decimals as strings. */
export function formatSummaryJson(summary: RunSummary): string {
  const decimals = (map: ReadonlyMap<string, Decimal>): Record<string, string> =>
    Object.fromEntries([...map].map(([key, value]) => [key, plain(value)]));
  return jsonLine({
    type: 'summary',
    orders: summary.orders.map((order) => ({
      signalId: order.signalId,
      role: order.role,
      pair: order.pair,
      side: order.side,
      orderType: order.orderType,
      status: order.status,
      exchangeOrderId: order.exchangeOrderId,
      quantityOrdered: order.quantityOrdered === null ? null : plain(order.quantityOrdered),
      quantityFilled: plain(order.quantityFilled),
      averageFillPrice: order.averageFillPrice === null ? null : plain(order.averageFillPrice),
      commission: plain(order.commission),
      commissionAsset: order.commissionAsset,
      reason: order.reason,
    })),
    byStatus: Object.fromEntries(summary.byStatus),
    fills: { count: summary.fills.count, volume: decimals(summary.fills.volume) },
    fees: decimals(summary.fees),
    positions: decimals(summary.positions),
    restingProtection: summary.restingProtection.map((order) => order.exchangeOrderId),
    skippedLines: summary.skippedLines,
  });
}

/** A skipped input line as text: `input line 3 skipped: "quantity" is missing`. */
export const formatSkippedText = (skipped: { readonly line: number; readonly reason: string }): string =>
  printable(`input line ${skipped.line} skipped: ${skipped.reason}`);

/** A skipped input line as one JSON line, `{"type":"skipped","line":3,"reason":"…","halted":false}`. */
export const formatSkippedJson = (skipped: { readonly line: number; readonly reason: string; readonly halted: boolean }): string =>
  jsonLine({ type: 'skipped', line: skipped.line, reason: skipped.reason, halted: skipped.halted });

const orderLabel = (order: { readonly signalId: string; readonly role: OrderRole; readonly pair: string; readonly side: string; readonly orderType: string }): string =>
  `${order.signalId} ${order.role} ${order.pair} ${order.side} ${order.orderType}`;

/**
 * What a run cut short by a second Ctrl-C leaves behind, one line each: the orders that were still in motion
 * (they may be live on the exchange: check them there) and the protection left resting on purpose.
 * @param mayBeLive the latest report of each order still in motion
 * @param resting the protective orders resting when the run ended
 */
export function formatLeftLive(mayBeLive: readonly ExecutionReport[], resting: readonly OrderLine[]): string[] {
  const ids = (order: { readonly exchangeOrderId: string | null; readonly clientOrderId?: string | null }): string =>
    [order.exchangeOrderId === null ? null : `txid ${order.exchangeOrderId}`, order.clientOrderId ? `cl_ord_id ${order.clientOrderId}` : null]
      .filter((id) => id !== null)
      .join(', ');
  const lines =
    mayBeLive.length === 0
      ? ['no order was in motion: none should be live on the exchange beyond the protection below']
      : [
          `these orders may still be live on the exchange (check them there):`,
          ...mayBeLive.map(
            (report) =>
              `  ${orderLabel(report)} ${report.status} ${plain(report.quantityFilled)}/${report.quantityOrdered === null ? '?' : plain(report.quantityOrdered)}` +
              `${ids(report) === '' ? '' : ` (${ids(report)})`}`,
          ),
        ];
  if (resting.length > 0) {
    lines.push('protection left resting on the exchange on purpose:');
    lines.push(...resting.map((order) => `  ${orderLabel(order)} ${order.quantityOrdered === null ? '?' : plain(order.quantityOrdered)}${order.exchangeOrderId === null ? '' : ` (txid ${order.exchangeOrderId})`}`));
  }
  return lines.map(printable);
}
