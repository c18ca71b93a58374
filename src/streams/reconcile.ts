import { Decimal } from 'decimal.js';
import {
  EMPTY,
  type Observable,
  catchError,
  concat,
  concatMap,
  connect,
  defer,
  expand,
  filter,
  from,
  map,
  merge,
  mergeMap,
  of,
  reduce,
  throwError,
  toArray,
} from 'rxjs';
import { type ProtectionMode } from '../model/config';
import { type ForeignOrderRecord, type Journal, type JournaledOrder, type OrderIntentRecord, type SignalRecord } from '../model/journal';
import { isOrderGone } from '../model/errors';
import { type ExchangeOrderType, type OrderSnapshot } from '../model/order';
import { type DerivedReport, type LifecycleEvent, type OrderState, type OrderStatus, isFinalOrderStatus } from '../model/order-state';
import { type PairBook } from '../model/pair';
import { type OrderRole } from '../model/report';
import { type Side } from '../model/signal';
import { type ExchangeDeps } from './deps';
import { exchangeCall } from './exchange-call';
import { absenceProvableFrom, lookUpOrder } from './lookup';
import { type LiveOrder } from './order-lifecycle';
import { QUERY_BATCH_SIZE } from './order-monitor';
import { type ProtectiveOrder } from './positions';
import { type OrderContext } from './reports';
import { type Step, doneStep, reportStep } from './step';

/**
 * The reason of the one REJECTED a start gives a signal journaled without an order: the intent is journaled before
 * anything is sent, so with none nothing was sent, and rejecting it is safe.
 */
export const SIGNAL_WITHOUT_ORDER =
  'not sent: the handler stopped between journaling the signal and its order; nothing was sent for it';

/** Why the journal and the exchange cannot be reconciled without guessing. */
export type ReconcileErrorKind =
  /** The exchange shows more executed than the journaled order's volume. */
  | 'fill-exceeds-order'
  /** The exchange shows another pair, side or client order id for a journaled order. */
  | 'mismatch'
  /** A txid the journal holds is unknown to the exchange (a journal from another account?). */
  | 'unknown-to-exchange'
  /** The journal says the order ended (or never went out), the exchange shows it open. */
  | 'ended-but-open'
  /** What the exchange shows cannot happen to the order in its journaled state. */
  | 'invalid-transition';

/** Stops the start: the journal and the exchange disagree in a way only a person can settle. */
export class ReconcileError extends Error {
  readonly kind: ReconcileErrorKind;
  readonly clientOrderId: string;

  constructor(kind: ReconcileErrorKind, clientOrderId: string, message: string) {
    super(`reconciliation at start stopped: order ${clientOrderId}: ${message}`);
    this.name = 'ReconcileError';
    this.kind = kind;
    this.clientOrderId = clientOrderId;
  }
}

export const isReconcileError = (e: unknown): e is ReconcileError => e instanceof ReconcileError;

/** A filled entry (final, executed > 0) part of whose open quantity has no live stop-loss: place one. */
export interface UnprotectedFill {
  readonly entry: OrderIntentRecord;
  readonly txid: string | null;
  /** Open quantity (filled minus what its exits sold) not covered by a live stop-loss; not yet rounded to the lot. */
  readonly quantity: Decimal;
  readonly stopPrice: Decimal;
  readonly protectionMode: ProtectionMode;
}

/** A working limit entry to cancel (reason `timeout`) when `dueAt` comes (epoch ms, on the run's scheduler; already due: now). */
export interface DueCancel {
  readonly entry: OrderIntentRecord;
  readonly txid: string;
  /** Its acceptance plus its limit timeout, or now when that has passed. */
  readonly dueAt: number;
}

/**
 * A live order to cancel now: its cancel was asked before the restart and may not have reached the exchange, or
 * it protects an entry whose position is closed (a sibling or an exit filled while the process was down).
 * CancelOrder is safe to repeat: at worst it answers "unknown order".
 */
export interface DueNow {
  readonly order: OrderIntentRecord;
  readonly txid: string;
  /** The journaled cancel reason, or `position closed`. */
  readonly reason: string;
}

/** A client-side take-profit to watch again: when the price reaches it, cancel the entry's stop and close `quantity`. */
export interface TakeProfitWatch {
  readonly entry: OrderIntentRecord;
  readonly pair: string;
  /** The side that exits the entry. */
  readonly exitSide: Side;
  readonly takeProfit: Decimal;
  /** The entry's open quantity (filled minus what its exits sold). */
  readonly quantity: Decimal;
}

/**
 * A protective order live on the exchange: a later `close` of its pair must cancel it. A `ProtectiveOrder`, so
 * `positions.addProtective(resting)` registers it as placement would have.
 */
export interface RestingProtection extends ProtectiveOrder {
  readonly txid: string;
  readonly parentClientOrderId: string | null;
  /** `quantity` (the order's volume) not yet executed. */
  readonly remaining: Decimal;
}

/** An order on the account that the journal does not know: reported once (logged), never touched. Journaled as told (`ForeignOrderRecord` with its time). */
export type ForeignOrder = Omit<ForeignOrderRecord, 'at'>;

