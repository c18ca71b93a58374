import { Decimal } from 'decimal.js';
import { type ReportStatus } from './report';

/**
 * Where one order stands, as the handler knows it. Finer than `ReportStatus`: `intended` (journaled, not sent)
 * and `absent` (proven not placed, safe to send again) have no report of their own, and a REJECTED of an
 * entry and the ERROR of an abandoned protective order are different ends.
 */
export type OrderStatus =
  | 'intended'
  | 'sent'
  | 'ambiguous'
  | 'absent'
  | 'accepted'
  | 'partially-filled'
  | 'pending-cancel'
  | 'filled'
  | 'canceled'
  | 'expired'
  | 'rejected'
  | 'failed';

const FINAL_ORDER_STATUSES: ReadonlySet<OrderStatus> = new Set<OrderStatus>(['filled', 'canceled', 'expired', 'rejected', 'failed']);

/** Whether nothing can move the order any more: the machine answers every event there with `ignored` or `invalid`. */
export const isFinalOrderStatus = (status: OrderStatus): boolean => FINAL_ORDER_STATUSES.has(status);

/** One order's state: the fold of its lifecycle events from `initialOrderState`. */
export interface OrderState {
  readonly clientOrderId: string;
  readonly quantityOrdered: Decimal;
  readonly status: OrderStatus;
  /** Known from the acceptance, the lookup that found the order, or its first fill. */
  readonly txid: string | null;
  /** AddOrder sends so far (retries after a refusal that proved nothing, and resends after proven absence). */
  readonly attempts: number;
  /** Epoch ms: the `deadline` of the latest send; a lookup proves absence only past it. */
  readonly deadline: number | null;
  /** Cumulative executed volume, from the fills seen. */
  readonly filled: Decimal;
  /** Cumulative quote cost of the fills seen. */
  readonly cost: Decimal;
  /** Cumulative fee of the fills seen. */
  readonly fee: Decimal;
  /** Every fill's trade id seen so far: a fill seen twice (socket and REST, or a replay) is counted once. */
  readonly tradeIds: ReadonlySet<string>;
  /** Why the handler asked for a cancel, once it has. */
  readonly cancelReason: string | null;
  /** The cancel was answered "unknown order": whatever ended the order, it was not this cancel. */
  readonly cancelMissed: boolean;
}

/** What moves an order. Volumes are cumulative where a source may repeat itself, so a repeat is recognised. */
export type LifecycleEvent =
  /** An AddOrder went out with this `deadline` (journaled before the request leaves). */
  | { readonly kind: 'sent'; readonly deadline: number }
  | { readonly kind: 'accepted'; readonly txid: string }
  /** The send may have reached the exchange (timeout, reset after sending, 5xx, HTML page). */
  | { readonly kind: 'ambiguous'; readonly reason: string }
  /** A lookup by client order id found the order. */
  | { readonly kind: 'found'; readonly txid: string }
  /** A lookup past the deadline and the OpenOrders lag found nothing: nothing was placed. */
  | { readonly kind: 'proven-absent' }
  | {
      readonly kind: 'fill';
      readonly txid: string;
      /** Unique per execution on the exchange. */
      readonly tradeId: string;
      readonly quantity: Decimal;
      readonly price: Decimal;
      readonly fee: Decimal;
      /** The order's executed volume once this fill is counted, as the source said. */
      readonly volumeExecuted: Decimal;
    }
  | { readonly kind: 'cancel-sent'; readonly reason: string }
  /** The cancel was answered "unknown order" (it is already gone). */
  | { readonly kind: 'cancel-missed' }
  /**
   * The handler no longer wants it cancelled (a close that gave up withdrew its cancels): it is working again, so a
   * restart does not send the cancel again. A request already on its way may still land; the exchange then shows
   * the order cancelled, and its final state says so.
   */
  | { readonly kind: 'cancel-withdrawn'; readonly reason: string }
  /** The exchange shows the order closed (executed) or cancelled, with what executed in all. */
  | { readonly kind: 'final'; readonly outcome: 'closed' | 'canceled'; readonly volumeExecuted: Decimal; readonly reason: string | null }
  | { readonly kind: 'expired'; readonly volumeExecuted: Decimal; readonly reason: string | null }
  /** A definitive refusal, or giving up on an entry once it is proven not placed. */
  | { readonly kind: 'rejected'; readonly reason: string }
  /** Giving up on an order a person must now act on (a protective order that could not be placed). */
  | { readonly kind: 'failed'; readonly reason: string };

