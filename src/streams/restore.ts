import { Decimal } from 'decimal.js';
import { EMPTY, type Observable, ReplaySubject, concat, concatMap, defer, filter, finalize, map, merge, mergeMap, of, take, takeUntil, tap } from 'rxjs';
import { type JournaledOrder, type OrderIntentRecord } from '../model/journal';
import { type OrderRequest } from '../model/order';
import { type OrderState } from '../model/order-state';
import { type PairBook, type PairRules } from '../model/pair';
import { roundVolumeDown } from '../model/pair-rules';
import { type Side } from '../model/signal';
import { type FillProgress, NO_FILLS } from '../operators/fill-deltas';
import { type EntryIntent } from '../operators/intent';
import { type StreamDeps } from './deps';
import { checkExitMinimums, dustReport, marketExit, protectiveOrder } from './exits';
import { journalTransition } from './journaling';
import { protectEntry } from './protection';
import { lookUpOrder } from './lookup';
import { type CancelReason, type CancelTrigger, type LiveOrder, type OrderFinal, followOrder } from './order-lifecycle';
import { signedQuantity } from './positions';
import { takeProfitReached } from './price-watch';
import { type ReconcilePlan, type TakeProfitWatch, type UnprotectedFill, contextOfIntent } from './reconcile';
import { contextOfRequest } from './reports';
import { type Step, andThen, doneStep } from './step';

/** Steps of a restored duty: only its reports leave `restoreDuties` (its one `done` is the restore's own). */
type Work = Observable<Step<unknown>>;

const ZERO = new Decimal(0);
const opposite = (side: Side): Side => (side === 'buy' ? 'sell' : 'buy');
const CANCEL_REASONS: ReadonlySet<string> = new Set<CancelReason>(['timeout', 'take-profit', 'close-position', 'one-cancels-other', 'stop']);

/** A journaled cancel reason as the follower knows them; a protective order guarding a closed position: a sibling ended it. */
const cancelReasonOf = (reason: string): CancelReason => (CANCEL_REASONS.has(reason) ? (reason as CancelReason) : 'one-cancels-other');

/** What the journal already holds of an order's fills: the follower reports only what comes after. */
export const progressOf = (state: OrderState): FillProgress => ({
  ...NO_FILLS,
  status: 'open',
  volumeExecuted: state.filled,
  cost: state.cost,
  fee: state.fee,
});

/**
 * The intent an entry had when it was placed, rebuilt from its journaled intent, duties and pair rules, so that
 * what protects it after a restart is what would have protected it before.
 */
export function entryIntentOf(intent: OrderIntentRecord, rules: PairRules): EntryIntent {
  const { duties } = intent;
  const orderType = intent.orderType === 'limit' ? 'limit' : 'market';
  return {
    kind: 'entry',
    signal: {
      signalId: intent.signalId,
      pair: rules.key,
      side: intent.side,
      orderType,
      quantity: intent.volume,
      ...(intent.price !== null && orderType === 'limit' ? { limitPrice: intent.price } : {}),
      ...(duties.stopLoss !== null ? { stopLoss: duties.stopLoss } : {}),
      ...(duties.takeProfit !== null ? { takeProfit: duties.takeProfit } : {}),
      ...(duties.limitTimeoutMs !== null ? { timeoutMs: duties.limitTimeoutMs } : {}),
    },
    rules,
    request: {
      clientOrderId: intent.clientOrderId,
      pair: rules.key,
      side: intent.side,
      orderType,
      volume: intent.volume,
      ...(intent.price !== null && orderType === 'limit' ? { price: intent.price } : {}),
    },
    stopLoss: duties.stopLoss,
    takeProfit: duties.takeProfit,
    timeoutMs: duties.limitTimeoutMs,
    roundingNote: null,
  };
}

/**
 * Signed net quantity per pair from every journaled fill (entries add or take by side, exits the other way):
 * what the positions book held when the process stopped, plus what filled while it was down.
 */
export function netByPair(orders: readonly JournaledOrder[]): Map<string, Decimal> {
  const net = new Map<string, Decimal>();
  for (const { intent, state } of orders) {
    if (state.filled.lte(0)) continue;
    net.set(intent.pair, (net.get(intent.pair) ?? ZERO).add(signedQuantity(intent.side, state.filled)));
  }
  return net;
}