/** An order that may be live and that the lookups could not settle (the exchange kept failing): never given up. */
export interface UnsettledOrder {
  readonly intent: OrderIntentRecord;
  readonly status: OrderStatus;
  readonly reason: string;
}

/**
 * The duties to restore after reconciliation, for the handler to take up before the first new signal.
 *
 * - `toProtect`: place a stop-loss for each (before any new entry).
 * - `toCancelAtTimeout`: cancel each entry at `dueAt` (and protect what it filled, as at a timeout).
 * - `toCancel`: cancel each now (a cancel asked before the restart; a stop guarding a closed position).
 * - `takeProfitWatches`: watch each again (stop-resting mode; or a both-resting entry whose take-profit no longer rests).
 * - `restingStops`: register each with the positions book so that a `close` cancels it.
 * - `followed`: hand each to the order monitor (`followOrder`), as placement hands on an accepted order.
 * - `foreign`: orders on the account not in the journal: already logged; never touched.
 * - `unsettled`: orders that may be live and were neither found nor proven absent. Their entries are not in
 *   `toProtect` (a second stop could sell coins held for something else): look them up again first.
 */
export interface ReconcilePlan {
  readonly toProtect: readonly UnprotectedFill[];
  readonly toCancelAtTimeout: readonly DueCancel[];
  readonly toCancel: readonly DueNow[];
  readonly takeProfitWatches: readonly TakeProfitWatch[];
  readonly restingStops: readonly RestingProtection[];
  readonly followed: readonly LiveOrder[];
  readonly foreign: readonly ForeignOrder[];
  readonly unsettled: readonly UnsettledOrder[];
}

export interface ReconcileOptions {
  /** The pair book (the handler has it); when absent, AssetPairs is read once (a public call). */
  readonly pairs?: PairBook;
}

/** What settling one order produced, on the way to the plan. */
type Settled = Step<never> | { readonly kind: 'unsettled'; readonly order: UnsettledOrder };

const ZERO = new Decimal(0);
const LIVE: ReadonlySet<OrderStatus> = new Set<OrderStatus>(['accepted', 'partially-filled', 'pending-cancel']);
const NEVER_ANSWERED: ReadonlySet<OrderStatus> = new Set<OrderStatus>(['intended', 'sent', 'ambiguous']);
const isLive = (order: JournaledOrder): boolean => LIVE.has(order.state.status) && order.state.txid !== null;
const isProtective = (role: OrderRole): boolean => role === 'stop-loss' || role === 'take-profit';
const isTriggered = (orderType: ExchangeOrderType): boolean => orderType !== 'market' && orderType !== 'limit';
const opposite = (side: Side): Side => (side === 'buy' ? 'sell' : 'buy');

/** What every report of a journaled order repeats. */
export function contextOfIntent(intent: OrderIntentRecord, pairs: PairBook): OrderContext {
  const triggered = isTriggered(intent.orderType);
  return {
    signalId: intent.signalId,
    clientOrderId: intent.clientOrderId,
    pair: intent.pair,
    role: intent.role,
    side: intent.side,
    orderType: intent.orderType,
    quantityOrdered: intent.volume,
    limitPrice: triggered ? intent.price2 : intent.price,
    stopPrice: triggered ? intent.price : null,
    commissionAsset: pairs.find(intent.pair)?.quote ?? null,
  };
}

const detailsOf = (derived: DerivedReport) => ({
  exchangeOrderId: derived.exchangeOrderId,
  quantityFilled: derived.quantityFilled,
  lastFillQuantity: derived.lastFillQuantity,
  lastFillPrice: derived.lastFillPrice,
  averageFillPrice: derived.averageFillPrice,
  commission: derived.commission,
  reason: derived.reason,
});

/** Whether a snapshot can be the journaled order; the reason it cannot, otherwise. */
function mismatchOf(intent: OrderIntentRecord, snapshot: OrderSnapshot, pairs: PairBook): ReconcileError | null {
  const cid = intent.clientOrderId;
  if (snapshot.clientOrderId !== null && snapshot.clientOrderId !== cid) {
    return new ReconcileError('mismatch', cid, `the exchange's ${snapshot.txid} carries client order id ${snapshot.clientOrderId}`);
  }
  const pair = pairs.find(snapshot.pair)?.key ?? snapshot.pair;
  if (pair !== intent.pair) {
    return new ReconcileError('mismatch', cid, `journaled for pair ${intent.pair}, the exchange's ${snapshot.txid} is on ${snapshot.pair}`);
  }
  if (snapshot.side !== intent.side) {
    return new ReconcileError('mismatch', cid, `journaled as a ${intent.side}, the exchange's ${snapshot.txid} is a ${snapshot.side}`);
  }
  if (snapshot.volumeExecuted.gt(intent.volume)) {
    return new ReconcileError(
      'fill-exceeds-order',
      cid,
      `the exchange's ${snapshot.txid} executed ${snapshot.volumeExecuted.toFixed()}, more than the ${intent.volume.toFixed()} journaled`,
    );
  }
  return null;
}

