import { Decimal } from 'decimal.js';
import { type MonoTypeOperatorFunction, type Observable, defer, filter, map, scan } from 'rxjs';
import { type LifecycleEvent, type OrderState, initialOrderState, isFinalOrderStatus, transition } from '../model/order-state';
import { type ExecutionReport } from '../model/report';
import { type Logger } from './deps';

const ZERO = new Decimal(0);

/** What one report does to its order's fold: emitted (it moved the order), or dropped, and why. */
type Verdict = { readonly kind: 'emit' } | { readonly kind: 'repeat'; readonly why: string } | { readonly kind: 'invalid'; readonly why: string };

/**
 * Where the fold of an order starts that this run did not place (its first report here is not PENDING_NEW: a
 * restored order, a reconciled one): as far as that first report implies it got.
 */
function seedOf(report: ExecutionReport, quantityOrdered: Decimal): OrderState {
  const cid = report.clientOrderId ?? '';
  const intended = initialOrderState(cid, quantityOrdered);
  switch (report.status) {
    case 'PENDING_NEW':
    case 'ERROR':
      return intended;
    case 'NEW':
    case 'UNKNOWN':
    case 'REJECTED':
      return { ...intended, status: 'sent', attempts: 1 };
    default:
      return { ...intended, status: 'accepted', txid: report.exchangeOrderId ?? `unknown:${cid}` };
  }
}

/** A fill of the executed volume's growth the report shows; its trade id made from the order and that volume (a repeat is the same trade). */
function growth(state: OrderState, report: ExecutionReport): LifecycleEvent[] {
  if (!report.quantityFilled.gt(state.filled)) return [];
  const quantity = report.quantityFilled.minus(state.filled);
  return [
    {
      kind: 'fill',
      txid: report.exchangeOrderId ?? state.txid ?? `unknown:${state.clientOrderId}`,
      tradeId: `report:${state.clientOrderId}:${report.quantityFilled.toFixed()}`,
      quantity,
      price: report.lastFillPrice ?? report.averageFillPrice ?? ZERO,
      fee: Decimal.max(ZERO, report.commission.minus(state.fee)),
      volumeExecuted: report.quantityFilled,
    },
  ];
}

const provenAbsent: LifecycleEvent = { kind: 'proven-absent' };
const provenAbsentThenSent: readonly LifecycleEvent[] = [provenAbsent, { kind: 'sent', deadline: 0 }];

const NOT_YET_LIVE: ReadonlySet<OrderState['status']> = new Set(['intended', 'sent', 'absent']);

/** The lifecycle events a report stands for, given where its order is. */
function eventsOf(state: OrderState, report: ExecutionReport): LifecycleEvent[] {
  const reason = report.reason ?? '';
  const executed = report.quantityFilled;
  switch (report.status) {
    case 'PENDING_NEW':
      return [{ kind: 'sent', deadline: 0 }];
    case 'NEW':
      return [{ kind: 'accepted', txid: report.exchangeOrderId ?? `unknown:${state.clientOrderId}` }];
    // After an ambiguous send, a lookup that proved the order absent reports nothing: a second UNKNOWN is the
    // resend's, a REJECTED the giving up after it; the absence they imply comes first.
    case 'UNKNOWN':
      return [...(state.status === 'ambiguous' ? provenAbsentThenSent : []), { kind: 'ambiguous', reason }];
    case 'PARTIALLY_FILLED':
      return growth(state, report);
    case 'FILLED': {
      const fills = growth(state, report);
      // Complete when the growth reaches the order's volume; a market order closed short of it ends closed.
      const complete = executed.gte(state.quantityOrdered);
      return complete && fills.length > 0 ? fills : [...fills, { kind: 'final', outcome: 'closed', volumeExecuted: executed, reason: report.reason }];
    }
    // A second PENDING_CANCEL is a new cancel after the first was withdrawn (a close that gave up; the withdrawal
    // has no report of its own): the withdrawal it implies comes first.
    case 'PENDING_CANCEL':
      return [...(state.status === 'pending-cancel' ? [{ kind: 'cancel-withdrawn', reason: 'cancel withdrawn' } as const] : []), { kind: 'cancel-sent', reason }];
    case 'CANCELED':
      // Never live (validate only: accepted, nothing placed): an end before acceptance.
      if (NOT_YET_LIVE.has(state.status)) return [{ kind: 'rejected', reason }];
      return [...growth(state, report), { kind: 'final', outcome: 'canceled', volumeExecuted: executed, reason: report.reason }];
    case 'EXPIRED':
      return [...growth(state, report), { kind: 'expired', volumeExecuted: executed, reason: report.reason }];
    case 'REJECTED':
      return [...(state.status === 'ambiguous' ? [provenAbsent] : []), { kind: 'rejected', reason }];
    case 'ERROR':
      return [{ kind: 'failed', reason }];
  }
}