/**
 * Takes up, at start, the duties the reconciliation plan lists, so that a restart loses none of them.
 *
 * Intuition: what placement, following and protection would have been doing had the process never stopped.
 *
 * plan:       p
 * registry:   r                      net per pair from the journal's fills; resting protection listed
 * toProtect:  ─PN──────              a stop-loss per unprotected fill (rounded down to the lot)
 * result:     ─PN─d──F─…             d (`done`, once): every such stop answered; new entries may go
 *
 * - `followed` entries: followed as placement follows them (a limit entry cancelled at `dueAt`, or at stop; any
 *   entry cancelled by a close of its pair), then what they filled protected (`protectEntry`) in the protection
 *   mode journaled with the entry, whatever the run's config now says (logged at info when they differ).
 * - `followed` protective orders: followed to their end, cancelled by a close of the pair, by their entry's
 *   take-profit watch (then what they did not fill is closed at market), or when a sibling of the other role fills
 *   (both-resting); left resting at stop.
 * - `toProtect`: a stop-loss each; for an entry journaled both-resting with neither of its orders live, its
 *   take-profit rests beside it again (no client-side watch then). An entry's stop-loss and take-profit resting
 *   together, restored or placed here, cancel each other when one fills.
 * - `toCancel`: cancelled at once (the journaled reason).
 * - `takeProfitWatches`: watched again; reached, they cancel the entry's stops (as above), or with no stop close
 *   the open quantity at market.
 * - `unsettled`: logged at warn and looked up once more; found, followed; absent, journaled as such (the next
 *   start gives it up); neither, left for the next start. Never protected until settled.
 *
 * Reports carry each order's original `signalId`. Never errors for one order (its follower reports).
 *
 * @param plan The reconciliation's plan.
 * @param orders The journal's orders after reconciliation.
 * @param pairs The pair book.
 * @param deps The run's streams.
 * @returns Reports, and one `done` step once every stop of `toProtect` has its first answer (or none was needed).
 */