/**
 * The events that bring a journaled order to what the exchange shows. A fill the process did not see is one
 * `fill` for the executed volume's growth, its price and fee the growth of the exchange's cost and fee; its trade id
 * is made from the txid and the executed volume, so the same snapshot seen again is the same trade (ignored).
 */
function eventsFromSnapshot(order: JournaledOrder, snapshot: OrderSnapshot): LifecycleEvent[] {
  const { intent, state } = order;
  const events: LifecycleEvent[] = [];
  if (state.status === 'intended') events.push({ kind: 'sent', deadline: intent.createdAt + intent.deadlineMs });
  if (NEVER_ANSWERED.has(state.status)) events.push({ kind: 'found', txid: snapshot.txid });
  if (snapshot.volumeExecuted.gt(state.filled)) events.push(fillOf(state, snapshot));
  const executed = snapshot.volumeExecuted;
  if (snapshot.status === 'closed') events.push({ kind: 'final', outcome: 'closed', volumeExecuted: executed, reason: snapshot.reason });
  if (snapshot.status === 'canceled') events.push({ kind: 'final', outcome: 'canceled', volumeExecuted: executed, reason: snapshot.reason });
  if (snapshot.status === 'expired') events.push({ kind: 'expired', volumeExecuted: executed, reason: snapshot.reason });
  return events;
}

function fillOf(state: OrderState, snapshot: OrderSnapshot): LifecycleEvent {
  const increment = snapshot.volumeExecuted.minus(state.filled);
  const cost = snapshot.cost.minus(state.cost);
  const fee = snapshot.fee.minus(state.fee);
  return {
    kind: 'fill',
    txid: snapshot.txid,
    tradeId: `reconciled:${snapshot.txid}:${snapshot.volumeExecuted.toFixed()}`,
    quantity: increment,
    price: cost.gt(0) ? cost.div(increment) : snapshot.averagePrice,
    fee: fee.gt(0) ? fee : ZERO,
    volumeExecuted: snapshot.volumeExecuted,
  };
}

/**
 * Reconciles the journal with the exchange at start, before the first new signal: adopts every unresolved
 * journaled order, reports what changed while the process was down (once: the reports are those of the
 * journal transitions that moved), and hands on the duties to restore.
 *
 * Intuition: a replay of the journal, then one monitor tick over all of it, then one listing of what closed since
 * the oldest placement whose answer never came, and lookups only of those it cannot settle yet.
 *
 * journal:   (o|)
 * exchange:  ──O──Q──Q──C──C──────l────L      O: OpenOrders once, Q: QueryOrders (≤ 50 txids) for the journaled
 * result:    ────────────────r─r─r─────────r─p|   txids not open, C: ClosedOrders pages since the oldest never-
 *                                              answered order, l/L: lookups by client order id of those not yet
 *                                              past their deadline + OpenOrders lag (L: past it); r: reports,
 *                                              p: the plan (`done`)
 *
 * - An order with a txid: its OpenOrders or QueryOrders snapshot becomes journal transitions (fills, final or
 *   expired state). A txid the exchange does not know errors (`unknown-to-exchange`).
 * - An order never answered (`intended`, `sent`, `ambiguous`): found in OpenOrders or in the ClosedOrders listing
 *   (below), or looked up by client order id (`lookUpOrder`, `lookup` lane): found → `found` with its txid,
 *   adopted as above; absent, proven only past its last send's deadline plus the OpenOrders lag
 *   (`absenceProvableFrom`: absent from both listings when OpenOrders was read past it, else looked up again
 *   until then) → `proven-absent`, then
 *   REJECTED for an entry (a stale entry is not sent again after a restart) and ERROR for a protective order or an
 *   exit (its entry's open quantity then shows in `toProtect`); neither → `unsettled` in the plan, never REJECTED.
 *   An `absent` order (proven in the run before) ends the same way without a call.
 * - A signal journaled with no order intent (the process stopped between the two writes, so nothing was sent for
 *   it): its outcome journaled, then one REJECTED (`SIGNAL_WITHOUT_ORDER`); a later start finds the outcome and
 *   says nothing. This comes first, before any exchange call.
 * - An open order whose client order id is not the journal's: journaled as reported and logged at warn, once across
 *   restarts (a later start logs it at debug), listed in `foreign`, never touched.
 * - A snapshot for another pair, side or client order id, a fill larger than the order, an ended order open on
 *   the exchange, or a transition the state machine refuses: errors with a `ReconcileError` (nothing guessed).
 *
 * REST: one OpenOrders, ⌈n/50⌉ QueryOrders for n journaled txids not open, and for the never-answered orders not
 * open ⌈m/50⌉ ClosedOrders pages for the m orders closed since the oldest one's intent (less a second for the
 * exchange's clock), on the monitor lane as OpenOrders; then two calls per lookup round of each of them not yet
 * past its deadline plus the lag (AssetPairs once, public, when `options.pairs` is absent). Without the port's
 * `closedOrdersSince`, when those pages would cost more than two calls per order, or when the listing fails
 * (logged), every never-answered order is looked up as before. TradesHistory is not read: the port offers none;
 * a fill seen only here is one fill per order and snapshot (see `eventsFromSnapshot`).
 *
 * Emits report steps as the transitions are journaled, then one `done` step with the plan, and completes.
 * Errors with a `ReconcileError`, a `JournalError`, or the exchange's error when OpenOrders/QueryOrders fail
 * after the run's retries (the start cannot go on blind).
 *
 * @param journal The journal of this account.
 * @param deps The run's exchange access (gate, breaker, scheduler, report builder, config).
 * @param options The pair book.
 * @returns Reports of what changed while down, then the plan.
 */
