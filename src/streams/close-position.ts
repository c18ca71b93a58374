import { Decimal } from 'decimal.js';
import {
  type Observable,
  EMPTY,
  catchError,
  concat,
  concatMap,
  defer,
  groupBy,
  map,
  mergeMap,
  of,
  take,
  timeout,
} from 'rxjs';
import { type OrderRequest } from '../model/order';
import { type PairBook, type PairRules } from '../model/pair';
import { roundVolumeDown } from '../model/pair-rules';
import { type Side, type ClosePositionCommand } from '../model/signal';
import { type StreamDeps } from './deps';
import { exchangeCall } from './exchange-call';
import { checkExitMinimums, dustReport, marketExit, protectiveOrder } from './exits';
import { type CancelReason, type OrderFinal } from './order-lifecycle';
import { type ProtectiveOrder } from './positions';
import { type OrderContext, contextOfRequest } from './reports';
import { type Step, reportStep } from './step';

/** A command comes from outside and may be anything: its fields, read without trusting its type. */
function fieldsOf(command: ClosePositionCommand): Partial<Record<keyof ClosePositionCommand, unknown>> {
  const received: unknown = command;
  return typeof received === 'object' && received !== null ? received : {};
}

const PLAIN_DECIMAL = /^\+?(\d+(\.\d*)?|\.\d+)$/;

/** A command's quantity, if it gave one: positive, plain decimal (a string or a Decimal), never a float. */
function parseQuantity(value: unknown): { ok: true; quantity: Decimal | null } | { ok: false; reason: string } {
  if (value === undefined || value === null) return { ok: true, quantity: null };
  const text = Decimal.isDecimal(value) ? value.toFixed() : typeof value === 'string' ? value.trim() : null;
  if (text === null || !PLAIN_DECIMAL.test(text)) return { ok: false, reason: `quantity must be a positive decimal string, got ${String(value)}` };
  const quantity = new Decimal(text);
  return quantity.gt(0) ? { ok: true, quantity } : { ok: false, reason: `quantity must be positive, got ${text}` };
}

/**
 * Close-position commands: cancel the pair's protective orders and end its take-profit watches, cancel its
 * working entry orders (so none fills after the close and opens the position again), wait until they are all
 * confirmed at their final states, then close what is tracked, including what those entries filled (or the
 * command's quantity, never more than tracked unless nothing is tracked) at market, role `close`, in the
 * `close` lane. An entry cancelled by a close is not protected: the close takes what it filled. Not behind
 * HALT: closing reduces risk.
 *
 * commands:    ─c──────────────────
 * stop-loss:   ──X──C                (cancel, confirmed by the monitor)
 * entry:       ──X────C              (a working limit entry, partly filled: cancelled, followed to its end)
 * result:      ───────PN─F          (market close of the position, the entry's fill included)
 *
 * A partial close (a quantity below what is tracked) leaves the rest of the position protected: once its market
 * close has ended (final state, dust, or not placed), if the pair still holds a tracked quantity and stop-losses
 * were resting on it when the close began (cancelled by it), a new stop-loss is placed for the remaining tracked
 * quantity (rounded down to the lot; dust is reported, never sent) through the same path as protection after an
 * entry (persistent retries, role `stop-loss`, listed in `positions()`, followed by the monitor, left resting at
 * `stop()`, cancelled by a later close). Its trigger is the tightest of the cancelled stops for the position (the
 * highest for a long, the lowest for a short), so it never loosens a stop the trader set. Its reports carry the
 * command's id as `signalId`. Take-profit watches are not restarted: the watch of the closed lots ends with a
 * partial close, and the remainder is protected by its stop. A full close (no quantity, or one at least the
 * tracked quantity) places nothing after it.
 *
 * commands:    ─c(0.02 of 0.05)──────────
 * stop-loss:   ──X──C                      (0.05 @ 57000, cancelled)
 * result:      ─────PN─F                   (market close of 0.02)
 * new stop:             ─PN                (0.03 @ 57000, resting)
 *
 * groupBy pair then concatMap: commands for one pair run one after the other (the second sees what the
 * first closed); pairs run side by side. An unknown pair, a bad quantity or nothing to close → REJECTED with
 * the reason; protective orders or entries not confirmed gone within `tuning.protectionCancelTimeoutMs` →
 * ERROR and nothing is sent (selling while a stop may still sell would sell twice). Side: selling what was bought;
 * with nothing tracked and a quantity given, a sell. Completes when the commands have completed and every
 * close has (with a stop put back after a partial close: once it has ended, or `stop()` left it resting); never errors.
 *
 * @param commands$ Close-position commands.
 * @param book$ The pairs' rules (loaded once per run).
 * @param deps The run's streams.
 * @returns Reports of the cancels and closes.
 */