export function restoreDuties(plan: ReconcilePlan, orders: readonly JournaledOrder[], pairs: PairBook, deps: StreamDeps): Observable<Step<void>> {
  return defer(() => {
    const { positions, log, scheduler } = deps;
    const byId = new Map(orders.map((order) => [order.intent.clientOrderId, order]));
    for (const [pair, net] of netByPair(orders)) if (!net.isZero()) positions.applyFill(pair, net.gt(0) ? 'buy' : 'sell', net.abs(), `journal:${pair}`);
    for (const resting of plan.restingStops) positions.addProtective(resting);

    const timeouts = new Map(plan.toCancelAtTimeout.map((due) => [due.txid, due.dueAt]));
    const cancelNow = new Map(plan.toCancel.map((due) => [due.txid, cancelReasonOf(due.reason)]));
    /**
     * Entries journaled both-resting whose stop-loss and take-profit are both gone (neither live): both rest again,
     * as placement would have put them, instead of a stop and a client-side watch.
     */
    const liveRoles = (parent: string): Set<string> =>
      new Set(plan.restingStops.filter((order) => order.parentClientOrderId === parent).map((order) => order.role));
    const restBoth = new Set(
      plan.toProtect
        .filter((fill) => fill.protectionMode === 'both-resting' && fill.entry.duties.takeProfit !== null && liveRoles(fill.entry.clientOrderId).size === 0)
        .map((fill) => fill.entry.clientOrderId),
    );
    const takeProfitWatches = plan.takeProfitWatches.filter((watch) => !restBoth.has(watch.entry.clientOrderId));
    const watched = new Set(takeProfitWatches.map((watch) => watch.entry.clientOrderId));
    /** Per watched entry: the take-profit reached (its stops cancel, then the rest is closed). */
    const reached = new Map([...watched].map((cid) => [cid, new ReplaySubject<void>(1)]));
    /** Per entry with resting protection of both roles: which role filled (the other is cancelled). */
    const siblingFilled = new Map<string, ReplaySubject<string>>();
    const stopsOf = new Set([
      ...plan.followed.filter((order) => order.context.role === 'stop-loss').map((order) => byId.get(order.context.clientOrderId ?? '')?.intent.parentClientOrderId ?? ''),
      ...plan.toProtect.map((fill) => fill.entry.clientOrderId),
    ]);

    const rulesOf = (pair: string): PairRules | null => {
      const rules = pairs.find(pair);
      if (!rules) log.error(`${pair}: not in the pair book; its journaled orders are not restored`);
      return rules ?? null;
    };
    const closing = (pair: string): Observable<void> => positions.closeRequested$(pair, positions.closeEpoch(pair));
    const immediately = (txid: string): CancelTrigger[] => {
      const reason = cancelNow.get(txid);
      return reason ? [{ when$: of(0), reason }] : [];
    };

    const followEntry = (order: LiveOrder, record: JournaledOrder, rules: PairRules): Work => {
      const intent = entryIntentOf(record.intent, rules);
      const { txid } = order;
      const isLimit = record.intent.orderType === 'limit';
      const cancelOn: CancelTrigger[] = [
        ...immediately(txid),
        ...(isLimit ? [{ when$: deps.stopping$, reason: 'stop' as const }] : []),
        { when$: closing(rules.key), reason: 'close-position' },
      ];
      const dueAt = timeouts.get(txid);
      const stop = intent.stopLoss ? { side: opposite(intent.request.side), stopPrice: intent.stopLoss } : null;
      positions.addWorkingEntry(txid, rules.key, record.intent.clientOrderId, stop);
      const stopWorking = (): void => positions.removeWorkingEntry(txid);
      return followOrder(order, deps, {
        cancelOn,
        seen: progressOf(record.state),
        ...(dueAt !== undefined ? { timeoutMs: Math.max(0, dueAt - scheduler.now()) } : {}),
      }).pipe(
        finalize(stopWorking),
        andThen<OrderFinal, OrderFinal>((final) => {
          stopWorking();
          return final.snapshot.volumeExecuted.gt(0) && final.cancelReason !== 'close-position' ? protectEntry(final, intent, withModeOf(record.intent)) : EMPTY;
        }),
      );
    };

    /**
     * The run's streams with the protection mode journaled with the entry: the trader chose how it is guarded when
     * it was placed, and a restart under another config must not change that silently (the config's mode is for new
     * signals). An entry journaled without one takes the run's.
     */
    const withModeOf = (entry: OrderIntentRecord): StreamDeps => {
      const mode = entry.duties.protectionMode;
      if (mode === null || mode === deps.config.protection.mode) return deps;
      log.info(`${entry.signalId}: protected ${mode} as journaled with its entry ${entry.clientOrderId} (the config now says ${deps.config.protection.mode}, for new signals)`);
      return { ...deps, config: { ...deps.config, protection: { ...deps.config.protection, mode } } };
    };

    const followProtective = (order: LiveOrder, record: JournaledOrder, rules: PairRules): Work => {
      const { txid } = order;
      const { intent } = record;
      const cid = intent.clientOrderId;
      const parent = intent.parentClientOrderId;
      let cancelling = false;
      const marked = (trigger: CancelTrigger): CancelTrigger => ({ ...trigger, when$: trigger.when$.pipe(tap(() => (cancelling = true))) });
      const siblings = parent === null ? undefined : siblingsOf(parent);
      const triggers: CancelTrigger[] = [
        ...immediately(txid),
        { when$: closing(rules.key), reason: 'close-position' },
        ...(parent !== null && intent.role === 'stop-loss' && reached.has(parent) ? [{ when$: reached.get(parent) ?? EMPTY, reason: 'take-profit' as const }] : []),
        ...(siblings ? [{ when$: siblings.pipe(filter((role) => role !== intent.role)), reason: 'one-cancels-other' as const }] : []),
      ];
      const cancelOn = triggers.map(marked);
      if (cancelNow.has(txid)) cancelling = true;
      const onCancelConfirmed = intent.orderType === 'market' ? undefined : () => positions.confirmCancelled(cid);
      return followOrder(order, deps, { cancelOn, seen: progressOf(record.state), ...(onCancelConfirmed ? { onCancelConfirmed } : {}) }).pipe(
        tap((step) => {
          if (step.kind !== 'done') return;
          positions.removeProtective(cid);
          if (step.value.snapshot.volumeExecuted.gt(0)) siblings?.next(intent.role);
        }),
        // At stop a protective order stays resting, unless its cancel is under way (then what follows must happen).
        takeUntil(deps.stopping$.pipe(filter(() => !cancelling))),
        andThen<OrderFinal, OrderFinal>((final) => {
          if (final.cancelReason !== 'take-profit') return EMPTY;
          const remaining = roundVolumeDown(rules, intent.volume.minus(final.snapshot.volumeExecuted));
          if (remaining.lte(0)) return EMPTY;
          return marketExit(rules, intent.side, remaining, 'take-profit', intent.signalId, null, deps, parent);
        }),
      );
    };

    /**
     * The roles an entry's protection will rest with once restored: the live ones, the stop-loss placed for its
     * unprotected fill, the take-profit placed with it (`restBoth`). Two roles: one cancels the other.
     */
    const protectedFills = new Set(plan.toProtect.map((fill) => fill.entry.clientOrderId));
    const siblingsOf = (parent: string): ReplaySubject<string> | undefined => {
      const roles = liveRoles(parent);
      if (protectedFills.has(parent)) roles.add('stop-loss');
      if (restBoth.has(parent)) roles.add('take-profit');
      if (roles.size < 2) return undefined;
      const existing = siblingFilled.get(parent);
      if (existing) return existing;
      const created = new ReplaySubject<string>(1);
      siblingFilled.set(parent, created);
      return created;
    };

    const follow = (order: LiveOrder): Work => {
      const record = byId.get(order.context.clientOrderId ?? '');
      const rules = rulesOf(order.context.pair);
      if (!record || !rules) return EMPTY;
      switch (record.intent.role) {
        case 'entry':
          return followEntry(order, record, rules);
        case 'stop-loss':
        case 'take-profit':
          return followProtective(order, record, rules);
        case 'close':
          return followOrder(order, deps, { seen: progressOf(record.state) });
      }
    };

    /** Tells the entry's other protective order that this one ended with a fill (one cancels the other). */
    const endsSibling = (siblings: ReplaySubject<string> | undefined, role: string) =>
      tap((step: Step<OrderFinal>) => {
        if (step.kind === 'done' && step.value.snapshot.volumeExecuted.gt(0)) siblings?.next(role);
      });

    const protect = (fill: UnprotectedFill): Work => {
      const rules = rulesOf(fill.entry.pair);
      if (!rules) return EMPTY;
      const parent = fill.entry.clientOrderId;
      const size = roundVolumeDown(rules, fill.quantity);
      const restingRequest = (orderType: 'stop-loss' | 'take-profit', price: Decimal): OrderRequest => ({
        clientOrderId: deps.newId(),
        pair: rules.key,
        side: opposite(fill.entry.side),
        orderType,
        volume: size,
        price,
      });
      const request = restingRequest('stop-loss', fill.stopPrice);
      const context = contextOfRequest(request, rules, fill.entry.signalId, 'stop-loss');
      const minimums = checkExitMinimums(rules, size, fill.stopPrice);
      if (!minimums.ok) return of(dustReport({ ...context, clientOrderId: null }, minimums.reason, deps));
      const tp = reached.get(parent);
      const siblings = siblingsOf(parent);
      const sibling = (role: string): Observable<CancelReason> =>
        siblings ? siblings.pipe(filter((filled) => filled !== role), map((): CancelReason => 'one-cancels-other')) : EMPTY;
      const closing$ = closing(rules.key).pipe(map((): CancelReason => 'close-position'));
      const cancelWhen$: Observable<CancelReason> = merge(closing$, tp ? tp.pipe(map((): CancelReason => 'take-profit')) : EMPTY, sibling('stop-loss'));
      log.info(`${fill.entry.signalId}: ${size.toFixed()} ${rules.symbol} filled without a stop-loss while the handler was down; placing one at ${fill.stopPrice.toFixed()}`);
      const stop$ = protectiveOrder(request, context, deps, { cancelWhen$, lane: 'protect', leaveRestingOnStop: true, parentClientOrderId: parent }).pipe(
        endsSibling(siblings, 'stop-loss'),
        andThen<OrderFinal, OrderFinal>((stop) => {
          if (stop.cancelReason !== 'take-profit') return EMPTY;
          const remaining = size.sub(stop.snapshot.volumeExecuted);
          if (remaining.lte(0)) return EMPTY;
          return marketExit(rules, request.side, remaining, 'take-profit', fill.entry.signalId, null, deps, parent);
        }),
      );
      const takeProfit = fill.entry.duties.takeProfit;
      if (!restBoth.has(parent) || takeProfit === null) return stop$;
      // Journaled both-resting: the take-profit rests beside the stop, as placement would have put it.
      const tpRequest = restingRequest('take-profit', takeProfit);
      const tpContext = contextOfRequest(tpRequest, rules, fill.entry.signalId, 'take-profit');
      const tpMinimums = checkExitMinimums(rules, size, takeProfit);
      log.info(`${fill.entry.signalId}: journaled both-resting; placing its take-profit at ${takeProfit.toFixed()} again beside the stop`);
      const takeProfit$ = tpMinimums.ok
        ? protectiveOrder(tpRequest, tpContext, deps, { cancelWhen$: merge(closing$, sibling('take-profit')), lane: 'protect', leaveRestingOnStop: true, parentClientOrderId: parent }).pipe(
            endsSibling(siblings, 'take-profit'),
          )
        : of(dustReport({ ...tpContext, clientOrderId: null }, tpMinimums.reason, deps));
      return merge(stop$, takeProfit$);
    };

    const watch = (tp: TakeProfitWatch): Work => {
      const rules = rulesOf(tp.pair);
      if (!rules) return EMPTY;
      const parent = tp.entry.clientOrderId;
      const size = roundVolumeDown(rules, tp.quantity);
      log.info(`${tp.entry.signalId}: watching the take-profit at ${tp.takeProfit.toFixed()} again for ${size.toFixed()} ${rules.symbol}`);
      return takeProfitReached(rules.key, tp.exitSide, tp.takeProfit, deps).pipe(
        // takeUntil before mergeMap: a close or stop() ends the watch, never an exit under way.
        takeUntil(merge(closing(rules.key), deps.stopping$)),
        take(1),
        mergeMap((price) => {
          // With stops, they are cancelled first and what they did not fill is closed (followProtective, protect).
          if (stopsOf.has(parent)) {
            reached.get(parent)?.next();
            return EMPTY;
          }
          return marketExit(rules, tp.exitSide, size, 'take-profit', tp.entry.signalId, price, deps, parent);
        }),
      );
    };

    const lookAgain = (order: ReconcilePlan['unsettled'][number]): Work => {
      const { intent } = order;
      const cid = intent.clientOrderId;
      log.warn(`${cid} (${intent.role} of ${intent.signalId}): may be live and not settled at start (${order.reason}); looking it up again, not protected until settled`);
      const record = byId.get(cid);
      const deadline = record?.state.deadline ?? intent.createdAt + intent.deadlineMs;
      return lookUpOrder(cid, deadline, deps, 'lookup').pipe(
        concatMap((result): Work => {
          switch (result.kind) {
            case 'found': {
              const live: LiveOrder = { context: contextOfIntent(intent, pairs), txid: result.snapshot.txid, placedAt: scheduler.now() };
              // Journaled as found first, so that what the follower journals next (fills, final) is a valid move.
              const sentFirst = order.status === 'intended' ? [journalTransition(deps, cid, { kind: 'sent', deadline })] : [];
              return concat(...sentFirst, journalTransition(deps, cid, { kind: 'found', txid: result.snapshot.txid }), record ? followFound(live, record) : EMPTY);
            }
            case 'absent':
              // Journaled as absent (sent or ambiguous before): the next start gives it up and protects its entry again.
              log.warn(`${cid}: proven absent after the restart; the next start gives it up`);
              return order.status === 'intended' ? EMPTY : journalTransition(deps, cid, { kind: 'proven-absent' });
            case 'unproven':
              log.warn(`${cid}: still unsettled (${result.reason}); the next start looks it up again`);
              return EMPTY;
          }
        }),
      );
    };

    const followFound = (live: LiveOrder, record: JournaledOrder): Work => {
      const rules = rulesOf(live.context.pair);
      if (!rules) return EMPTY;
      if (record.intent.role === 'entry') return followEntry(live, record, rules);
      if (record.intent.role === 'close') return followOrder(live, deps, { seen: progressOf(record.state) });
      const { intent } = record;
      positions.addProtective({
        clientOrderId: intent.clientOrderId,
        txid: live.txid,
        pair: intent.pair,
        role: intent.role,
        side: intent.side,
        orderType: intent.orderType,
        quantity: intent.volume,
        stopPrice: live.context.stopPrice,
      });
      return followProtective(live, record, rules);
    };

    // The stops for unprotected fills answered (or none needed): from then on new entries may be placed.
    const pending = new Set(plan.toProtect.map((fill) => fill.entry.clientOrderId));
    const ready$ = new ReplaySubject<Step<void>>(1);
    const answered = (parent: string): void => {
      if (!pending.delete(parent)) return;
      if (pending.size === 0) ready$.next(doneStep(undefined));
    };
    if (pending.size === 0) ready$.next(doneStep(undefined));
    const protections$ = merge(
      ...plan.toProtect.map((fill) =>
        protect(fill).pipe(
          tap((step) => {
            // The stop's first answer; a take-profit placed beside it (both-resting) does not hold the new entries back.
            if (step.kind === 'report' && step.report.status !== 'PENDING_NEW' && step.report.role !== 'take-profit') answered(fill.entry.clientOrderId);
          }),
          finalize(() => answered(fill.entry.clientOrderId)),
        ),
      ),
    );
    const work$: Work = merge(protections$, ...plan.followed.map(follow), ...takeProfitWatches.map(watch), ...plan.unsettled.map(lookAgain));
    return merge(ready$.pipe(take(1)), work$.pipe(filter((step): step is Step<never> => step.kind === 'report')));
  });
}