export function reconcile(journal: Journal, deps: ExchangeDeps, options: ReconcileOptions = {}): Observable<Step<ReconcilePlan>> {
  const { port, scheduler, log } = deps;
  const pairs$: Observable<PairBook> = options.pairs
    ? of(options.pairs)
    : exchangeCall(deps, 'monitor', () => ({ kind: 'pairs' }), () => port.pairs(), 'idempotent');

  const openOrders$ = exchangeCall(deps, 'monitor', () => ({ kind: 'openOrders' }), () => port.openOrders(), 'idempotent');
  const queryOrders = (txids: readonly string[]): Observable<ReadonlyMap<string, OrderSnapshot>> =>
    exchangeCall(deps, 'monitor', () => ({ kind: 'queryOrders' }), () => port.queryOrders(txids), 'idempotent');

  /** Journals events one after the other; the reports of those that moved the order. */
  const record = (order: JournaledOrder, events: readonly LifecycleEvent[], pairs: PairBook): Observable<Settled> => {
    const context = contextOfIntent(order.intent, pairs);
    const cid = order.intent.clientOrderId;
    return from(events).pipe(
      // concatMap: an order's events are journaled in the order they happened.
      concatMap((event) => journal.recordTransition(cid, event, scheduler.now())),
      concatMap((step): Observable<Settled> => {
        if (step.kind === 'invalid') {
          return throwError(() => new ReconcileError('invalid-transition', cid, `${step.event.kind} from the exchange: ${step.reason}`));
        }
        if (step.kind === 'ignored') return EMPTY;
        return from(step.reports.map((derived) => reportStep(deps.report(context, derived.status, detailsOf(derived)))));
      }),
    );
  };

  const adopt = (order: JournaledOrder, snapshot: OrderSnapshot, pairs: PairBook): Observable<Settled> => {
    const mismatch = mismatchOf(order.intent, snapshot, pairs);
    return mismatch ? throwError(() => mismatch) : record(order, eventsFromSnapshot(order, snapshot), pairs);
  };

  /** Proven not placed: an entry is not sent again after a restart; a protective order or exit is replaced by the plan. */
  const giveUp = (order: JournaledOrder, pairs: PairBook, how: string): Observable<Settled> => {
    const proven: LifecycleEvent[] = order.state.status === 'sent' || order.state.status === 'ambiguous' ? [{ kind: 'proven-absent' }] : [];
    return record(order, [...proven, givenUp(order.intent.role, `not placed: ${how}`)], pairs);
  };

  /** Proven not placed by what the exchange lists (a lookup's or the start's listing): how it ends. */
  const giveUpAbsent = (order: JournaledOrder, pairs: PairBook): Observable<Settled> =>
    giveUp(order, pairs, order.state.status === 'intended' ? 'never sent before the process stopped' : 'proven absent by its client order id after the restart');

  /**
   * A never-answered order: adopted when OpenOrders or the ClosedOrders listing shows it; proven absent without a
   * call when the listing is complete and OpenOrders was read past its deadline plus the lag; else looked up.
   */
  const settleUnanswered = (order: JournaledOrder, listing: StartListing, pairs: PairBook): Observable<Settled> => {
    const cid = order.intent.clientOrderId;
    const listed = findByClientOrderId(listing.open, cid) ?? (listing.closed ? findByClientOrderId(listing.closed, cid) : undefined);
    if (listed) return adopt(order, listed, pairs);
    if (order.state.status === 'absent') return giveUp(order, pairs, 'proven absent before the restart');
    const deadline = order.state.deadline ?? order.intent.createdAt + order.intent.deadlineMs;
    if (listing.closed && listing.openAt >= absenceProvableFrom(deadline, deps)) return giveUpAbsent(order, pairs);
    return lookUpOrder(cid, deadline, deps, 'lookup').pipe(
      concatMap((result): Observable<Settled> => {
        switch (result.kind) {
          case 'found':
            return adopt(order, result.snapshot, pairs);
          case 'absent':
            return giveUpAbsent(order, pairs);
          case 'unproven':
            log.warn(`${cid}: may be live, neither found nor proven absent at start: ${result.reason}`);
            return of({ kind: 'unsettled', order: { intent: order.intent, status: order.state.status, reason: result.reason } });
        }
      }),
    );
  };

  /**
   * Every closed order opened or closed since `startMs`, page after page (⌈count/50⌉, following `count` should it
   * grow meanwhile), on the monitor lane as OpenOrders; `null` (the lookups then do it all) without the port's
   * paging, when the walk would cost more than the `lookups` it saves, or when it fails (logged).
   */
  const closedSince = (startMs: number, lookups: number): Observable<ReadonlyMap<string, OrderSnapshot> | null> => {
    const listPage = port.closedOrdersSince?.bind(port);
    if (!listPage || lookups === 0) return of(null);
    const page = (offset: number) =>
      exchangeCall(deps, 'monitor', () => ({ kind: 'closedOrders' }), () => listPage(startMs, offset), 'idempotent').pipe(
        map((answer) => ({ ...answer, next: offset + answer.orders.size })),
      );
    const worthIt = (count: number): boolean => Math.ceil(count / CLOSED_PAGE_SIZE) <= LOOKUP_CALLS * lookups;
    return page(0).pipe(
      // expand, one page at a time: each offset follows from the previous answer.
      expand((answer) => (answer.orders.size > 0 && answer.next < answer.count && worthIt(answer.count) ? page(answer.next) : EMPTY), 1),
      reduce(
        (listing: { orders: Map<string, OrderSnapshot>; complete: boolean }, answer) => ({
          orders: new Map([...listing.orders, ...answer.orders]),
          // An empty page short of `count` leaves the listing incomplete: it proves nothing.
          complete: worthIt(answer.count) && answer.next >= answer.count,
        }),
        { orders: new Map<string, OrderSnapshot>(), complete: false },
      ),
      map((listing) => (listing.complete ? listing.orders : null)),
      catchError((error: unknown) => {
        log.warn('ClosedOrders since the oldest never-answered order failed; looking each up instead:', error instanceof Error ? error.message : String(error));
        return of(null);
      }),
    );
  };

  /** Every journaled order with a txid, from its snapshot, one after the other in journal order. */
  const settleKnown = (known: readonly JournaledOrder[], snapshots: ReadonlyMap<string, OrderSnapshot>, pairs: PairBook): Observable<Settled> =>
    from(known).pipe(
      // concatMap: journal writes one order after the other, so its reports come in journal order.
      concatMap((order) => {
        const txid = order.state.txid ?? '';
        const snapshot = snapshots.get(txid);
        if (snapshot) return adopt(order, snapshot, pairs);
        const message = `journaled as ${txid}, which the exchange does not know: is this journal from another account?`;
        return throwError(() => new ReconcileError('unknown-to-exchange', order.intent.clientOrderId, message));
      }),
    );

  /** The reports as they come; once every order is settled, the plan from the journal as it now stands. */
  const withPlan = (settled$: Observable<Settled>, foreign: readonly ForeignOrder[], pairs: PairBook): Observable<Step<ReconcilePlan>> =>
    settled$.pipe(
      // connect: one subscription feeds both the reports and the list of unsettled orders the plan needs.
      connect((shared) =>
        merge(
          shared.pipe(filter((item): item is Step<never> => item.kind === 'report')),
          shared.pipe(
            filter((item): item is Extract<Settled, { kind: 'unsettled' }> => item.kind === 'unsettled'),
            map((item) => item.order),
            toArray(),
            concatMap((unsettled) => journal.orders().pipe(map((orders) => doneStep(planOf(orders, planInputs(foreign, unsettled, pairs)))))),
          ),
        ),
      ),
    );

  const planInputs = (foreign: readonly ForeignOrder[], unsettled: readonly UnsettledOrder[], pairs: PairBook): PlanInputs => ({
    foreign,
    unsettled,
    pairs,
    now: scheduler.now(),
    protectionMode: deps.config.protection.mode,
  });

  const settle = (all: readonly JournaledOrder[], pairs: PairBook): Observable<Step<ReconcilePlan>> =>
    openOrders$.pipe(
      concatMap((open) => {
        const openAt = scheduler.now();
        const journaled = new Map(all.map((order) => [order.intent.clientOrderId, order]));
        const contradiction = endedButOpen(open, journaled);
        if (contradiction) return throwError(() => contradiction);
        const foreign = foreignOrders(open, journaled);
        const unresolved = all.filter((order) => !isFinalOrderStatus(order.state.status));
        const known = unresolved.filter((order) => order.state.txid !== null);
        const unanswered = unresolved.filter((order) => order.state.txid === null);
        const toQuery = known.map((order) => order.state.txid ?? '').filter((txid) => !open.has(txid));
        const cidOf = new Map(known.map((order) => [order.state.txid ?? '', order.intent.clientOrderId]));
        const snapshots$ = from(chunk(toQuery, QUERY_BATCH_SIZE)).pipe(
          // concatMap: one REST call at a time, as the monitor does.
          concatMap((batch) =>
            queryOrders(batch).pipe(
              // Kraken answers a batch naming a txid it does not know with "Invalid order": the journal is not this account's.
              catchError((error: unknown) => throwError(() => (isOrderGone(error) ? unknownTxids(batch, cidOf) : error))),
            ),
          ),
          reduce((found: Map<string, OrderSnapshot>, batch) => new Map([...found, ...batch]), new Map(open)),
        );
        const toLookUp = unanswered.filter((order) => order.state.status !== 'absent' && !findByClientOrderId(open, order.intent.clientOrderId));
        // From the oldest one's intent (before its first send), a second early for the exchange's clock.
        const since = Math.min(...toLookUp.map((order) => order.intent.createdAt)) - CLOCK_SKEW_MS;
        const settled$ = snapshots$.pipe(
          concatMap((snapshots) =>
            closedSince(since, toLookUp.length).pipe(
              concatMap((closed) =>
                concat(
                  settleKnown(known, snapshots, pairs),
                  // mergeMap: independent lookups, paced by the rate gate's lookup lane.
                  from(unanswered).pipe(mergeMap((order) => settleUnanswered(order, { open, openAt, closed }, pairs), LOOKUP_CONCURRENCY)),
                ),
              ),
            ),
          ),
        );
        return concat(reportForeign(foreign), withPlan(settled$, foreign, pairs));
      }),
    );

  /**
   * Each order the handler did not place, said once across restarts: journaled as reported, then logged; one the
   * journal already holds as reported is not said again. A failed write is logged, and the order said all the same.
   */
  const reportForeign = (foreign: readonly ForeignOrder[]): Observable<never> =>
    from(foreign).pipe(
      // concatMap: one journal write after the other.
      concatMap((order) =>
        journal.recordForeignOrder({ ...order, at: scheduler.now() }).pipe(
          map((admission) => admission.kind === 'recorded'),
          catchError((error: unknown) => {
            log.error(`order ${order.txid} not in the journal, and it could not be journaled as reported:`, error instanceof Error ? error.message : String(error));
            return of(true);
          }),
          concatMap((first) => {
            const line = `order ${order.txid} (client order id ${order.clientOrderId ?? 'none'}, ${order.side} ${order.volume.toFixed()} ${order.pair}) is not in the journal: left untouched`;
            if (first) log.warn(line);
            else log.debug(`${line} (reported at an earlier start)`);
            return EMPTY;
          }),
        ),
      ),
    );

  /**
   * Signals journaled whose order never was: each gets its one REJECTED, journaled first (a start that dies after
   * the write and before the report loses the report, never doubles it — as the orders' reports above).
   */
  const signalsWithoutOrder = (pairs: PairBook): Observable<Step<never>> =>
    journal.signalsWithoutOrder().pipe(
      concatMap((signals) => from(signals)),
      // concatMap: one outcome written after the other, reported in journal order.
      concatMap((signal) =>
        journal.recordSignalOutcome({ signalId: signal.signalId, status: 'REJECTED', reason: SIGNAL_WITHOUT_ORDER, at: scheduler.now() }).pipe(
          concatMap((admission) => {
            if (admission.kind === 'duplicate') return EMPTY;
            log.warn(`${signal.signalId}: journaled, but its order never was before the process stopped: REJECTED (nothing was sent for it)`);
            return of(reportStep(deps.report(contextOfSignal(signal, pairs), 'REJECTED', { reason: SIGNAL_WITHOUT_ORDER })));
          }),
        ),
      ),
    );

  return defer(() =>
    journal.orders().pipe(concatMap((all) => pairs$.pipe(concatMap((pairs) => concat(signalsWithoutOrder(pairs), settle(all, pairs)))))),
  );
}