/** One report through its order's fold: the state after it, and whether it is emitted. */
function judge(state: OrderState, report: ExecutionReport): { readonly state: OrderState; readonly verdict: Verdict } {
  if (isFinalOrderStatus(state.status)) return { state, verdict: { kind: 'invalid', why: `the order is already ${state.status}` } };
  // ERROR ends an order wherever it stands (a placement left unproven, a follower that broke): a person takes over.
  // The machine has no such row for every status, so only finality is kept for it.
  if (report.status === 'ERROR') return { state: { ...state, status: 'failed' }, verdict: { kind: 'emit' } };
  let current = state;
  let movedAny = false;
  for (const event of eventsOf(state, report)) {
    const step = transition(current, event);
    if (step.kind === 'invalid') return { state, verdict: { kind: 'invalid', why: step.reason } };
    current = step.state;
    if (step.kind === 'moved') movedAny = true;
  }
  return movedAny ? { state: current, verdict: { kind: 'emit' } } : { state, verdict: { kind: 'repeat', why: 'it repeats what was reported' } };
}

interface Folding {
  readonly states: Map<string, OrderState>;
  report: ExecutionReport | null;
}

/**
 * Lets through only the reports that move their order in the order state machine (`transition`): one fold per
 * client order id, so that every order's reports end in exactly one final status, enforced by the machine.
 *
 * Intuition: the machine's view of each order, kept beside the report stream, as the journal keeps it beside the
 * exchange.
 *
 * reports:  -p-n-f-f-c-|      p PENDING_NEW, n NEW, f FILLED (the same, twice), c CANCELED
 *   oneFinalPerOrder(log)
 * result:   -p-n-f-----|      the repeated FILLED dropped (a repeat); the CANCELED after it dropped, logged at error
 *
 * reports:  -p-n-x-f-|        x PENDING_CANCEL, f FILLED: the fill won the race with the cancel
 * result:   -p-n-x-f-|        kept
 *
 * A report with no client order id (a signal refused before it became an order) passes as it is. An order first
 * seen past PENDING_NEW (restored or reconciled at start) is folded from where its first report puts it. A report
 * the machine calls `invalid`, or any report after the order's final one, is dropped and logged at error level (a
 * bug: two streams disagree); a repeat (a fill already counted) is dropped and logged at debug. Steps the reports do
 * not show are implied where the next report proves them: a proven absence before a resend's UNKNOWN or the
 * REJECTED after it, a withdrawn cancel before a second PENDING_CANCEL. Completes and errors with the source.
 *
 * @param log Where dropped reports are told.
 * @returns The operator.
 */
export function oneFinalPerOrder(log: Pick<Logger, 'debug' | 'error'>): MonoTypeOperatorFunction<ExecutionReport> {
  return (reports$: Observable<ExecutionReport>) =>
    defer(() =>
      reports$.pipe(
        // The map is this subscription's own (defer): a fold, mutated in place so that each step costs one lookup.
        scan(
          (folding: Folding, report: ExecutionReport): Folding => {
            const cid = report.clientOrderId;
            if (cid === null || report.quantityOrdered === null) return { states: folding.states, report };
            const state = folding.states.get(cid) ?? seedOf(report, report.quantityOrdered);
            const { state: next, verdict } = judge(state, report);
            folding.states.set(cid, next);
            if (verdict.kind === 'emit') return { states: folding.states, report };
            const line = `${report.signalId}: ${report.status} of order ${cid} not reported: ${verdict.why}`;
            if (verdict.kind === 'invalid') log.error(`${line} (a bug: the handler's streams and the order state machine disagree)`);
            else log.debug(line);
            return { states: folding.states, report: null };
          },
          { states: new Map<string, OrderState>(), report: null },
        ),
        map((folding) => folding.report),
        filter((report): report is ExecutionReport => report !== null),
      ),
    );
}