export type LifecycleEventKind = LifecycleEvent['kind'];

/** The fields of one report a transition implies; the rest (ids, context, time) the handler's report builder adds. */
export interface DerivedReport {
  readonly status: ReportStatus;
  readonly exchangeOrderId: string | null;
  readonly quantityFilled: Decimal;
  readonly lastFillQuantity: Decimal | null;
  readonly lastFillPrice: Decimal | null;
  readonly averageFillPrice: Decimal | null;
  readonly commission: Decimal;
  readonly reason: string | null;
}

/**
 * The outcome of one event: `moved` (the new state and the reports it implies, possibly none), `ignored` (a
 * repeat or stale news: nothing changes, nothing is reported, nothing need be journaled) or `invalid` (the
 * event cannot happen to an order in this state: a bug, or a journal that does not match the exchange).
 */
export type Transition =
  | { readonly kind: 'moved'; readonly state: OrderState; readonly reports: readonly DerivedReport[] }
  | { readonly kind: 'ignored'; readonly state: OrderState; readonly why: string }
  | { readonly kind: 'invalid'; readonly state: OrderState; readonly event: LifecycleEvent; readonly reason: string };

const ZERO = new Decimal(0);

/** An order journaled and not yet sent. */
export const initialOrderState = (clientOrderId: string, quantityOrdered: Decimal): OrderState => ({
  clientOrderId,
  quantityOrdered,
  status: 'intended',
  txid: null,
  attempts: 0,
  deadline: null,
  filled: ZERO,
  cost: ZERO,
  fee: ZERO,
  tradeIds: new Set(),
  cancelReason: null,
  cancelMissed: false,
});

const report = (state: OrderState, status: ReportStatus, extra: Partial<DerivedReport> = {}): DerivedReport => ({
  status,
  exchangeOrderId: state.txid,
  quantityFilled: state.filled,
  lastFillQuantity: null,
  lastFillPrice: null,
  averageFillPrice: state.filled.gt(0) ? state.cost.div(state.filled) : null,
  commission: state.fee,
  reason: null,
  ...extra,
});

const moved = (state: OrderState, ...reports: DerivedReport[]): Transition => ({ kind: 'moved', state, reports });
const ignored = (state: OrderState, why: string): Transition => ({ kind: 'ignored', state, why });
const invalid = (state: OrderState, event: LifecycleEvent, reason: string): Transition => ({ kind: 'invalid', state, event, reason });

const FOUND_REASON = 'found by its client order id after an ambiguous placement';

/** The order's txid confirmed again (a late answer, a lookup, a repeated snapshot): ignored, unless it names another order. */
function sameOrder(state: OrderState, event: LifecycleEvent, txid: string, why: string): Transition {
  return txid === state.txid
    ? ignored(state, why)
    : invalid(state, event, `${state.clientOrderId} is ${state.txid ?? 'unknown'} on the exchange, not ${txid}: two orders for one client order id`);
}

/**
 * Counts one fill. The increment reported is the executed volume's growth, not the fill's own quantity: when
 * a source skipped an execution, the next one it shows covers it, and the total stays the exchange's.
 */
function fill(state: OrderState, event: Extract<LifecycleEvent, { kind: 'fill' }>, openStatus: OrderStatus, before: DerivedReport[] = []): Transition {
  if (event.volumeExecuted.lte(state.filled)) {
    return invalid(state, event, `a fill that executes nothing: ${event.volumeExecuted.toFixed()} executed, ${state.filled.toFixed()} already filled`);
  }
  if (event.volumeExecuted.gt(state.quantityOrdered)) {
    return invalid(state, event, `executed ${event.volumeExecuted.toFixed()} exceeds the ${state.quantityOrdered.toFixed()} ordered`);
  }
  const increment = event.volumeExecuted.minus(state.filled);
  const tradeIds = new Set(state.tradeIds).add(event.tradeId);
  const complete = event.volumeExecuted.eq(state.quantityOrdered);
  const next: OrderState = {
    ...state,
    status: complete ? 'filled' : openStatus,
    filled: event.volumeExecuted,
    cost: state.cost.plus(increment.mul(event.price)),
    fee: state.fee.plus(event.fee),
    tradeIds,
  };
  return moved(next, ...before, report(next, complete ? 'FILLED' : 'PARTIALLY_FILLED', { lastFillQuantity: increment, lastFillPrice: event.price }));
}