/** What the REJECTED of a journaled signal without an order repeats: what it asked for, no client order id. */
function contextOfSignal(signal: SignalRecord, pairs: PairBook): OrderContext {
  return {
    signalId: signal.signalId,
    clientOrderId: null,
    pair: signal.pair,
    role: 'entry',
    side: signal.side,
    orderType: signal.orderType,
    quantityOrdered: signal.quantity,
    limitPrice: signal.limitPrice,
    stopPrice: null,
    commissionAsset: pairs.find(signal.pair)?.quote ?? null,
  };
}

/** How an order proven not placed ends: a stale entry is not sent again; a protective order or exit is a person's business. */
function givenUp(role: OrderRole, reason: string): LifecycleEvent {
  switch (role) {
    case 'entry':
      return { kind: 'rejected', reason: `${reason}; an entry is not sent again after a restart` };
    case 'stop-loss':
    case 'take-profit':
      return { kind: 'failed', reason: `position unprotected: ${reason}; the start-up plan protects its entry again` };
    case 'close':
      return { kind: 'failed', reason: `${reason}; what it was to close is still held` };
  }
}

function unknownTxids(batch: readonly string[], cidOf: ReadonlyMap<string, string>): ReconcileError {
  const first = batch[0] ?? '';
  const which = batch.length === 1 ? first : `one of ${batch.length} journaled txids (${first}, …)`;
  return new ReconcileError('unknown-to-exchange', cidOf.get(first) ?? first, `the exchange does not know ${which}: is this journal from another account?`);
}

