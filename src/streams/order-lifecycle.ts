import {
  EMPTY,
  Observable,
  type Subscription,
  catchError,
  concat,
  concatMap,
  defer,
  finalize,
  ignoreElements,
  of,
  take,
  tap,
  timer,
} from 'rxjs';
import { isExchangeError, isOrderGone } from '../model/errors';
import { type OrderSnapshot } from '../model/order';
import { type LifecycleEvent } from '../model/order-state';
import { type FillProgress, NO_FILLS, type OrderEvent, advanceFills } from '../operators/fill-deltas';
import { type StreamDeps } from './deps';
import { exchangeCall } from './exchange-call';
import { noteTransition, snapshotTradeId } from './journaling';
import { type OrderContext, snapshotDetails } from './reports';
import { type Step, doneStep, reportStep } from './step';

/** Why the handler cancels an order it follows. */
export type CancelReason = 'timeout' | 'take-profit' | 'close-position' | 'one-cancels-other' | 'stop';

/** An order the exchange accepted. */
export interface LiveOrder {
  readonly context: OrderContext;
  readonly txid: string;
  /**
   * Scheduler time the placement was answered (or the order adopted), never the send time: a cancel's
   * trading-counter penalty depends on the order's age, and the exchange ages it from its arrival, so the
   * model must never think it older than the exchange does.
   */
  readonly placedAt: number;
}

/** An order's final state, and why the handler cancelled it if it did. */
export interface OrderFinal {
  readonly order: LiveOrder;
  readonly snapshot: OrderSnapshot;
  readonly cancelReason: CancelReason | null;
  /**
   * The order ended cancelled after the handler withdrew its cancel (`cancelWithdrawn$`: a close that gave up), and
   * a cancel of the handler's may be what ended it (an attempt on its way then, or one whose answer was lost):
   * what it protected may need protecting again.
   */
  readonly landedAfterWithdrawal?: boolean;
}

/** Something that, when it emits, means the order is to be cancelled for `reason`. */
export interface CancelTrigger {
  readonly when$: Observable<unknown>;
  readonly reason: CancelReason;
}

export interface FollowOptions {
  /** Its first value cancels the order (once); later values and a cancel after the final state are ignored. */
  readonly cancelWhen$?: Observable<CancelReason>;
  /**
   * More triggers, each with its reason: the first value of any of them (or of `cancelWhen$`) cancels the order.
   * The same as merging them into `cancelWhen$`, without an operator chain per trigger per order.
   */
  readonly cancelOn?: readonly CancelTrigger[];
  /** Cancels it (reason `timeout`) this many ms after following starts, on the run's scheduler. */
  readonly timeoutMs?: number;
  /** A snapshot already in hand (an order adopted after a lookup): reported before the monitor's first tick. */
  readonly adopted?: OrderSnapshot;
  /** The exchange answered the handler's cancel as done (not pending); the order is still followed to its end. */
  readonly onCancelConfirmed?: () => void;
  /**
   * At `stop()` (`deps.stopping$`), stop following it and leave it resting on the exchange (a protective order):
   * at once unless a cancel attempt is under way or has landed; an attempt under way that fails is not tried
   * again (the follower ends with it); one that landed (answered, or "gone") is followed to the final state, so
   * what comes after it (a take-profit's exit, a close) can still happen. Ends without a `done` step.
   */
  readonly leaveRestingOnStop?: boolean;
  /**
   * What was already reported and journaled of it (an order followed again after a restart): only fills beyond
   * this are reported, applied to the registry and journaled. Default: nothing.
   */
  readonly seen?: FillProgress;
  /**
   * Withdraws the handler's cancel when its reason is gone (a close that gave up): a value whose `reason` is the
   * cancel's, before the order's final state, ends the attempts (a retry waiting is not sent; a request already on
   * its way may still land, and then counts as one that may have landed); the order stays followed, and the value's
   * `when$` cancels it again (a later close). Watched only while a cancel is wanted. A cancel already answered is
   * not withdrawn: the order is followed to its end. See `OrderFinal.landedAfterWithdrawal`.
   */
  readonly cancelWithdrawn$?: Observable<CancelTrigger>;
}

