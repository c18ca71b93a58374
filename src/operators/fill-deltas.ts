import { Decimal } from 'decimal.js';
import { type OperatorFunction, concatMap, from, scan, takeWhile } from 'rxjs';
import { type ExchangeOrderStatus, type OrderSnapshot, isOpenStatus } from '../model/order';

/** What changed in an order between two snapshots. */
export type OrderEvent =
  | {
      readonly kind: 'fill';
      readonly snapshot: OrderSnapshot;
      /** Volume executed since the previous fill event. */
      readonly quantity: Decimal;
      /** Average price of this increment: Δcost / Δvolume. */
      readonly price: Decimal;
      /** Fee charged for this increment: Δfee. */
      readonly fee: Decimal;
    }
  | {
      /** The status changed (the first snapshot counts as a change, and so does the final one). */
      readonly kind: 'status';
      readonly snapshot: OrderSnapshot;
    };

/**
 * Significant digits kept in an increment's price. The exchange rounds `cost` to the quote currency's
 * decimals, so digits beyond these are noise of the division, not information.
 */
const PRICE_SIGNIFICANT_DIGITS = 12;

/** What the fold of an order's snapshots has seen so far, and the events the latest snapshot made. */
export interface FillProgress {
  readonly status: ExchangeOrderStatus | null;
  readonly volumeExecuted: Decimal;
  readonly cost: Decimal;
  readonly fee: Decimal;
  readonly final: boolean;
  readonly events: readonly OrderEvent[];
}

/** Nothing seen yet. */
export const NO_FILLS: FillProgress = {
  status: null,
  volumeExecuted: new Decimal(0),
  cost: new Decimal(0),
  fee: new Decimal(0),
  final: false,
  events: [],
};

/**
 * One step of the fold behind `fillDeltas`, for a follower that keeps its own state: the progress after
 * `snapshot`, with the events it made (fill before status).
 */
export function advanceFills(seen: FillProgress, snapshot: OrderSnapshot): FillProgress {
  // Stale data (an older reading that arrived late) says nothing new: executed volume never goes down.
  if (snapshot.volumeExecuted.lt(seen.volumeExecuted)) return { ...seen, events: [] };
  const events: OrderEvent[] = [];
  const filled = snapshot.volumeExecuted.minus(seen.volumeExecuted);
  if (filled.gt(0)) {
    const costDelta = snapshot.cost.minus(seen.cost);
    const price = costDelta.gt(0)
      ? costDelta.div(filled).toSignificantDigits(PRICE_SIGNIFICANT_DIGITS, Decimal.ROUND_HALF_UP)
      : snapshot.averagePrice;
    const feeDelta = snapshot.fee.minus(seen.fee);
    events.push({ kind: 'fill', snapshot, quantity: filled, price, fee: Decimal.max(0, feeDelta) });
  }
  if (snapshot.status !== seen.status) events.push({ kind: 'status', snapshot });
  return {
    status: snapshot.status,
    volumeExecuted: snapshot.volumeExecuted,
    cost: filled.gt(0) ? snapshot.cost : seen.cost,
    fee: filled.gt(0) ? Decimal.max(seen.fee, snapshot.fee) : seen.fee,
    final: !isOpenStatus(snapshot.status),
    events,
  };
}

/**
 * Turns successive snapshots of one order into its fill increments and status changes.
 *
 * Intuition: `distinctUntilChanged` on (status, executed volume), then the difference to the previous snapshot.
 *
 * source:  -o-o-p-p-c-x       o: open 0, p: open 0.3, c: closed 1.0 (x: anything later)
 *   fillDeltas()
 * result:  -S---F---(FS|)     S: status event, F: fill event (0.3, then 0.7)
 *
 * A fill event comes before the status event of the same snapshot. A snapshot whose executed volume is lower
 * than one already seen is ignored (stale). Completes after the first final snapshot (closed, canceled,
 * expired), or when the source completes; an error of the source is passed on.
 *
 * @returns One event per fill increment and per status change, ending with the final status.
 */
export function fillDeltas(): OperatorFunction<OrderSnapshot, OrderEvent> {
  return (source) =>
    source.pipe(
      scan(advanceFills, NO_FILLS),
      takeWhile((progress) => !progress.final, true),
      // concatMap: the events of one snapshot stay in order (fill before status).
      concatMap((progress) => from(progress.events)),
    );
}