/** What the start read of the account, for the never-answered orders. */
interface StartListing {
  readonly open: ReadonlyMap<string, OrderSnapshot>;
  /** Epoch ms of the OpenOrders answer: a listing proves absence only when read past the deadline plus the lag. */
  readonly openAt: number;
  /** Every closed order since the oldest never-answered one; `null` when not read (or not all of it). */
  readonly closed: ReadonlyMap<string, OrderSnapshot> | null;
}

/** Only an exact match: adopting an order that does not carry our id could make a stranger's order ours. */
const findByClientOrderId = (orders: ReadonlyMap<string, OrderSnapshot>, clientOrderId: string): OrderSnapshot | undefined =>
  [...orders.values()].find((snapshot) => snapshot.clientOrderId === clientOrderId);

/** Kraken's ClosedOrders page. */
const CLOSED_PAGE_SIZE = 50;
/** REST calls of one lookup round (OpenOrders, then ClosedOrders, by client order id). */
const LOOKUP_CALLS = 2;
/** How far the exchange's clock may be behind ours: the listing starts this much before the oldest intent. */
const CLOCK_SKEW_MS = 1_000;

/** Lookups in flight at once; the gate orders their calls anyway, this bounds the timers and subscriptions. */
const LOOKUP_CONCURRENCY = 8;