/** The exchange's word on an order's end: it must account for exactly the volume whose fills were counted. */
function ended(
  state: OrderState,
  event: Extract<LifecycleEvent, { kind: 'final' | 'expired' }>,
  status: 'filled' | 'canceled' | 'expired',
  reason: string | null,
): Transition {
  if (event.volumeExecuted.gt(state.filled)) {
    return invalid(state, event, `the exchange shows ${event.volumeExecuted.toFixed()} executed, the fills seen ${state.filled.toFixed()}: the missing fills come first`);
  }
  if (event.volumeExecuted.lt(state.filled)) {
    return invalid(state, event, `the exchange shows ${event.volumeExecuted.toFixed()} executed, less than the ${state.filled.toFixed()} already filled`);
  }
  if (status === 'filled' && state.filled.isZero()) {
    return invalid(state, event, 'closed with nothing executed');
  }
  const next: OrderState = { ...state, status };
  const reportStatus: ReportStatus = status === 'filled' ? 'FILLED' : status === 'canceled' ? 'CANCELED' : 'EXPIRED';
  return moved(next, report(next, reportStatus, { reason }));
}

/** The handler's reason only when its cancel took: an order cancelled elsewhere first keeps the exchange's. */
function cancelledReason(state: OrderState, exchangeReason: string | null): string | null {
  if (state.cancelReason === null) return exchangeReason;
  if (!state.cancelMissed) return `cancelled: ${state.cancelReason}`;
  return `cancelled outside the handler${exchangeReason ? ` (${exchangeReason})` : ''}`;
}

/** The end the exchange already told, told again (QueryOrders after the socket, a second tick): same end, same volume. */
function endSeenAgain(state: OrderState, event: Extract<LifecycleEvent, { kind: 'final' | 'expired' }>): Transition {
  const status = event.kind === 'expired' ? 'expired' : event.outcome === 'closed' ? 'filled' : 'canceled';
  return status === state.status && event.volumeExecuted.eq(state.filled)
    ? ignored(state, `already ${state.status}`)
    : invalid(state, event, `already ${state.status} with ${state.filled.toFixed()} executed`);
}

type EventOf<K extends LifecycleEventKind> = Extract<LifecycleEvent, { kind: K }>;

/** The rows of one status: what each event does to an order there. */
type Rows = (state: OrderState, event: LifecycleEvent) => Transition;

/** Every (status, event) pair without a row of its own. */
const cannotHappen: Rows = (state, event) => invalid(state, event, `${event.kind} cannot happen to an order that is ${state.status}`);

/** Journaled, not sent. */
function fromIntended(state: OrderState, event: LifecycleEvent): Transition {
  switch (event.kind) {
    case 'sent': {
      const next: OrderState = { ...state, status: 'sent', attempts: 1, deadline: event.deadline };
      return moved(next, report(next, 'PENDING_NEW'));
    }
    // Refused before it left (an open breaker, a signal turned away after its intent was journaled).
    case 'rejected':
      return rejected(state, event.reason);
    case 'failed':
      return failed(state, event.reason);
    default:
      return cannotHappen(state, event);
  }
}

function fromSent(state: OrderState, event: LifecycleEvent): Transition {
  switch (event.kind) {
    // A retry after a refusal that proved nothing was placed (rate limit, busy, bad nonce): same client order
    // id, a fresh deadline, and nothing new to report.
    case 'sent':
      return moved({ ...state, attempts: state.attempts + 1, deadline: event.deadline });
    case 'accepted': {
      const next: OrderState = { ...state, status: 'accepted', txid: event.txid };
      return moved(next, report(next, 'NEW'));
    }
    case 'ambiguous': {
      const next: OrderState = { ...state, status: 'ambiguous' };
      return moved(next, report(next, 'UNKNOWN', { reason: `ambiguous: ${event.reason}; looking the order up by its client order id` }));
    }
    // A definitive refusal: nothing was placed. REJECTED for an entry; ERROR for a protective order or an
    // exit, which a person must now act on.
    case 'rejected':
      return rejected(state, event.reason);
    case 'failed':
      return failed(state, event.reason);
    default:
      return settledByLookup(state, event);
  }
}

function fromAmbiguous(state: OrderState, event: LifecycleEvent): Transition {
  switch (event.kind) {
    // A late answer after the send was declared ambiguous proves the acceptance as well as a lookup would.
    case 'accepted':
      return found(state, event.txid, 'accepted after the placement looked ambiguous');
    // Never REJECTED nor given up while it may be live: an ambiguous order stays so until a lookup settles it
    // (at the next start, if this run cannot).
    case 'rejected':
    case 'failed':
      return invalid(state, event, 'the order may be live: only a lookup (found or proven absent) settles an ambiguous placement');
    case 'sent':
      return invalid(state, event, 'never blind-retry a write: resend only once absence is proven');
    default:
      return settledByLookup(state, event);
  }
}

