import { type Decimal } from 'decimal.js';
import { EMPTY, type Observable, concat, defer, map, of, tap } from 'rxjs';
import { type OrderRequest } from '../model/order';
import { type PairRules } from '../model/pair';
import { type MinimumCheck, checkMinimums, roundVolumeDown } from '../model/pair-rules';
import { type Side } from '../model/signal';
import { type StreamDeps } from './deps';
import { type ExecutionReport, type OrderRole } from '../model/report';
import { type CancelReason, type CancelTrigger, type OrderFinal, followOrder } from './order-lifecycle';
import { type Placed, STATE_UNKNOWN, placeOrder } from './placement';
import { type OrderContext, contextOfRequest } from './reports';
import { type Step, andThen, doneStep, reportStep } from './step';

/**
 * `ordermin`, and `costmin` when a price is known: a market exit without a reference price (the ticker
 * failed) is checked on volume only and left to the exchange for cost, rather than not sent at all.
 */
export function checkExitMinimums(rules: PairRules, volume: Decimal, price: Decimal | null): MinimumCheck {
  if (price) return checkMinimums(rules, volume, price);
  return volume.lt(rules.orderMin)
    ? { ok: false, field: 'quantity', reason: `${volume.toFixed()} is below the ${rules.symbol} order minimum ${rules.orderMin.toFixed()}` }
    : { ok: true };
}

/** The REJECTED report of a quantity too small to send: reported, never sent to be refused. */
export function dustReport(context: OrderContext, reason: string, deps: Pick<StreamDeps, 'report'>): Step<never> {
  return reportStep(deps.report(context, 'REJECTED', { reason: `dust: ${reason}` }));
}

/** Puts `reason` on the order's first report when that is its PENDING_NEW (a dust report keeps its own). */
export const withFirstReason = (reason: string) =>
  map((step: Step<OrderFinal>, index: number): Step<OrderFinal> => {
    if (index !== 0 || step.kind !== 'report' || step.report.status !== 'PENDING_NEW') return step;
    const report: ExecutionReport = { ...step.report, reason };
    return { kind: 'report', report };
  });

/** The first report's reason of a stop put back because its cancel landed after the close had given up. */
export const RESTORED_AFTER_WITHDRAWAL = 'protection restored: the close had given up when this stop\'s cancel landed';

export interface ProtectiveOptions {
  /** Cancels the order once it rests (take-profit reached, sibling filled, close-position). */
  readonly cancelWhen$?: Observable<CancelReason>;
  readonly lane: 'protect' | 'close';
  /**
   * At `stop()`, stop following it and leave it resting on the exchange (stops and take-profits), unless a
   * cancel of it is under way or landed (then it is followed to its end, so what comes next can still happen;
   * a cancel under way that fails is not tried again: it is left resting then). See `followOrder`.
   */
  readonly leaveRestingOnStop: boolean;
  /** The entry it protects or closes, journaled with its intent; `null` or omitted: none (a close). */
  readonly parentClientOrderId?: string | null;
}

/**
 * Places an exit or protective order and follows it, keeping the positions registry's list of protective orders
 * true: listed from before it is sent (so a close waits for it), given its txid when accepted, removed at its
 * final state or when its placement ended without an accepted order (REJECTED, CANCELED, ERROR: its report
 * tells a person the position is unprotected). An order whose state the lookups could not prove stays listed:
 * it may be resting on the exchange. A cancel the exchange answered as done is confirmed to the registry.
 *
 * A close that gave up withdraws its cancel (`PositionBook.withdrawCloseCancels`): no further attempt, and the
 * pair's next close cancels the order again. A stop-loss that ends cancelled by the handler's cancel after that (an
 * attempt was on its way) is put back: the same request (a new client order id) for what it did not fill, through
 * this same path, its first report saying `protection restored: …`; its own final state comes after the old one's.
 *
 * @param request The order, rounded.
 * @param context What its reports repeat.
 * @param deps The run's streams.
 * @param options What cancels it, its lane, and what `stop()` does to it.
 * @returns Reports, then its final state.
 */