const chunk = <T>(items: readonly T[], size: number): T[][] => {
  const chunks: T[][] = [];
  for (let at = 0; at < items.length; at += size) chunks.push(items.slice(at, at + size));
  return chunks;
};

/** An open order the journal says ended (or proved absent): the journal and the exchange tell two stories. */
function endedButOpen(open: ReadonlyMap<string, OrderSnapshot>, journaled: ReadonlyMap<string, JournaledOrder>): ReconcileError | null {
  for (const snapshot of open.values()) {
    const order = snapshot.clientOrderId === null ? undefined : journaled.get(snapshot.clientOrderId);
    if (order && (isFinalOrderStatus(order.state.status) || order.state.status === 'absent')) {
      return new ReconcileError('ended-but-open', order.intent.clientOrderId, `journaled as ${order.state.status}, the exchange shows ${snapshot.txid} open`);
    }
  }
  return null;
}

function foreignOrders(open: ReadonlyMap<string, OrderSnapshot>, journaled: ReadonlyMap<string, JournaledOrder>): ForeignOrder[] {
  return [...open.values()]
    .filter((snapshot) => snapshot.clientOrderId === null || !journaled.has(snapshot.clientOrderId))
    .map((snapshot) => ({
      txid: snapshot.txid,
      clientOrderId: snapshot.clientOrderId,
      pair: snapshot.pair,
      side: snapshot.side,
      orderType: snapshot.orderType,
      volume: snapshot.volume,
    }));
}

/** What the plan needs besides the journal's orders. */
export interface PlanInputs {
  readonly foreign: readonly ForeignOrder[];
  readonly unsettled: readonly UnsettledOrder[];
  readonly pairs: PairBook;
  /** Epoch ms, from the run's scheduler: `dueAt` of what is already due, `placedAt` of what is followed. */
  readonly now: number;
  /** The run's protection mode, for entries journaled without one. */
  readonly protectionMode: ProtectionMode;
}

/** When a working entry was accepted: the acceptance journaled, else its last send (a lookup found it later). */
function acceptedAt(order: JournaledOrder): number {
  const events = order.events;
  const accepted = events.find((entry) => entry.event.kind === 'accepted');
  if (accepted) return accepted.at;
  const sent = events.filter((entry) => entry.event.kind === 'sent').pop();
  return sent?.at ?? events.find((entry) => entry.event.kind === 'found' || entry.event.kind === 'fill')?.at ?? order.intent.createdAt;
}

/**
 * What each entry still holds: its fills minus its own exits' fills, then minus the fills of exits journaled with
 * no parent (a close of the whole pair), taken from that pair's entries oldest first.
 */
function openQuantities(orders: readonly JournaledOrder[], children: ReadonlyMap<string, readonly JournaledOrder[]>): Map<string, Decimal> {
  const open = new Map<string, Decimal>();
  const unattributed = new Map<string, Decimal>();
  for (const order of orders) {
    const { intent, state } = order;
    if (intent.role === 'entry') {
      const exited = (children.get(intent.clientOrderId) ?? [])
        .filter((child) => child.intent.role !== 'entry' && child.intent.side !== intent.side)
        .reduce((sum, child) => sum.plus(child.state.filled), ZERO);
      open.set(intent.clientOrderId, Decimal.max(ZERO, state.filled.minus(exited)));
    } else if (intent.parentClientOrderId === null && state.filled.gt(0)) {
      unattributed.set(`${intent.pair}:${intent.side}`, (unattributed.get(`${intent.pair}:${intent.side}`) ?? ZERO).plus(state.filled));
    }
  }
  for (const order of orders) {
    const { intent } = order;
    if (intent.role !== 'entry') continue;
    const key = `${intent.pair}:${opposite(intent.side)}`;
    const left = unattributed.get(key) ?? ZERO;
    const held = open.get(intent.clientOrderId) ?? ZERO;
    if (left.lte(0) || held.lte(0)) continue;
    const taken = Decimal.min(left, held);
    open.set(intent.clientOrderId, held.minus(taken));
    unattributed.set(key, left.minus(taken));
  }
  return open;
}