/** The rows `sent` and `ambiguous` share. */
function settledByLookup(state: OrderState, event: LifecycleEvent): Transition {
  switch (event.kind) {
    // Found or proven absent while still `sent`: the process stopped before the answer, and the start-up
    // lookup settles it.
    case 'found':
      return found(state, event.txid, FOUND_REASON);
    case 'proven-absent':
      return moved({ ...state, status: 'absent' });
    // The socket's execution can come before the AddOrder answer or the lookup: it proves acceptance too.
    case 'fill': {
      const accepted: OrderState = { ...state, status: 'accepted', txid: event.txid };
      const step = fill(accepted, event, 'partially-filled', [report(accepted, 'NEW')]);
      return step.kind === 'invalid' ? invalid(state, event, step.reason) : step;
    }
    default:
      return cannotHappen(state, event);
  }
}

/** Proven absent: sending again with the same client order id is safe, and so is giving up. */
function fromAbsent(state: OrderState, event: LifecycleEvent): Transition {
  switch (event.kind) {
    case 'sent':
      return moved({ ...state, status: 'sent', attempts: state.attempts + 1, deadline: event.deadline });
    case 'rejected':
      return rejected(state, event.reason);
    case 'failed':
      return failed(state, event.reason);
    default:
      return cannotHappen(state, event);
  }
}

/** Accepted or partially filled, no cancel asked for. */
function fromOpen(state: OrderState, event: LifecycleEvent): Transition {
  switch (event.kind) {
    case 'fill':
      return alreadyCounted(state, event) ?? fill(state, event, 'partially-filled');
    case 'cancel-sent': {
      const next: OrderState = { ...state, status: 'pending-cancel', cancelReason: event.reason };
      return moved(next, report(next, 'PENDING_CANCEL', { reason: `cancel: ${event.reason}` }));
    }
    // A withdrawal with no cancel pending (it was already withdrawn, or never journaled as sent): nothing to undo.
    case 'cancel-withdrawn':
      return ignored(state, 'no cancel is pending');
    default:
      return working(state, event);
  }
}

function fromPendingCancel(state: OrderState, event: LifecycleEvent): Transition {
  switch (event.kind) {
    // A fill after a cancel was sent: the fill won the race for that part; the order stays pending-cancel,
    // or is filled if it won for all of it.
    case 'fill':
      return alreadyCounted(state, event) ?? fill(state, event, 'pending-cancel');
    // The cancel tried again after a failure: one PENDING_CANCEL is enough.
    case 'cancel-sent':
      return ignored(state, 'a cancel is already pending');
    // "Unknown order": the order is already gone; its final state, looked up next, says how.
    case 'cancel-missed':
      return moved({ ...state, cancelMissed: true });
    // The cancel's reason is gone (a close that gave up): working again, as it was before the cancel was asked for.
    // No report: the order did not change on the exchange; a later cancel reports PENDING_CANCEL again.
    case 'cancel-withdrawn':
      return moved({ ...state, status: state.filled.gt(0) ? 'partially-filled' : 'accepted', cancelReason: null });
    default:
      return working(state, event);
  }
}

/** The rows every order working on the exchange shares (accepted, partially-filled, pending-cancel). */
function working(state: OrderState, event: LifecycleEvent): Transition {
  switch (event.kind) {
    // Closed is executed: with a cancel pending, the cancel lost the race with the fills. Closed short of the
    // ordered volume (a market order the book could not fill) is FILLED with what executed.
    case 'final':
      return event.outcome === 'closed' ? ended(state, event, 'filled', null) : ended(state, event, 'canceled', cancelledReason(state, event.reason));
    case 'expired':
      return ended(state, event, 'expired', event.reason);
    default:
      return acceptedOrLater(state, event);
  }
}

/** Filled, canceled or expired: the exchange told the order's end. */
function fromEnded(state: OrderState, event: LifecycleEvent): Transition {
  switch (event.kind) {
    case 'fill':
      return alreadyCounted(state, event) ?? cannotHappen(state, event);
    // The end seen again, a cancel decided while the end was on its way, or its "unknown order" answer.
    case 'final':
    case 'expired':
      return endSeenAgain(state, event);
    case 'cancel-sent':
    case 'cancel-missed':
    case 'cancel-withdrawn':
      return ignored(state, `already ${state.status}`);
    default:
      return acceptedOrLater(state, event);
  }
}