export function closePositions(
  commands$: Observable<ClosePositionCommand>,
  book$: Observable<PairBook>,
  deps: StreamDeps,
): Observable<Step<OrderFinal>> {
  return commands$.pipe(
    // concatMap: the book is needed to group by the canonical pair; commands keep their order.
    concatMap((command) =>
      book$.pipe(
        take(1),
        map((book): { command: ClosePositionCommand; book: PairBook | null } => ({ command, book })),
        // Without the book nothing can be closed safely: the command is rejected, the next one tries again.
        catchError(() => of({ command, book: null })),
      ),
    ),
    groupBy(({ command, book }) => {
      const pair = fieldsOf(command).pair;
      return typeof pair === 'string' ? book?.find(pair)?.key ?? pair : '';
    }),
    mergeMap((commandsOfPair$) =>
      commandsOfPair$.pipe(
        concatMap(({ command, book }) => closePosition(command, book, deps)),
        // The stop put back after a partial close rests until something ends it: followed here, beside the
        // pair's queue, so the next close of the pair is not held up behind it (and can cancel it).
        mergeMap((item) => (item.kind === 'protect-remainder' ? item.protection$ : of(item))),
      ),
    ),
  );
}

/** What a close hands on: its steps, and after a partial close the protection of the rest, to run beside the queue. */
type CloseItem = Step<OrderFinal> | { readonly kind: 'protect-remainder'; readonly protection$: Observable<Step<OrderFinal>> };

function closePosition(command: ClosePositionCommand, book: PairBook | null, deps: StreamDeps): Observable<CloseItem> {
  return defer(() => {
    const fields = fieldsOf(command);
    const commandId = typeof fields.commandId === 'string' ? fields.commandId : '';
    const rules = typeof fields.pair === 'string' ? book?.find(fields.pair) : undefined;
    const rejected = (side: Side, reason: string, pair: string = rules?.key ?? String(fields.pair)): Observable<Step<OrderFinal>> => {
      const context: OrderContext = {
        signalId: commandId,
        clientOrderId: null,
        pair,
        role: 'close',
        side,
        orderType: 'market',
        quantityOrdered: null,
        limitPrice: null,
        stopPrice: null,
        commissionAsset: rules?.quote ?? null,
      };
      return of(reportStep(deps.report(context, 'REJECTED', { reason })));
    };
    if (!book) return rejected('sell', 'pair: pair rules unavailable (AssetPairs failed); nothing sent');
    if (!rules) return rejected('sell', `pair: unknown pair ${String(fields.pair)}`);
    const parsed = parseQuantity(fields.quantity);
    if (!parsed.ok) return rejected('sell', `quantity: ${parsed.reason}`);
    const pair = rules.key;
    const { positions } = deps;
    // The pair's working entries are cancelled too: one left resting could fill right after the close and
    // open the position again. Only those working now: the close waits for their final states.
    const entries = positions.workingEntriesOn(pair);
    if (positions.net(pair).isZero() && positions.protectiveOn(pair).length === 0 && entries.length === 0 && parsed.quantity === null) {
      return rejected('sell', `nothing to close on ${rules.symbol}: no tracked position and no quantity given`);
    }

    // Taken before the close cancels them: a partial close puts their protection back on what it leaves.
    const cancelledStops = positions.protectiveOn(pair).filter((order) => order.role === 'stop-loss' && order.stopPrice !== null);
    positions.requestClose(pair);
    return positions.settledForClose$(pair, entries).pipe(
      take(1),
      timeout({ first: deps.tuning.protectionCancelTimeoutMs, scheduler: deps.scheduler }),
      concatMap(() => {
        const net = positions.net(pair);
        const side: Side = net.lt(0) ? 'buy' : 'sell';
        const tracked = net.abs();
        const quantity = parsed.quantity === null ? tracked : tracked.isZero() ? parsed.quantity : Decimal.min(parsed.quantity, tracked);
        if (quantity.isZero()) return rejected(side, `nothing to close on ${rules.symbol}: the tracked position is flat`);
        const close$ = referencePrice(rules, deps).pipe(concatMap((price) => marketExit(rules, side, quantity, 'close', commandId, price, deps)));
        const partial = !tracked.isZero() && quantity.lt(tracked);
        if (!partial) return close$;
        // concat, not andThen: a partial close that was dust or not placed left the whole position without its stop too.
        const protection$ = defer(() => protectRemainder(rules, cancelledStops, commandId, deps));
        return concat(close$, of<CloseItem>({ kind: 'protect-remainder', protection$ }));
      }),
      catchError((error: unknown) => {
        const stillWorking = positions.workingEntriesOn(pair).filter((txid) => entries.includes(txid));
        const protective = [...positions.protectiveOn(pair).map((order) => order.txid ?? order.clientOrderId), ...stillWorking].join(', ');
        const context: OrderContext = {
          signalId: commandId,
          clientOrderId: null,
          pair,
          role: 'close',
          side: positions.net(pair).lt(0) ? 'buy' : 'sell',
          orderType: 'market',
          quantityOrdered: null,
          limitPrice: null,
          stopPrice: null,
          commissionAsset: rules.quote,
        };
        const reason = `close not sent: protective orders or entries not confirmed gone (${protective}): ${error instanceof Error ? error.message : String(error)}; needs manual attention`;
        return of(reportStep(deps.report(context, 'ERROR', { reason })));
      }),
    );
  });
}

