import { Decimal } from 'decimal.js';
import {
  type Observable,
  catchError,
  concatMap,
  defer,
  groupBy,
  map,
  mergeMap,
  of,
  take,
  timeout,
} from 'rxjs';
import { type PairBook, type PairRules } from '../model/pair';
import { type Side, type ClosePositionCommand } from '../model/signal';
import { type StreamDeps } from './deps';
import { exchangeCall } from './exchange-call';
import { marketExit } from './exits';
import { type OrderFinal } from './order-lifecycle';
import { type OrderContext } from './reports';
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
 * groupBy pair then concatMap: commands for one pair run one after the other (the second sees what the
 * first closed); pairs run side by side. An unknown pair, a bad quantity or nothing to close → REJECTED with
 * the reason; protective orders or entries not confirmed gone within `tuning.protectionCancelTimeoutMs` →
 * ERROR and nothing is sent (selling while a stop may still sell would sell twice). Side: selling what was bought;
 * with nothing tracked and a quantity given, a sell. Completes when the commands have completed and every
 * close has; never errors.
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
    mergeMap((commandsOfPair$) => commandsOfPair$.pipe(concatMap(({ command, book }) => closePosition(command, book, deps)))),
  );
}

function closePosition(command: ClosePositionCommand, book: PairBook | null, deps: StreamDeps): Observable<Step<OrderFinal>> {
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
      return rejected('sell', `nothing to close on ${rules.altname}: no tracked position and no quantity given`);
    }

    positions.requestClose(pair);
    return positions.settledForClose$(pair, entries).pipe(
      take(1),
      timeout({ first: deps.tuning.protectionCancelTimeoutMs, scheduler: deps.scheduler }),
      concatMap(() => {
        const net = positions.net(pair);
        const side: Side = net.lt(0) ? 'buy' : 'sell';
        const tracked = net.abs();
        const quantity = parsed.quantity === null ? tracked : tracked.isZero() ? parsed.quantity : Decimal.min(parsed.quantity, tracked);
        if (quantity.isZero()) return rejected(side, `nothing to close on ${rules.altname}: the tracked position is flat`);
        return referencePrice(rules, deps).pipe(concatMap((price) => marketExit(rules, side, quantity, 'close', commandId, price, deps)));
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

/** The last trade price for the close's cost minimum; `null` when the ticker cannot tell (ordermin only). */
function referencePrice(rules: PairRules, deps: StreamDeps): Observable<Decimal | null> {
  return exchangeCall(deps, 'close', () => ({ kind: 'ticker' }), () => deps.port.ticker([rules.key]), 'idempotent').pipe(
    map((quotes) => quotes.get(rules.key)?.last ?? null),
    catchError(() => of(null)),
  );
}
