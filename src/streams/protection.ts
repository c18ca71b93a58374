import { type Decimal } from 'decimal.js';
import { EMPTY, NEVER, type Observable, ReplaySubject, defer, map, merge, mergeMap, of, takeUntil, tap } from 'rxjs';
import { type OrderRequest } from '../model/order';
import { roundVolumeDown } from '../model/pair-rules';
import { type OrderRole } from '../model/report';
import { type Side } from '../model/signal';
import { type EntryIntent } from '../operators/intent';
import { type StreamDeps } from './deps';
import { checkExitMinimums, dustReport, marketExit, protectiveOrder } from './exits';
import { type CancelReason, type OrderFinal } from './order-lifecycle';
import { takeProfitReached } from './price-watch';
import { contextOfRequest } from './reports';
import { type Step, andThen } from './step';

const opposite = (side: Side): Side => (side === 'buy' ? 'sell' : 'buy');

/**
 * Protects what an entry filled, sized to its executed volume (rounded down to the lot), from its final state.
 *
 * `stop-resting` (default, design §3.5): a stop-loss rests on the exchange; the take-profit is watched from the
 * ticker; when it is reached the stop is cancelled and followed to its end, then what it did not fill is closed
 * at market (role `take-profit`). If the stop fills first, the watch ends with it.
 *
 * entry final:  d(filled 1.0)
 * stop:         ─PN─────────────X──C          (placed, resting; cancelled when the take-profit is reached)
 * ticker:        ──p──p──p──P                 (P ≥ take-profit)
 * exit:                           ─PN─F       (market, the 1.0 the stop did not fill)
 *
 * `both-resting`: a stop-loss and a take-profit both rest; when one ends with a fill, the other is cancelled
 * (one-cancels-other). With only one of them asked for, that one alone. A size below `ordermin`/`costmin` is
 * a REJECTED report with a reason starting `dust:`, never sent. A close-position command on the pair cancels
 * the protective orders and ends the watch (the close takes it from there; after a partial close the close puts a
 * stop-loss back on what remains, but the take-profit watch stays ended). At `stop()` protective orders are
 * left resting and the watch ends.
 *
 * @param entry The entry's final state (executed volume > 0).
 * @param intent The entry's intent: pair rules, stop-loss, take-profit.
 * @param deps The run's streams.
 * @returns Reports of the protection.
 */
export function protectEntry(entry: OrderFinal, intent: EntryIntent, deps: StreamDeps): Observable<Step<OrderFinal>> {
  return defer(() => {
    const { rules, stopLoss, takeProfit } = intent;
    const signalId = intent.signal.signalId;
    // Journaled with each protective order and exit: what they protect, for the next start.
    const parent = entry.order.context.clientOrderId;
    const exitSide = opposite(intent.request.side);
    const size = roundVolumeDown(rules, entry.snapshot.volumeExecuted);
    if (!stopLoss && !takeProfit) {
      deps.log.info(`${signalId}: no stop-loss or take-profit asked for; ${size.toFixed()} ${rules.symbol} left unprotected`);
      return EMPTY;
    }
    const closeRequested$ = deps.positions.closeRequested$(rules.key, deps.positions.closeEpoch(rules.key));
    const closing$ = closeRequested$.pipe(map((): CancelReason => 'close-position'));

    const restingRequest = (orderType: 'stop-loss' | 'take-profit', price: Decimal): OrderRequest => ({
      clientOrderId: deps.newId(),
      pair: rules.key,
      side: exitSide,
      orderType,
      volume: size,
      price,
    });

    /** A resting protective order, or its dust report when too small to send. */
    const resting = (role: OrderRole, request: OrderRequest, cancelWhen$: Observable<CancelReason>): Observable<Step<OrderFinal>> => {
      const context = contextOfRequest(request, rules, signalId, role);
      const minimums = checkExitMinimums(rules, size, request.price ?? null);
      if (!minimums.ok) return of(dustReport({ ...context, clientOrderId: null }, minimums.reason, deps));
      return protectiveOrder(request, context, deps, { cancelWhen$, lane: 'protect', leaveRestingOnStop: true, parentClientOrderId: parent });
    };

    /** Take-profit only: watch, then exit at market. */
    const watchThenExit = (): Observable<Step<OrderFinal>> => {
      if (!takeProfit) return EMPTY;
      return takeProfitReached(rules.key, exitSide, takeProfit, deps).pipe(
        // takeUntil before mergeMap on purpose: a close or stop() ends the watch, never an exit under way.
        takeUntil(merge(closeRequested$, deps.stopping$)),
        mergeMap((price) => marketExit(rules, exitSide, size, 'take-profit', signalId, price, deps, parent)),
      );
    };

    if (deps.config.protection.mode === 'both-resting' && stopLoss && takeProfit) {
      const stopFilled = new ReplaySubject<CancelReason>(1);
      const takeProfitFilled = new ReplaySubject<CancelReason>(1);
      const siblingEnds = (filled: ReplaySubject<CancelReason>) =>
        tap((step: Step<OrderFinal>) => {
          if (step.kind === 'done' && step.value.snapshot.volumeExecuted.gt(0)) filled.next('one-cancels-other');
        });
      return merge(
        resting('stop-loss', restingRequest('stop-loss', stopLoss), merge(takeProfitFilled, closing$)).pipe(siblingEnds(stopFilled)),
        resting('take-profit', restingRequest('take-profit', takeProfit), merge(stopFilled, closing$)).pipe(siblingEnds(takeProfitFilled)),
      );
    }

    if (!stopLoss) return watchThenExit();

    // stop-resting: the take-profit watch runs while the stop rests, as the stop's cancel trigger.
    let reachedAt: Decimal | null = null;
    const takeProfit$: Observable<CancelReason> = takeProfit
      ? takeProfitReached(rules.key, exitSide, takeProfit, deps).pipe(
          tap((price) => (reachedAt = price)),
          map((): CancelReason => 'take-profit'),
        )
      : NEVER;
    return resting('stop-loss', restingRequest('stop-loss', stopLoss), merge(takeProfit$, closing$)).pipe(
      andThen((stop) => {
        if (stop.cancelReason !== 'take-profit') return EMPTY;
        // The stop may have filled in part before the cancel took: close only what it did not.
        const remaining = size.sub(stop.snapshot.volumeExecuted);
        if (remaining.lte(0)) return EMPTY;
        return marketExit(rules, exitSide, remaining, 'take-profit', signalId, reachedAt, deps, parent);
      }),
    );
  });
}