/**
 * After a partial close: a stop-loss for what the pair still tracks, at the tightest trigger of the stops the
 * close cancelled (highest for a long, lowest for a short); nothing when the position is flat or no such stop
 * was resting. Placed and followed like the stop after an entry; its reports carry the command's id.
 */
function protectRemainder(rules: PairRules, cancelledStops: readonly ProtectiveOrder[], commandId: string, deps: StreamDeps): Observable<Step<OrderFinal>> {
  const { positions } = deps;
  const net = positions.net(rules.key);
  if (net.isZero()) return EMPTY;
  const exitSide: Side = net.gt(0) ? 'sell' : 'buy';
  const prices = cancelledStops.filter((stop) => stop.side === exitSide).flatMap((stop) => (stop.stopPrice ? [stop.stopPrice] : []));
  if (prices.length === 0) return EMPTY;
  const stopPrice = exitSide === 'sell' ? Decimal.max(...prices) : Decimal.min(...prices);
  const volume = roundVolumeDown(rules, net.abs());
  const request: OrderRequest = { clientOrderId: deps.newId(), pair: rules.key, side: exitSide, orderType: 'stop-loss', volume, price: stopPrice };
  const context = contextOfRequest(request, rules, commandId, 'stop-loss');
  const minimums = checkExitMinimums(rules, volume, stopPrice);
  if (!minimums.ok) return of(dustReport({ ...context, clientOrderId: null }, minimums.reason, deps));
  // From this close's epoch on: the next close of the pair cancels this stop, as it would the entry's.
  const cancelWhen$ = positions.closeRequested$(rules.key, positions.closeEpoch(rules.key)).pipe(map((): CancelReason => 'close-position'));
  return protectiveOrder(request, context, deps, { cancelWhen$, lane: 'place', leaveRestingOnStop: true });
}

/** The last trade price for the close's cost minimum; `null` when the ticker cannot tell (ordermin only). */
function referencePrice(rules: PairRules, deps: StreamDeps): Observable<Decimal | null> {
  return exchangeCall(deps, 'close', () => ({ kind: 'ticker' }), () => deps.port.ticker([rules.key]), 'idempotent').pipe(
    map((quotes) => quotes.get(rules.key)?.last ?? null),
    catchError(() => of(null)),
  );
}
