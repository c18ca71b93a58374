import { Decimal } from 'decimal.js';
import {
  type Observable,
  EMPTY,
  catchError,
  concatMap,
  connect,
  defer,
  filter,
  groupBy,
  map,
  merge,
  mergeMap,
  of,
  race,
  reduce,
  scan,
  startWith,
  take,
  timer,
  withLatestFrom,
} from 'rxjs';
import { type JournaledCloseCommand, type JournaledOrder } from '../model/journal';
import { type OrderStatus } from '../model/order-state';
import { type OrderRequest } from '../model/order';
import { type PairBook, type PairRules } from '../model/pair';
import { roundVolumeDown } from '../model/pair-rules';
import { type Side, type ClosePositionCommand, idProblem } from '../model/signal';
import { decimalOf } from '../operators/translate';
import { type StreamDeps } from './deps';
import { exchangeCall } from './exchange-call';
import { journalProblem } from './journaling';
import { checkExitMinimums, dustReport, marketExit, protectiveOrder, withFirstReason } from './exits';
import { type CancelReason, type OrderFinal } from './order-lifecycle';
import { queueMap } from '../operators/queue-map';
import { type CloseSnapshot, signedQuantity } from './positions';
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
 * Close-position commands. A close owns what it finds on its pair when it starts (`CloseSnapshot`): the net
 * position, the protective orders listed (resting or being placed) and the entries working. It cancels those
 * (the protective orders and working entries end themselves on the close request; a take-profit watch of those
 * lots ends with it), waits until none of them can still fill — a protective order's cancel answered as done is
 * enough, an entry is waited for to its final state — and then sells what it holds: the snapshot's net plus what
 * its entries filled meanwhile, minus what its protective orders sold meanwhile (or the command's quantity, never
 * more). An entry cancelled by a close is not protected: the close takes what it filled. Entries that arrive after
 * the close (and their fills and stops) are their own: the close neither waits for them nor sells their lots.
 * Not behind HALT: closing reduces risk.
 *
 * commands:    ─c──────────────────
 * stop-loss:   ──X──C                (cancel; confirmed by its answer, or by the monitor)
 * entry:       ──X────C              (a working limit entry, partly filled: cancelled, followed to its end)
 * result:      ───────PN─F          (market close of the position, the entry's fill included)
 *
 * Whatever the close did not sell of what it held is protected again once its market order has ended: the rest
 * of a partial close, or all of it when the close could not sell (refused, dust, not placed). The new stop-loss is
 * for held minus sold (rounded down to the lot; dust is reported, never sent), on the side that exits what the
 * snapshot held, through the same path as protection after an entry (persistent retries, role `stop-loss`, listed
 * in `positions()`, followed by the monitor, left resting at `stop()`, cancelled by a later close). Its trigger is
 * the tightest of the snapshot's stops on that side (the highest for a long, the lowest for a short) — the stops
 * resting or being placed, and the stop-losses its working entries asked for (cancelled by the close, they get
 * none of their own) — so it never loosens a stop the trader set; with no such stop nothing is put back. Its reports carry the command's id as
 * `signalId`; when the close sold less than it meant to, its first report says `protection restored: …`.
 * Take-profit watches are not restarted.
 *
 * commands:    ─c(0.02 of 0.05)──────────
 * stop-loss:   ──X──C                      (0.05 @ 57000, cancelled)
 * result:      ─────PN─F                   (market close of 0.02)
 * new stop:             ─PN                (0.03 @ 57000, resting)
 *
 * When the snapshot's orders are not confirmed gone within `tuning.protectionCancelTimeoutMs` (counted from when its
 * protective orders are all placed, or their state is known to be unknown: a placement under way is waited for), nothing is sold
 * (selling while a stop may still sell would sell twice): ERROR with the orders' ids, and a stop is put back for
 * what the confirmed-cancelled stops covered (held minus what the unconfirmed ones still cover), said in the reason.
 * It then withdraws its cancels of the unconfirmed ones (`PositionBook.withdrawCloseCancels`): they keep covering
 * what they cover, no attempt is sent after it (a refusal lifted later removes nothing), and the pair's next close
 * cancels them again. One that ends cancelled anyway (an attempt on its way then lands) is put back at its trigger
 * for what it did not fill, its first report saying `protection restored: the close had given up …` (`protectiveOrder`).
 *
 * stop-loss A:  ──X──C                      (0.02: cancelled, confirmed)
 * stop-loss B:  ──X─#─X─#─X─#─…─|w          (0.03: refused; withdrawn at the limit, nothing sent after it)
 * result:       ──────────────────E─PN      (ERROR close not sent …; 0.02 put back at A's trigger)
 *
 * A close that finds no tracked position never sells from the account: with a quantity it is REJECTED unless
 * the command opts in with `sellUntracked: true`; then the quantity is sold, and the close's first report says
 * `untracked: …`.
 *
 * groupBy pair, then one at a time (queueMap): commands for one pair run one after the other (the second sees what the
 * first closed); pairs run side by side. An unknown pair, a bad quantity or nothing to close → REJECTED with
 * the reason. A checked command is journaled before anything is done for it: a `commandId` already journaled (this
 * run's or an earlier one's) is REJECTED `commandId: duplicate commandId: …`, and so is every command while the
 * journal cannot write (`journal: …; nothing sent`). Side: exiting what the snapshot held (selling a long, buying
 * back a short). Completes when the commands have completed and every close has (with a stop put back: once it has ended, or `stop()` left it
 * resting); never errors.
 *
 * A close cut short by a restart (journaled, nothing sold yet) comes back in `resumed$` at the next start: it is
 * not journaled again (its `commandId` is), it closes what the restored position holds, and its market order's
 * first report says `resumed after a restart: …`.
 *
 * @param commands$ Close-position commands.
 * @param book$ The pairs' rules (loaded once per run).
 * @param deps The run's streams.
 * @param resumed$ Journaled closes to finish (`resumableCloses`), ahead of the new commands.
 * @returns Reports of the cancels and closes.
 */
export function closePositions(
  commands$: Observable<ClosePositionCommand>,
  book$: Observable<PairBook>,
  deps: StreamDeps,
  resumed$: Observable<JournaledCloseCommand> = EMPTY,
): Observable<Step<OrderFinal>> {
  const inputs$: Observable<CloseInput> = merge(
    resumed$.pipe(map((journaled): CloseInput => ({ command: commandOf(journaled), resumed: true }))),
    commands$.pipe(map((command): CloseInput => ({ command, resumed: false }))),
  );
  return inputs$.pipe(
    // queueMap, one at a time: the book is needed to group by the canonical pair; commands keep their order, and
    // a burst queued behind the pair list is started from a loop, not one command inside another (concatMap's
    // nesting overflowed the stack after a few hundred).
    queueMap((input) =>
      book$.pipe(
        take(1),
        map((book): CloseInput & { book: PairBook | null } => ({ ...input, book })),
        // Without the book nothing can be closed safely: the command is rejected, the next one tries again.
        catchError(() => of({ ...input, book: null })),
      ),
      1,
    ),
    groupBy(({ command, book }) => {
      const pair = fieldsOf(command).pair;
      return typeof pair === 'string' ? book?.find(pair)?.key ?? pair : '';
    }),
    mergeMap((commandsOfPair$) =>
      commandsOfPair$.pipe(
        queueMap(({ command, book, resumed }) => closePosition(command, book, deps, resumed), 1),
        // The stop put back after a partial close rests until something ends it: followed here, beside the
        // pair's queue, so the next close of the pair is not held up behind it (and can cancel it).
        mergeMap((item) => (item.kind === 'protect-remainder' ? item.protection$ : of(item))),
      ),
    ),
  );
}

/** What a close hands on: its steps, and after a partial close the protection of the rest, to run beside the queue. */
type CloseItem = Step<OrderFinal> | { readonly kind: 'protect-remainder'; readonly protection$: Observable<Step<OrderFinal>> };

const ZERO = new Decimal(0);

/** A command to close, and whether it is one a restart cut short (journaled already). */
interface CloseInput {
  readonly command: ClosePositionCommand;
  readonly resumed: boolean;
}

/** A journaled close command as the command it was. */
const commandOf = (journaled: JournaledCloseCommand): ClosePositionCommand => ({
  commandId: journaled.commandId,
  pair: journaled.pair,
  ...(journaled.quantity === null ? {} : { quantity: journaled.quantity }),
});

/** The first report's reason of a close resumed after a restart. */
export const RESUMED_CLOSE = 'resumed after a restart: the close was journaled and had sold nothing when the handler stopped';

/** A close order in one of these never reached the exchange (proven absent, refused): it sold nothing. */
const NEVER_PLACED: ReadonlySet<OrderStatus> = new Set<OrderStatus>(['absent', 'rejected', 'failed']);

/**
 * The journaled closes a restart cut short: journaled, no close order of theirs that may have reached the exchange
 * (none journaled, or each proven never placed: it sold nothing), and their pair still held according to the
 * restored position book. A close that found nothing to close or was rejected left no order either, but its pair
 * was flat, so it is not taken up again; one whose order may be live (not settled yet) is not either: it could sell
 * twice.
 */
export function resumableCloses(
  commands: readonly JournaledCloseCommand[],
  orders: readonly JournaledOrder[],
  held: (pair: string) => Decimal,
): JournaledCloseCommand[] {
  const mayHaveSold = new Set(
    orders.filter((order) => order.intent.role === 'close' && !NEVER_PLACED.has(order.state.status)).map((order) => order.intent.signalId),
  );
  return commands.filter((command) => !mayHaveSold.has(command.commandId) && !held(command.pair).isZero());
}

function closePosition(command: ClosePositionCommand, book: PairBook | null, deps: StreamDeps, resumed = false): Observable<CloseItem> {
  return defer(() => {
    const fields = fieldsOf(command);
    const commandId = typeof fields.commandId === 'string' ? fields.commandId : '';
    const rules = typeof fields.pair === 'string' ? book?.find(fields.pair) : undefined;
    const context = (side: Side, pair: string = rules?.key ?? String(fields.pair)): OrderContext => ({
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
    });
    // A REJECTED close says what it was asked to sell, when the quantity reads as one.
    const rejected = (side: Side, reason: string): Observable<Step<OrderFinal>> =>
      of(reportStep(deps.report({ ...context(side), quantityOrdered: decimalOf(fields.quantity) }, 'REJECTED', { reason })));
    // The id goes into every report and log line of the close: it must be printable and of a sane length.
    const badId = typeof fields.commandId === 'string' ? idProblem('commandId', fields.commandId) : 'commandId is missing';
    if (badId !== null) return rejected('sell', `${badId}; nothing sent`);
    if (!book) return rejected('sell', 'pair: pair rules unavailable (AssetPairs failed); nothing sent');
    if (!rules) return rejected('sell', `pair: unknown pair ${String(fields.pair)}`);
    const parsed = parseQuantity(fields.quantity);
    if (!parsed.ok) return rejected('sell', `quantity: ${parsed.reason}`);
    // Journaled before anything is done for it: a command replayed (after a restart too) is recognised.
    const act = (): Observable<CloseItem> => {
      const sellUntracked = fields.sellUntracked === true;
      const pair = rules.key;
      const { positions } = deps;
      const snapshot = positions.snapshotForClose(pair);
      const ownsNothing = snapshot.held.isZero() && snapshot.protective.length === 0 && snapshot.entries.length === 0;
      if (ownsNothing && parsed.quantity === null) {
        return rejected('sell', `nothing to close on ${rules.symbol}: no tracked position and no quantity given`);
      }

      /** Exits what was held, from the snapshot's own lots, never what arrived after it. */
      const sell = (held: Decimal): Observable<CloseItem> => {
        const side: Side = held.lt(0) ? 'buy' : 'sell';
        const tracked = held.abs();
        if (tracked.isZero()) {
          if (parsed.quantity === null) return rejected(side, `nothing to close on ${rules.symbol}: the tracked position is flat`);
          if (!sellUntracked) {
            return rejected('sell', `nothing to close on ${rules.symbol}: no tracked position (sellUntracked: true sells ${parsed.quantity.toFixed()} from the account's holdings)`);
          }
          const quantity = parsed.quantity;
          deps.log.warn(`${commandId}: selling ${quantity.toFixed()} ${rules.symbol} the handler does not track (sellUntracked)`);
          return referencePrice(rules, deps).pipe(
            concatMap((price) => marketExit(rules, 'sell', quantity, 'close', commandId, price, deps)),
            withFirstReason(`untracked: selling ${quantity.toFixed()} from the account's holdings (sellUntracked)`),
          );
        }
        const quantity = parsed.quantity === null ? tracked : Decimal.min(parsed.quantity, tracked);
        const close$ = referencePrice(rules, deps).pipe(
          concatMap((price) => marketExit(rules, side, quantity, 'close', commandId, price, deps)),
          resumed ? withFirstReason(RESUMED_CLOSE) : map((step: Step<OrderFinal>) => step),
        );
        // connect: the steps go on as they come, and what the close sold (its final state, if any) is folded
        // from the same steps for what comes after it.
        return close$.pipe(
          connect((steps$) =>
            merge(
              steps$,
              steps$.pipe(
                reduce((sold: Decimal, step) => (step.kind === 'done' ? step.value.snapshot.volumeExecuted : sold), ZERO),
                concatMap((sold): Observable<CloseItem> => {
                  const remainder = tracked.sub(sold);
                  if (remainder.lte(0)) return EMPTY;
                  const restored = sold.lt(quantity) ? `protection restored: the close sold ${sold.toFixed()} of ${quantity.toFixed()}` : null;
                  const protection$ = defer(() => protectRemainder(rules, snapshot, side, remainder, commandId, restored, deps));
                  return of<CloseItem>({ kind: 'protect-remainder', protection$ });
                }),
              ),
            ),
          ),
        );
      };

      /** The snapshot's orders did not all go in time: nothing sold; what the cancelled stops covered is covered again. */
      const timedOut = (held: Decimal): Observable<CloseItem> => {
        const side: Side = held.lt(0) ? 'buy' : 'sell';
        const stillProtecting = positions.stillProtecting(snapshot);
        const working = positions.workingEntriesOn(pair);
        const stillWorking = snapshot.entries.filter((txid) => working.includes(txid));
        const ids = [...stillProtecting.map((order) => order.txid ?? order.clientOrderId), ...stillWorking].join(', ');
        const covered = stillProtecting.filter((order) => order.side === side).reduce((sum, order) => sum.add(order.quantity), ZERO);
        const uncovered = held.abs().sub(covered);
        const restore = uncovered.gt(0) && tightestStop(snapshot, side) !== null;
        const timeoutMs = deps.tuning.protectionCancelTimeoutMs;
        const reason =
          `close not sent: protective orders or entries not confirmed gone (${ids}): not confirmed within ${timeoutMs} ms` +
          `${restore ? `; protection restored for ${uncovered.toFixed()}` : ''}; needs manual attention`;
        // What it could not cancel is left as it is, covering what it covers: no attempt after this, and if one on
        // its way lands anyway, that stop is put back (`protectiveOrder`). The pair's next close cancels them again.
        positions.withdrawCloseCancels(stillProtecting.map((order) => order.clientOrderId), positions.closeEpoch(pair));
        const error = of<CloseItem>(reportStep(deps.report(context(side, pair), 'ERROR', { reason })));
        if (!restore) return error;
        const protection$ = defer(() => protectRemainder(rules, snapshot, side, uncovered, commandId, `protection restored: the close timed out`, deps));
        return merge(error, of<CloseItem>({ kind: 'protect-remainder', protection$ }));
      };

      // What the close holds: the snapshot's net, then every later fill of the orders it owns (a fold, subscribed
      // before the close is requested so no fill of a cancel race is missed).
      const held$ = positions.fills$.pipe(
        filter((fill) => snapshot.orderKeys.has(fill.orderKey)),
        scan((held, fill) => held.add(signedQuantity(fill.side, fill.quantity)), snapshot.held),
        startWith(snapshot.held),
      );
      const settled$ = defer(() => {
        positions.requestClose(pair);
        // The time limit runs from when its protective orders are all placed (a stop still being placed, e.g. being
        // looked up after an ambiguous answer, is cancelled as soon as it has a txid): it bounds cancels, not placements.
        return race(
          positions.settledForClose$(snapshot).pipe(map(() => true)),
          positions.placementsEnded$(snapshot).pipe(concatMap(() => timer(deps.tuning.protectionCancelTimeoutMs, deps.scheduler)), map(() => false)),
        );
      });
      return settled$.pipe(
        withLatestFrom(held$),
        concatMap(([settled, held]) => (settled ? sell(held) : timedOut(held))),
      );
    };
    // A resumed close was journaled by the run it was cut short in.
    const admitted$ = resumed ? of(null) : admitCommand(commandId, rules.key, parsed.quantity, deps);
    return admitted$.pipe(
      concatMap((refusal) => (refusal === null ? act() : rejected('sell', refusal))),
    );
  });
}

/**
 * The tightest trigger of the snapshot's stop-losses that exit on `side` (highest for a sell, lowest for a buy):
 * those resting or being placed, and those its working entries asked for (the close cancels those entries, so
 * their fills get no stop of their own: without them a partial close of lots bought by such entries left the
 * rest bare).
 */
function tightestStop(snapshot: CloseSnapshot, side: Side): Decimal | null {
  const prices = [
    ...snapshot.protective
      .filter((order) => order.role === 'stop-loss' && order.side === side)
      .flatMap((order) => (order.stopPrice ? [order.stopPrice] : [])),
    ...snapshot.entryStops.filter((stop) => stop.side === side).map((stop) => stop.stopPrice),
  ];
  if (prices.length === 0) return null;
  return side === 'sell' ? Decimal.max(...prices) : Decimal.min(...prices);
}

/**
 * A stop-loss for `volume` on the exit `side`, at the tightest trigger of the snapshot's stops on that side;
 * nothing when no such stop was there. Placed and followed like the stop after an entry; its reports carry the
 * command's id, its first one `reason` when given.
 */
function protectRemainder(
  rules: PairRules,
  snapshot: CloseSnapshot,
  side: Side,
  remainder: Decimal,
  commandId: string,
  reason: string | null,
  deps: StreamDeps,
): Observable<Step<OrderFinal>> {
  const { positions } = deps;
  const stopPrice = tightestStop(snapshot, side);
  if (!stopPrice) return EMPTY;
  const volume = roundVolumeDown(rules, remainder);
  const request: OrderRequest = { clientOrderId: deps.newId(), pair: rules.key, side, orderType: 'stop-loss', volume, price: stopPrice };
  const context = contextOfRequest(request, rules, commandId, 'stop-loss');
  const minimums = checkExitMinimums(rules, volume, stopPrice);
  if (!minimums.ok) return of(dustReport({ ...context, clientOrderId: null }, minimums.reason, deps));
  // From this close's epoch on: the next close of the pair cancels this stop, as it would the entry's.
  const cancelWhen$ = positions.closeRequested$(rules.key, positions.closeEpoch(rules.key)).pipe(map((): CancelReason => 'close-position'));
  const protection$ = protectiveOrder(request, context, deps, { cancelWhen$, lane: 'protect', leaveRestingOnStop: true });
  return reason ? protection$.pipe(withFirstReason(reason)) : protection$;
}

/**
 * Journals a checked close command before anything is done for it: `commandId` is its idempotency key.
 *
 * journal:  ─r|
 * result:   ─(n|)      n: null (go on), or why not (a duplicate naming the first, a journal that cannot write)
 *
 * Never errors.
 */
function admitCommand(commandId: string, pair: string, quantity: Decimal | null, deps: StreamDeps): Observable<string | null> {
  return deps.journal.recordCloseCommand({ commandId, pair, quantity, receivedAt: deps.scheduler.now() }).pipe(
    map((admission) => (admission.kind === 'recorded' ? null : `commandId: duplicate commandId: already journaled (seq ${admission.first.seq}); nothing sent`)),
    catchError((error: unknown) => {
      deps.log.error(`${commandId}: close not done, the journal could not write the command:`, journalProblem(error));
      return of(`journal: ${journalProblem(error)}; nothing sent`);
    }),
  );
}

/** The last trade price for the close's cost minimum; `null` when the ticker cannot tell (ordermin only). */
function referencePrice(rules: PairRules, deps: StreamDeps): Observable<Decimal | null> {
  return exchangeCall(deps, 'close', () => ({ kind: 'ticker' }), () => deps.port.ticker([rules.key]), 'idempotent').pipe(
    map((quotes) => quotes.get(rules.key)?.last ?? null),
    catchError(() => of(null)),
  );
}