/** Where the handler's cancel of an order stands: at `stop()` a protective order is left resting unless it is under way or landed. */
type CancelProgress = 'none' | 'in-flight' | 'waiting' | 'landed';

const isFinalSnapshot = (snapshot: OrderSnapshot): boolean =>
  snapshot.status === 'closed' || snapshot.status === 'canceled' || snapshot.status === 'expired';

/**
 * Follows one accepted order to its final state through the shared monitor, reporting every fill increment
 * once and exactly one final status; cancels it (once) at the first of `cancelWhen$`, a `cancelOn` trigger or
 * `timeoutMs`, and keeps following, since a fill can win the race with the cancel.
 *
 * monitor:    ──o────p──────────c         o open, p partly filled, c canceled with the fill
 * cancelWhen$: ────────────t
 * result:     ───────P─────X───Cd|        P PARTIALLY_FILLED, X PENDING_CANCEL, C CANCELED, d done(final)
 *
 * A cancel answered "unknown order" (the order is already gone) is not a cancellation: the monitor is asked
 * to look the order up, and whatever it finds (filled, cancelled) is reported; a cancellation found then is
 * reported as `cancelled outside the handler` with the exchange's reason, never as the handler's doing (the
 * final state's `cancelReason` still says why the handler wanted it gone, for what follows) — unless an earlier
 * attempt of the handler's cancel failed ambiguously (its answer lost): then that attempt is what removed it, and
 * the cancellation is the handler's. A cancel answered as done calls `onCancelConfirmed`. A cancel that fails otherwise
 * is logged and tried again after a monitor interval as long as the order is followed and the cancel not withdrawn, after `stop()` too (an entry
 * cancelled at stop is not left working). Fills also update the positions registry as they are reported.
 * Each fill (under `snapshotTradeId`: snapshots name no trades), the cancel sent, a cancel that missed and the final
 * state are journaled as they are seen (`noteTransition`); a journal failure is logged and changes nothing here.
 * Completes after the final state with one `done` step; never errors (the monitor retries on its own).
 *
 * With `leaveRestingOnStop` (a protective order) the follower ends at `stop()` instead, without a `done` step,
 * leaving the order resting: at once, or once a cancel attempt under way at stop fails (it is not re-armed); a
 * cancel that landed is followed to the final state.
 *
 * A cancel can be withdrawn (`cancelWithdrawn$`: a close that gave up): no attempt after it, the order stays
 * followed and the withdrawal's trigger cancels it again; if it ends cancelled anyway (an attempt on its way
 * landed), its final state says so (`landedAfterWithdrawal`).
 *
 * cancel:      ──X──#──X─────────────X──     X attempt, # refused (re-armed after a monitor interval)
 * withdrawn$:  ──────────w                   (the attempt on its way is dropped; it may still land)
 * trigger:     ──────────────────────t       (the withdrawal's: a later close)
 *
 * cancel:    ──X──#───────X──#        X attempt, # refused (re-armed after a monitor interval)
 * stopping$: ──────────────s
 * result:    ──X─────────────|        the attempt under way at stop() fails: left resting, no attempt after it
 *
 * @param order The accepted order.
 * @param deps The run's monitor, exchange access and registry.
 * @param options What cancels it (`cancelWhen$`, `cancelOn`, `timeoutMs`); an adopted snapshot.
 * @returns Reports, then the final state.
 */