const remainingOf = (order: JournaledOrder): Decimal => order.intent.volume.minus(order.state.filled);

/**
 * The duties the journal implies once it agrees with the exchange. Pure: `reconcile` ends with it, and a `status`
 * command can print it from the journal alone.
 *
 * An entry's open quantity is what it filled minus what its exits (stop-loss, take-profit, close with it as
 * parent) sold, minus the fills of closes journaled with no parent, taken from the pair's entries oldest first.
 * An ended entry with an open quantity gets a stop-loss for what its live stop-losses do not cover (none while
 * one of its protective orders is unsettled) and a take-profit watch unless a take-profit order of its is live.
 * A live protective order whose entry holds nothing any more is to cancel now.
 *
 * @param orders Every journaled order, in journal order.
 * @param inputs Foreign and unsettled orders, the pair book, the time and the run's protection mode.
 * @returns The plan.
 */
export function planOf(orders: readonly JournaledOrder[], inputs: PlanInputs): ReconcilePlan {
  const { pairs, now } = inputs;
  const children = new Map<string, JournaledOrder[]>();
  for (const order of orders) {
    const parent = order.intent.parentClientOrderId;
    if (parent !== null) children.set(parent, [...(children.get(parent) ?? []), order]);
  }
  const byId = new Map(orders.map((order) => [order.intent.clientOrderId, order]));
  const entryEnded = (clientOrderId: string): boolean => {
    const entry = byId.get(clientOrderId);
    return entry !== undefined && entry.intent.role === 'entry' && isFinalOrderStatus(entry.state.status);
  };
  const unsettledIds = new Set(inputs.unsettled.map((order) => order.intent.clientOrderId));
  const open = openQuantities(orders, children);

  const toProtect: UnprotectedFill[] = [];
  const toCancelAtTimeout: DueCancel[] = [];
  const toCancel: DueNow[] = [];
  const takeProfitWatches: TakeProfitWatch[] = [];
  const restingStops: RestingProtection[] = [];
  const followed: LiveOrder[] = [];

  for (const order of orders) {
    const { intent, state } = order;
    if (isLive(order)) {
      const txid = state.txid ?? '';
      followed.push({ context: contextOfIntent(intent, pairs), txid, placedAt: now });
      if (isProtective(intent.role)) {
        restingStops.push({
          txid,
          clientOrderId: intent.clientOrderId,
          parentClientOrderId: intent.parentClientOrderId,
          role: intent.role,
          pair: intent.pair,
          side: intent.side,
          orderType: intent.orderType,
          quantity: intent.volume,
          remaining: remainingOf(order),
          stopPrice: isTriggered(intent.orderType) ? intent.price : null,
        });
      }
      const parent = intent.parentClientOrderId;
      if (state.status === 'pending-cancel') {
        toCancel.push({ order: intent, txid, reason: state.cancelReason ?? 'cancel asked before the restart' });
      } else if (intent.role === 'entry' && intent.orderType === 'limit' && intent.duties.limitTimeoutMs !== null) {
        toCancelAtTimeout.push({ entry: intent, txid, dueAt: Math.max(now, acceptedAt(order) + intent.duties.limitTimeoutMs) });
      } else if (isProtective(intent.role) && parent !== null && entryEnded(parent) && (open.get(parent) ?? ZERO).lte(0)) {
        toCancel.push({ order: intent, txid, reason: 'position closed' });
      }
      continue;
    }
    // An entry still working is protected when it ends (followed above); an ended one, from what it holds.
    if (intent.role !== 'entry' || !isFinalOrderStatus(state.status)) continue;
    const held = open.get(intent.clientOrderId) ?? ZERO;
    if (held.lte(0)) continue;
    const mine = children.get(intent.clientOrderId) ?? [];
    if (mine.some((child) => unsettledIds.has(child.intent.clientOrderId))) continue;
    const liveOf = (role: OrderRole): JournaledOrder[] => mine.filter((child) => child.intent.role === role && isLive(child));
    const mode = intent.duties.protectionMode ?? inputs.protectionMode;
    const { stopLoss, takeProfit } = intent.duties;
    if (stopLoss !== null) {
      const covered = liveOf('stop-loss').reduce((sum, child) => sum.plus(remainingOf(child)), ZERO);
      const quantity = held.minus(covered);
      if (quantity.gt(0)) toProtect.push({ entry: intent, txid: state.txid, quantity, stopPrice: stopLoss, protectionMode: mode });
    }
    // A take-profit resting (both-resting) or an exit at it under way needs no watch; otherwise it is watched.
    if (takeProfit !== null && liveOf('take-profit').length === 0) {
      takeProfitWatches.push({ entry: intent, pair: intent.pair, exitSide: opposite(intent.side), takeProfit, quantity: held });
    }
  }
  return { toProtect, toCancelAtTimeout, toCancel, takeProfitWatches, restingStops, followed, foreign: inputs.foreign, unsettled: inputs.unsettled };
}