export function protectiveOrder(request: OrderRequest, context: OrderContext, deps: StreamDeps, options: ProtectiveOptions): Observable<Step<OrderFinal>> {
  return defer(() => {
    const { positions } = deps;
    const clientOrderId = request.clientOrderId;
    positions.addProtective({
      clientOrderId,
      txid: null,
      pair: context.pair,
      role: context.role,
      side: context.side,
      orderType: context.orderType,
      quantity: request.volume,
      stopPrice: context.stopPrice,
    });
    const cancelWhen$ = options.cancelWhen$ ?? EMPTY;
    // Persistent: a protective or exit order given up on leaves the position unprotected.
    return placeOrder(request, context, deps, options.lane, {
      persistUntil$: deps.stopping$,
      parentClientOrderId: options.parentClientOrderId ?? null,
    }).pipe(
      tap((step) => {
        if (step.kind !== 'report') return;
        const { status, reason } = step.report;
        // An order whose state the lookups could not prove may be resting and able to sell: it stays listed, so
        // a close does not sell what it may sell again (that close waits, then says so), and positions() shows it.
        const mayBeLive = status === 'ERROR' && (reason ?? '').startsWith(STATE_UNKNOWN);
        if (mayBeLive) positions.markStateUnknown(clientOrderId);
        else if (status === 'REJECTED' || status === 'CANCELED' || status === 'ERROR') positions.removeProtective(clientOrderId);
      }),
      andThen<Placed, OrderFinal>((placed) => {
        positions.placedProtective(clientOrderId, placed.order.txid);
        // A resting trigger order cancelled before it triggered filled nothing (a triggered stop fills at once
        // and is then gone, which a cancel answers "unknown order"): the cancel's answer is enough for a close.
        const onCancelConfirmed = request.orderType === 'market' ? undefined : () => positions.confirmCancelled(clientOrderId);
        const follow$ = followOrder(placed.order, deps, {
          cancelWhen$,
          ...(placed.adopted ? { adopted: placed.adopted } : {}),
          ...(onCancelConfirmed ? { onCancelConfirmed } : {}),
          ...(options.cancelWhen$ ? { cancelWithdrawn$: closeCancelWithdrawn$(clientOrderId, context.pair, deps) } : {}),
          leaveRestingOnStop: options.leaveRestingOnStop,
        }).pipe(
          tap((step) => {
            if (step.kind === 'done') positions.removeProtective(clientOrderId);
          }),
        );
        if (request.orderType !== 'stop-loss') return follow$;
        return follow$.pipe(andThen((final) => concat(of(doneStep(final)), restoreAfterWithdrawal(request, context, final, deps, options))));
      }),
    );
  });
}

/** A withdrawal by a close that gave up, as the trigger that cancels the order again: the pair's next close. */
function closeCancelWithdrawn$(clientOrderId: string, pair: string, deps: StreamDeps): Observable<CancelTrigger> {
  const { positions } = deps;
  return positions.closeCancelWithdrawn$(clientOrderId).pipe(
    map((epoch): CancelTrigger => ({ when$: positions.closeRequested$(pair, epoch), reason: 'close-position' })),
  );
}

/**
 * A stop-loss whose close-position cancel landed after the close had given up (`landedAfterWithdrawal`): the same
 * stop for what it did not fill, cancelled by the pair's next close; nothing otherwise.
 */
function restoreAfterWithdrawal(
  request: OrderRequest,
  context: OrderContext,
  final: OrderFinal,
  deps: StreamDeps,
  options: ProtectiveOptions,
): Observable<Step<OrderFinal>> {
  if (!final.landedAfterWithdrawal || final.cancelReason !== 'close-position') return EMPTY;
  const volume = request.volume.sub(final.snapshot.volumeExecuted);
  if (volume.lte(0)) return EMPTY;
  return defer(() => {
    const { positions } = deps;
    const clientOrderId = deps.newId();
    deps.log.warn(`${final.order.txid}: cancelled after its close gave up; ${volume.toFixed()} protected again by ${clientOrderId}`);
    const cancelWhen$ = positions.closeRequested$(context.pair, positions.closeEpoch(context.pair)).pipe(map((): CancelReason => 'close-position'));
    return protectiveOrder({ ...request, clientOrderId, volume }, { ...context, clientOrderId, quantityOrdered: volume }, deps, {
      ...options,
      cancelWhen$,
    }).pipe(withFirstReason(RESTORED_AFTER_WITHDRAWAL));
  });
}

/**
 * Closes `quantity` at market (rounded down to the lot; dust is reported, not sent), as a take-profit or a
 * close, in the `close` lane, followed to its final state.
 *
 * @param rules The pair.
 * @param side The exit's side.
 * @param quantity What to close.
 * @param role `take-profit` or `close`.
 * @param signalId The signal or command behind it.
 * @param referencePrice A current price for the cost minimum, when known.
 * @param deps The run's streams.
 * @param parentClientOrderId The entry it closes (a take-profit exit), journaled with its intent; `null` for a close.
 * @returns Reports, then the exit's final state (nothing when it was dust or not placed).
 */
export function marketExit(
  rules: PairRules,
  side: Side,
  quantity: Decimal,
  role: OrderRole,
  signalId: string,
  referencePrice: Decimal | null,
  deps: StreamDeps,
  parentClientOrderId: string | null = null,
): Observable<Step<OrderFinal>> {
  return defer(() => {
    const volume = roundVolumeDown(rules, quantity);
    const request: OrderRequest = { clientOrderId: deps.newId(), pair: rules.key, side, orderType: 'market', volume };
    const context = contextOfRequest(request, rules, signalId, role);
    const minimums = checkExitMinimums(rules, volume, referencePrice);
    if (!minimums.ok) return of(dustReport({ ...context, clientOrderId: null }, minimums.reason, deps));
    return protectiveOrder(request, context, deps, { lane: 'close', leaveRestingOnStop: false, parentClientOrderId });
  });
}