export function followOrder(order: LiveOrder, deps: StreamDeps, options: FollowOptions = {}): Observable<Step<OrderFinal>> {
  const { context, txid } = order;
  // One Observable holding the order's state, rather than fillDeltas + connect + merge + concatMap + takeUntil
  // around each order: a handler follows thousands at once, and those operators cost ~15 KB per order. The
  // state is still a fold (`advanceFills`), and each subscription below is owned and torn down here.
  return new Observable<Step<OrderFinal>>((subscriber) => {
    let cancelReason: CancelReason | null = null;
    /** The exchange answered the cancel that the order was already gone: it did not take. */
    let cancelMissed = false;
    /** An attempt of our cancel failed ambiguously: it may have landed, so a later "gone" may be our own doing. */
    let cancelMayHaveLanded = false;
    let finalReported = false;
    let cancelProgress: CancelProgress = 'none';
    /** The cancel was withdrawn (`cancelWithdrawn$`) and not wanted again since. */
    let withdrawn = false;
    /** A CancelOrder request is on its way (sent, not answered): withdrawn then, it may still land. */
    let onWire = false;
    /** `stop()` was asked for, seen only with `leaveRestingOnStop`. */
    let stopped = false;
    let latest: OrderSnapshot | null = options.adopted ?? null;
    let progress: FillProgress = options.seen ?? NO_FILLS;
    const clientOrderId = context.clientOrderId;
    const journal = (event: LifecycleEvent): void => noteTransition(deps, clientOrderId, event);

    const stepsOf = (event: OrderEvent): readonly Step<OrderFinal>[] => {
      const snapshot = event.snapshot;
      latest = snapshot;
      if (event.kind === 'fill') {
        journal({
          kind: 'fill',
          txid,
          tradeId: snapshotTradeId(txid, snapshot.volumeExecuted),
          quantity: event.quantity,
          price: event.price,
          fee: event.fee,
          volumeExecuted: snapshot.volumeExecuted,
        });
        deps.positions.applyFill(context.pair, context.side, event.quantity, context.clientOrderId ?? txid);
        const filled = snapshot.status === 'closed';
        finalReported ||= filled;
        return [
          reportStep(
            deps.report(context, filled ? 'FILLED' : 'PARTIALLY_FILLED', {
              ...snapshotDetails(snapshot),
              lastFillQuantity: event.quantity,
              lastFillPrice: event.price,
            }),
          ),
        ];
      }
      if (!isFinalSnapshot(snapshot)) return [];
      journal(
        snapshot.status === 'expired'
          ? { kind: 'expired', volumeExecuted: snapshot.volumeExecuted, reason: snapshot.reason }
          : { kind: 'final', outcome: snapshot.status === 'closed' ? 'closed' : 'canceled', volumeExecuted: snapshot.volumeExecuted, reason: snapshot.reason },
      );
      const landedAfterWithdrawal = withdrawn && snapshot.status === 'canceled' && cancelReason !== null && !cancelMissed;
      const done = doneStep<OrderFinal>({ order, snapshot, cancelReason, ...(landedAfterWithdrawal ? { landedAfterWithdrawal } : {}) });
      if (finalReported) return [done];
      finalReported = true;
      const status = snapshot.status === 'closed' ? 'FILLED' : snapshot.status === 'expired' ? 'EXPIRED' : 'CANCELED';
      // The handler's reason only when its cancel took: an order cancelled elsewhere first keeps the exchange's.
      const reason =
        status === 'FILLED'
          ? null
          : cancelReason && !cancelMissed
            ? `cancelled: ${cancelReason}`
            : cancelReason
              ? `cancelled outside the handler${snapshot.reason ? ` (${snapshot.reason})` : ''}`
              : snapshot.reason;
      return [reportStep(deps.report(context, status, { ...snapshotDetails(snapshot), reason })), done];
    };

    const cancel = (reason: CancelReason): Observable<Step<OrderFinal>> => {
      cancelReason = reason;
      journal({ kind: 'cancel-sent', reason });
      const pendingCancel = deps.report(context, 'PENDING_CANCEL', {
        ...(latest ? snapshotDetails(latest) : { exchangeOrderId: txid }),
        reason: `cancel: ${reason}`,
      });
      const retryDelayMs = deps.config.monitor.maxIntervalMs;
      // A cancel is idempotent (at worst "unknown order"), and an order must not stay working past the reason it
      // was cancelled for: refusals that prove nothing was done are retried without limit until the run stops,
      // and any other failure re-arms the cancel after a monitor interval. The final state ends it all (below),
      // whoever made the order final; with `leaveRestingOnStop`, a failure after stop() ends the follower.
      const attemptCancel = (): Observable<Step<OrderFinal>> =>
        defer(() => {
          cancelProgress = 'in-flight';
          return sendCancel();
        });
      const sendCancel = (): Observable<Step<OrderFinal>> =>
        exchangeCall(
          deps,
          reason === 'close-position' ? 'close' : 'cancel',
          () => ({ kind: 'cancelOrder', pair: context.pair, orderAgeMs: deps.scheduler.now() - order.placedAt }),
          () =>
            defer(() => {
              onWire = true;
              return deps.port.cancelOrder({ txid });
            }).pipe(
              tap({ error: (error: unknown) => (cancelMayHaveLanded ||= isExchangeError(error) && error.kind === 'ambiguous') }),
              finalize(() => (onWire = false)),
            ),
          'idempotent',
          { waitOutBreaker: true, persistUntil$: deps.stopping$ },
        ).pipe(
          tap((outcome) => {
            cancelProgress = 'landed';
            if (outcome.count > 0 && !outcome.pending) options.onCancelConfirmed?.();
            deps.monitor.lookNow(txid);
          }),
          ignoreElements(),
          catchError((error: unknown) => {
            // Either way the monitor finds out what became of it; "gone" only means it is no longer open.
            deps.monitor.lookNow(txid);
            if (isOrderGone(error)) {
              cancelProgress = 'landed';
              // After an attempt whose answer was lost, "unknown order" is most likely that attempt having landed.
              cancelMissed = !cancelMayHaveLanded;
              if (cancelMissed) journal({ kind: 'cancel-missed' });
              deps.log.info(`${txid}: cancel says the order is gone; looking up its final state`);
              return EMPTY;
            }
            cancelProgress = 'waiting';
            if (stopped) {
              deps.log.warn(`${txid}: cancel failed after stop(); left resting on the exchange, not tried again:`, String(error));
              leaveResting();
              return EMPTY;
            }
            deps.log.warn(`${txid}: cancel failed, trying again in ${retryDelayMs} ms unless the order ends first:`, String(error));
            return timer(retryDelayMs, deps.scheduler).pipe(concatMap(attemptCancel));
          }),
        );
      return concat(of(reportStep(pendingCancel)), attemptCancel());
    };

    const forward = {
      next: (step: Step<OrderFinal>) => subscriber.next(step),
      error: (error: unknown) => subscriber.error(error),
    };
    // Plain variables and one teardown rather than Subscription.add chains: each add is an array per order.
    let triggers: Subscription[] | null = [];
    let cancelling: Subscription | null = null;
    let withdrawal: Subscription | null = null;
    let following: Subscription | null = null;
    let stopWatch: Subscription | null = null;
    const dropTriggers = (): void => {
      const watched = triggers;
      triggers = null;
      for (const trigger of watched ?? []) trigger.unsubscribe();
    };
    const dropCancel = (): void => {
      dropTriggers();
      cancelling?.unsubscribe();
      cancelling = null;
      withdrawal?.unsubscribe();
      withdrawal = null;
    };
    // The cancel triggers (the first value of any, once), then the cancel: watched from the start, so a trigger
    // that fired before the order was followed (a close already requested) cancels at once.
    const cancelFor = (reason: CancelReason): void => {
      if (!triggers) return;
      dropTriggers();
      withdrawn = false;
      const cancelWithdrawn$ = options.cancelWithdrawn$;
      if (cancelWithdrawn$) withdrawal = cancelWithdrawn$.subscribe({ next: withdraw, error: forward.error });
      cancelling = cancel(reason).subscribe(forward);
      // A cancel that ended the follower while being subscribed (refused at once after stop()) is dropped with it.
      if (subscriber.closed) dropCancel();
    };
    /**
     * The cancel's reason is gone: no attempt after the one on its way (if any, it may land: the monitor is asked
     * to look), and `rearm` cancels the order again. A cancel already answered is left to reach the final state.
     */
    function withdraw(rearm: CancelTrigger): void {
      if (rearm.reason !== cancelReason || withdrawn || triggers) return;
      withdrawn = true;
      withdrawal?.unsubscribe();
      withdrawal = null;
      if (cancelProgress !== 'landed') {
        // Dropping the request on its way does not unsend it: it may still remove the order.
        cancelMayHaveLanded ||= onWire;
        cancelling?.unsubscribe();
        cancelling = null;
        cancelProgress = 'none';
        // Nothing of ours can have removed it: a cancellation seen later is not the handler's.
        if (!cancelMayHaveLanded) cancelReason = null;
        // Journaled so that a restart does not send the withdrawn cancel again (it would take the protection the
        // close could not replace).
        journal({ kind: 'cancel-withdrawn', reason: `${rearm.reason} gave up` });
        deps.log.info(`${txid}: cancel (${rearm.reason}) withdrawn, its reason is gone; the order stays followed`);
        deps.monitor.lookNow(txid);
      }
      triggers = [];
      watch(rearm.when$, () => rearm.reason);
    }
    /** Ends the follower without a final state: the order is left resting on the exchange, and still listed. */
    function leaveResting(): void {
      dropCancel();
      stopWatch?.unsubscribe();
      stopWatch = null;
      following?.unsubscribe();
      following = null;
      subscriber.complete();
    }
    const watch = <V>(when$: Observable<V>, reasonOf: (value: V) => CancelReason): void => {
      if (!triggers) return;
      const trigger = when$.subscribe({ next: (value) => cancelFor(reasonOf(value)), error: forward.error });
      // A trigger that fired while being subscribed has already dropped the list.
      if (triggers) triggers.push(trigger);
      else trigger.unsubscribe();
    };
    // First: after a stop already asked for (it replays), an order to leave resting is not followed, nor cancelled.
    if (options.leaveRestingOnStop) {
      stopWatch = deps.stopping$.pipe(take(1)).subscribe(() => {
        stopped = true;
        if (cancelProgress === 'none' || cancelProgress === 'waiting') leaveResting();
      });
      if (subscriber.closed) stopWatch.unsubscribe();
    }
    const cancelWhen$ = options.cancelWhen$;
    if (cancelWhen$) watch(cancelWhen$, (reason) => reason);
    for (const trigger of options.cancelOn ?? []) watch(trigger.when$, () => trigger.reason);
    // One scheduled action, not a timer Observable and its subscriber: every working limit entry has one.
    if (options.timeoutMs !== undefined && triggers) triggers.push(deps.scheduler.schedule(() => cancelFor('timeout'), options.timeoutMs));

    /** One snapshot through the fold; at the final state the cancel is dropped and the result completes. */
    const onSnapshot = (snapshot: OrderSnapshot): void => {
      // Stale or repeated readings make no events; nothing after the final state is looked at.
      progress = advanceFills(progress, snapshot);
      for (const event of progress.events) for (const step of stepsOf(event)) subscriber.next(step);
      if (progress.final) {
        dropCancel();
        subscriber.complete();
      }
    };

    if (options.adopted && !subscriber.closed) onSnapshot(options.adopted);
    if (!subscriber.closed) following = deps.monitor.track(txid).subscribe({ next: onSnapshot, error: forward.error });
    return () => {
      dropCancel();
      stopWatch?.unsubscribe();
      stopWatch = null;
      following?.unsubscribe();
      following = null;
    };
  });
}