/** The rows every order the exchange has accepted shares, whether still working or ended there. */
function acceptedOrLater(state: OrderState, event: LifecycleEvent): Transition {
  switch (event.kind) {
    // An acceptance seen after a lookup found the order (or a lookup answered after the acceptance, or the
    // answer arriving after the socket told the order's end): the same order, confirmed again.
    case 'accepted':
    case 'found':
      return sameOrder(state, event, event.txid, 'the order is already known');
    default:
      return cannotHappen(state, event);
  }
}

/**
 * A fill to an order the exchange has accepted is first checked against what was counted; these two rows come
 * before any other fill row, whatever the status.
 */
function alreadyCounted(state: OrderState, event: EventOf<'fill'>): Transition | null {
  // A fill already counted (the socket and REST both told it, or a journal replay): one fill, one report.
  if (state.tradeIds.has(event.tradeId)) return ignored(state, `trade ${event.tradeId} already counted`);
  // A snapshot older than what was seen (executed volume at or below the count) never rolls state back.
  if (event.volumeExecuted.lte(state.filled)) return ignored(state, `executed volume already at ${state.filled.toFixed()}`);
  return null;
}

/**
 * Each status's rows. A switch per status rather than one pattern match over (status, event): `transition` runs
 * for every journaled event, and a match chain built afresh on each call cost tens of µs.
 */
const ROWS: Readonly<Record<OrderStatus, Rows>> = {
  intended: fromIntended,
  sent: fromSent,
  ambiguous: fromAmbiguous,
  absent: fromAbsent,
  accepted: fromOpen,
  'partially-filled': fromOpen,
  'pending-cancel': fromPendingCancel,
  filled: fromEnded,
  canceled: fromEnded,
  expired: fromEnded,
  rejected: cannotHappen,
  failed: cannotHappen,
};

/**
 * The order lifecycle, one row per (status, event) that can happen; every other pair is `invalid`.
 *
 * Intuition: NautilusTrader's `OrderStatus::transition`, with the report each move implies beside it.
 *
 *   intended ─sent→ sent ─accepted→ accepted ─fill→ partially-filled ─fill→ filled
 *                    │                  └─cancel-sent→ pending-cancel ─final→ canceled
 *                    └─ambiguous→ ambiguous ─found→ accepted
 *                                     └─proven-absent→ absent ─sent→ sent (same client order id)
 *
 * Final statuses (filled, canceled, expired, rejected, failed) only ever answer `ignored` or `invalid`, so an
 * order's reports end in exactly one final status, whatever the sources repeat. Pure: no clock, no IO.
 *
 * @param state The order's current state.
 * @param event What happened.
 * @returns The next state with its reports, or why nothing changed, or why the event cannot be.
 */
export function transition(state: OrderState, event: LifecycleEvent): Transition {
  return ROWS[state.status](state, event);
}

function found(state: OrderState, txid: string, reason: string): Transition {
  const next: OrderState = { ...state, status: 'accepted', txid };
  return moved(next, report(next, 'NEW', { reason }));
}

function rejected(state: OrderState, reason: string): Transition {
  const next: OrderState = { ...state, status: 'rejected' };
  return moved(next, report(next, 'REJECTED', { reason }));
}

function failed(state: OrderState, reason: string): Transition {
  const next: OrderState = { ...state, status: 'failed' };
  return moved(next, report(next, 'ERROR', { reason }));
}

/** The fold of a sequence of events: the state and every report, or the first event that cannot be. */
export type Folded =
  | { readonly kind: 'folded'; readonly state: OrderState; readonly reports: readonly DerivedReport[] }
  | { readonly kind: 'invalid'; readonly state: OrderState; readonly index: number; readonly event: LifecycleEvent; readonly reason: string };

/**
 * Folds events through `transition`, as the journal does to read an order back; `ignored` events change nothing.
 *
 * @param state Where to start (usually `initialOrderState`).
 * @param events In the order they happened.
 * @returns The state reached and the reports implied on the way, or the first invalid event with its index.
 */
export function foldEvents(state: OrderState, events: readonly LifecycleEvent[]): Folded {
  let current = state;
  const reports: DerivedReport[] = [];
  for (const [index, event] of events.entries()) {
    const step = transition(current, event);
    if (step.kind === 'invalid') return { kind: 'invalid', state: current, index, event, reason: step.reason };
    current = step.state;
    if (step.kind === 'moved') reports.push(...step.reports);
  }
  return { kind: 'folded', state: current, reports };
}
