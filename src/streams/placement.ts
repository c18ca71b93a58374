import { Decimal } from 'decimal.js';
import {
  EMPTY,
  type Observable,
  catchError,
  concat,
  concatMap,
  defer,
  ignoreElements,
  map,
  merge,
  of,
  take,
  tap,
} from 'rxjs';
import { isExchangeError } from '../model/errors';
import { type OrderDuties, type OrderIntentRecord, type SignalRecord, isJournalError } from '../model/journal';
import { type LifecycleEvent } from '../model/order-state';
import { type OrderRequest, type OrderSnapshot, type PlacedOrder } from '../model/order';
import { type PairBook, type PairRules } from '../model/pair';
import { type TradeSignal } from '../model/signal';
import { BreakerOpenError } from '../operators/circuit-breaker';
import { type HaltCause, haltGate } from '../operators/halt-gate';
import { queueMap } from '../operators/queue-map';
import { type EntryIntent, type Rejection, type Translation, isRejection, rejection } from '../operators/intent';
import { type TranslateOptions, decimalOf, translateSignal } from '../operators/translate';
import { type ExchangeDeps } from './deps';
import { exchangeCall } from './exchange-call';
import { NO_DUTIES, journalProblem, journalTransition } from './journaling';
import { type LiveOrder } from './order-lifecycle';
import { type OrderContext, contextOfRequest, snapshotDetails } from './reports';
import { lookUpOrder, placedOrSeen } from './lookup';
import { type Step, doneStep, reportStep } from './step';

/** An accepted order, and the snapshot a lookup found it with (after an ambiguous placement). */
export interface Placed {
  readonly order: LiveOrder;
  readonly adopted: OrderSnapshot | null;
}

/** An accepted entry with the intent behind it (its protection and timeout). */
export interface PlacedEntry {
  readonly intent: EntryIntent;
  readonly placed: Placed;
}

/** How the ERROR of a placement whose lookups proved nothing begins: the order may be live on the exchange. */
export const STATE_UNKNOWN = 'order state unknown';

const errorText = (error: unknown): string => (error instanceof Error ? error.message : String(error));

/** How `placeOrder` retries. */
export interface PlaceOptions {
  /**
   * For protective and exit orders: retry refusals that prove nothing was placed (retryable, rate-limited,
   * invalid nonce, open breaker; each retry re-signed) with capped backoff and no limit on attempts, until
   * this emits (the run is stopping); from then on `retry.maxAttempts` applies. Entries keep the bounded retry.
   */
  readonly persistUntil$?: Observable<unknown>;
  /** The entry a protective order protects or an exit closes, journaled with the intent. Default `null`. */
  readonly parentClientOrderId?: string | null;
  /** What only the handler knows it must do about the order (an entry's protection, timeout), journaled with the intent. Default: nothing. */
  readonly duties?: OrderDuties;
}

/**
 * Places one order idempotently: the client order id is fixed in the request and kept across every attempt.
 *
 * port:    ──#(ambiguous)
 * lookups:    ────l────f
 * result:  P─U─────────Nd|     P PENDING_NEW, U UNKNOWN, N NEW (adopted), d done
 *
 * Each attempt waits for the rate gate in `lane` and is stamped with a fresh `deadline`. Retryable and
 * rate-limited failures are retried with backoff (they prove nothing was placed); with `persistUntil$`, as
 * long as it takes. A definitive refusal, an auth failure, an open circuit breaker (for an entry; an exit
 * waits for the breaker's probe) or retries running out → REJECTED for an entry; for a protective or exit
 * order (role other than `entry`) → ERROR with a reason starting `position unprotected:`, since a person must
 * act. An ambiguous failure → UNKNOWN,
 * then a lookup by client order id: found → NEW and the order is adopted; absent (proven past the deadline) →
 * sent once more with the same client order id; unproven → ERROR (the order may be live: needs a person),
 * never REJECTED. A validate-only request ends CANCELED with the reason (nothing was placed).
 *
 * Journaled (design.md §8): the intent before the PENDING_NEW, each attempt's `sent` (with its deadline) before
 * the AddOrder leaves, then what became of it (accepted, ambiguous, found, proven absent, rejected, failed). A
 * journal that cannot write the intent or a `sent` sends nothing: REJECTED (an entry) or ERROR
 * `position unprotected:` (any other role) with `journal: …; not sent`. A later transition the journal cannot write
 * is logged and the order goes on (the exchange has already acted).
 * Emits reports and, when the order was accepted, one `done` step; completes; never errors.
 *
 * @param request The order, rounded; its `clientOrderId` is the idempotency key.
 * @param context What its reports repeat.
 * @param deps The run's exchange access.
 * @param lane `place` for entries, `protect` for protective orders, `close` for exits (lookups always go in `lookup`, below the monitor).
 * @param options `persistUntil$` for protective and exit orders.
 * @returns Reports, then the accepted order.
 */
export function placeOrder(
  request: OrderRequest,
  context: OrderContext,
  deps: ExchangeDeps,
  lane: 'place' | 'protect' | 'close',
  options: PlaceOptions = {},
): Observable<Step<Placed>> {
  const { scheduler, config, log } = deps;
  const { clientOrderId } = request;
  // An entry not placed is a signal not taken; a protective order or an exit not placed leaves a position
  // without its protection, and a person must hear of it.
  const reducesRisk = context.role !== 'entry';
  const refusal = (reason: string): Step<never> =>
    reportStep(reducesRisk ? deps.report(context, 'ERROR', { reason: `position unprotected: ${reason}` }) : deps.report(context, 'REJECTED', { reason }));
  const journal = (event: LifecycleEvent): Observable<never> => journalTransition(deps, clientOrderId, event);
  /** Nothing placed, and given up on: journaled as such (rejected for an entry, failed otherwise), then reported. */
  const notPlaced = (reason: string): Observable<Step<never>> =>
    concat(journal(reducesRisk ? { kind: 'failed', reason } : { kind: 'rejected', reason }), of(refusal(reason)));

  const accepted = (placed: PlacedOrder): Observable<Step<Placed>> => {
    if (placed.txid === '') {
      const reason = 'validate only: the exchange accepted the order; nothing was placed';
      return concat(journal({ kind: 'rejected', reason }), of(reportStep(deps.report(context, 'CANCELED', { reason }))));
    }
    // Aged from the answer, not the send: the exchange ages it from its arrival, which the send time would
    // make look older than it is, and an older order's cancel costs fewer trading units.
    const order: LiveOrder = { context, txid: placed.txid, placedAt: scheduler.now() };
    return concat(
      journal({ kind: 'accepted', txid: placed.txid }),
      of(reportStep(deps.report(context, 'NEW', { exchangeOrderId: placed.txid })), doneStep<Placed>({ order, adopted: null })),
    );
  };

  /** Whether this placement still persists: `persistUntil$` given and not yet emitted (it replays once it has). */
  const persistingNow = (): Observable<boolean> =>
    options.persistUntil$
      ? merge(options.persistUntil$.pipe(map(() => false)), of(true)).pipe(take(1))
      : of(false);

  const resolve = (deadline: number, resent: boolean): Observable<Step<Placed>> =>
    // Every lookup goes in the `lookup` lane, below the monitor, whatever the order's own lane: a lookup polls
    // every interval until the deadline has passed (it can find the order, never prove it absent, before then),
    // and in the `protect` or `close` lane those polls took all the REST budget and starved the monitor, so
    // fills and cancels went unseen for the whole deadline. Re-sending after proven absence keeps the order's lane.
    lookUpOrder(request.clientOrderId, deadline, deps, 'lookup').pipe(
      concatMap((result): Observable<Step<Placed>> => {
        switch (result.kind) {
          case 'found': {
            const snapshot = result.snapshot;
            // Aged from the adoption: never older than the exchange thinks (the cancel penalty errs high).
            const order: LiveOrder = { context, txid: snapshot.txid, placedAt: scheduler.now() };
            return concat(
              journal({ kind: 'found', txid: snapshot.txid }),
              of(
                reportStep(deps.report(context, 'NEW', { ...snapshotDetails(snapshot), reason: 'found by its client order id after an ambiguous placement' })),
                doneStep<Placed>({ order, adopted: snapshot }),
              ),
            );
          }
          case 'absent':
            return concat(journal({ kind: 'proven-absent' }), absent(resent));
          case 'unproven':
            // No transition: the order stays ambiguous in the journal, and the next start looks it up again.
            return of(reportStep(deps.report(context, 'ERROR', { reason: `${STATE_UNKNOWN}, needs manual attention: ${result.reason}` })));
        }
      }),
    );

  /** Proven not placed: sent once more, or (after a resend) given up on, unless the placement persists. */
  const absent = (resent: boolean): Observable<Step<Placed>> => {
    if (!resent) {
      log.info(`${clientOrderId}: proven not placed; sending it once more with the same client order id`);
      return attempt(true);
    }
    return persistingNow().pipe(
      concatMap((persisting) => {
        if (!persisting) return notPlaced('not placed: two ambiguous attempts, and the order is proven absent after each');
        // A protective or exit order: proven absence makes another send safe, and a position must not be
        // left without it; so it goes on, with the same client order id, until the run stops.
        log.warn(`${clientOrderId}: proven not placed again; sending it again (a ${context.role} is not given up)`);
        return attempt(true);
      }),
    );
  };

  /** Write-ahead: the send is journaled before the request leaves; an `invalid` answer is a bug, logged, and the send goes on. */
  const journalSent = (deadline: number): Observable<never> =>
    deps.journal.recordTransition(clientOrderId, { kind: 'sent', deadline }, scheduler.now()).pipe(
      tap((step) => {
        if (step.kind === 'invalid') log.error(`${clientOrderId}: journal refused sent as an invalid transition (a bug): ${step.reason}`);
      }),
      ignoreElements(),
    );

  const attempt = (resent: boolean): Observable<Step<Placed>> =>
    defer(() => {
      let sent = false;
      let deadline = 0;
      const send = (): Observable<PlacedOrder> =>
        defer(() => {
          // Stamped at the moment of sending: the time spent waiting for budget must not eat the deadline.
          const sendDeadline = scheduler.now() + config.entry.deadlineMs;
          // concat: the port is called only once the journal has the send (a failed write sends nothing).
          return concat(
            journalSent(sendDeadline),
            defer(() => {
              sent = true;
              deadline = sendDeadline;
              return placedOrSeen(deps, request.clientOrderId, deps.port.placeOrder({ ...request, deadline, ...(config.exchange.validateOnly ? { validate: true } : {}) }));
            }),
          );
        });
      // An exit (protection, take-profit, close) reduces risk: it waits out an open breaker; an entry does not.
      const persistUntil$ = options.persistUntil$;
      return exchangeCall(deps, lane, () => ({ kind: 'placeOrder', pair: request.pair }), send, 'once', {
        waitOutBreaker: reducesRisk,
        ...(persistUntil$ ? { persistUntil$ } : {}),
      }).pipe(
        take(1),
        concatMap(accepted),
        catchError((error: unknown): Observable<Step<Placed>> => {
          // The journal could not write this attempt's send, so it did not leave (an earlier attempt was refused).
          if (isJournalError(error)) {
            log.error(`${clientOrderId}: not sent, the journal could not write it:`, journalProblem(error));
            return notPlaced(`journal: ${journalProblem(error)}; not sent`);
          }
          // An error that is not the exchange's own, once the request may have gone out, is treated as ambiguous.
          const ambiguous = isExchangeError(error) ? error.kind === 'ambiguous' : sent && !(error instanceof BreakerOpenError);
          if (ambiguous) {
            const unknown = deps.report(context, 'UNKNOWN', {
              reason: `ambiguous: ${errorText(error)}; looking the order up by its client order id`,
            });
            return concat(journal({ kind: 'ambiguous', reason: errorText(error) }), of(reportStep(unknown)), resolve(deadline, resent));
          }
          const why = error instanceof BreakerOpenError ? errorText(error) : isExchangeError(error) ? `${error.kind}: ${errorText(error)}` : errorText(error);
          return notPlaced(why);
        }),
      );
    });

  const intent = (): OrderIntentRecord => ({
    clientOrderId,
    signalId: context.signalId,
    role: context.role,
    parentClientOrderId: options.parentClientOrderId ?? null,
    pair: request.pair,
    side: request.side,
    orderType: request.orderType,
    volume: request.volume,
    price: request.price ?? null,
    price2: request.price2 ?? null,
    deadlineMs: config.entry.deadlineMs,
    duties: options.duties ?? NO_DUTIES,
    createdAt: scheduler.now(),
  });

  // Write-ahead: nothing is reported or sent for an order the journal does not have.
  return defer(() =>
    deps.journal.recordIntent(intent()).pipe(
      map((): string | null => null),
      catchError((error: unknown) => of(journalProblem(error))),
      concatMap((problem) => {
        if (problem === null) return concat(of(reportStep(deps.report(context, 'PENDING_NEW'))), attempt(false));
        log.error(`${clientOrderId}: not sent, the journal could not write its intent:`, problem);
        const reason = `journal: ${problem}; not sent`;
        // An entry's signal is journaled already: its outcome too, or the next start would report it a second time
        // as a signal without an order. Best effort: the journal is failing, and then the next start does report it.
        const outcome$ =
          context.role === 'entry'
            ? deps.journal.recordSignalOutcome({ signalId: context.signalId, status: 'REJECTED', reason, at: scheduler.now() }).pipe(
                ignoreElements(),
                catchError(() => EMPTY),
              )
            : EMPTY;
        return concat(outcome$, of(refusal(reason)));
      }),
    ),
  );
}

/**
 * Journals a checked signal before anything is sent for it: `signalId` is the idempotency key, across restarts.
 *
 * journal:  ─r|                 r: recorded, or the first signal with that id
 * result:   ─(n|)               n: null (go on), or the rejection (duplicate, journal failure)
 *
 * Never errors: a journal that cannot write turns the signal away (`journal: …; not sent`).
 *
 * @param intent The signal, translated.
 * @param deps The run's journal and clock.
 * @returns `null` when the signal may be placed, else why not.
 */
function admitSignal(intent: EntryIntent, deps: ExchangeDeps): Observable<Rejection | null> {
  const { request, signal } = intent;
  const record: SignalRecord = {
    signalId: signal.signalId,
    receivedAt: deps.scheduler.now(),
    pair: intent.rules.key,
    side: request.side,
    orderType: request.orderType === 'limit' ? 'limit' : 'market',
    quantity: request.volume,
    limitPrice: request.orderType === 'limit' ? request.price ?? null : null,
    stopLoss: intent.stopLoss,
    takeProfit: intent.takeProfit,
    timeoutMs: intent.timeoutMs,
  };
  return deps.journal.recordSignal(record).pipe(
    map((admission) =>
      admission.kind === 'recorded' ? null : rejection(signal, 'signalId', `duplicate signalId: already journaled (seq ${admission.first.seq})`),
    ),
    catchError((error: unknown) => {
      deps.log.error(`${signal.signalId}: not placed, the journal could not write the signal:`, journalProblem(error));
      return of(rejection(signal, 'journal', `${journalProblem(error)}; not sent`));
    }),
  );
}

const looseSide = (value: unknown): 'buy' | 'sell' => (value === 'sell' ? 'sell' : 'buy');

/**
 * The REJECTED report of a signal that will not become an order. The signal may be malformed, so every field
 * is read defensively.
 */
export function rejectionReport(rejected: Rejection, deps: Pick<ExchangeDeps, 'report'>): Step<never> {
  const received: unknown = rejected.signal;
  const signal: Partial<Record<keyof TradeSignal, unknown>> = typeof received === 'object' && received !== null ? received : {};
  const context: OrderContext = {
    signalId: typeof signal.signalId === 'string' ? signal.signalId : '',
    clientOrderId: null,
    pair: typeof signal.pair === 'string' ? signal.pair : '',
    role: 'entry',
    side: looseSide(signal.side),
    orderType: typeof signal.orderType === 'string' ? signal.orderType : 'unknown',
    // The quantity asked for, when it reads as one: a REJECTED line says what was refused.
    quantityOrdered: decimalOf(signal.quantity),
    limitPrice: null,
    stopPrice: null,
    commissionAsset: null,
  };
  return reportStep(deps.report(context, 'REJECTED', { reason: `${rejected.field}: ${rejected.reason}` }));
}

/**
 * Entry signals to placed entries: HALT gate, a reference price for market entries, translation to an order
 * request, then idempotent placement.
 *
 * signals:  -a--b--c-|
 * halted$:  t----f----
 *   placeEntries(...)
 * result:   -R--PN-PN-|   R: REJECTED (halted), P PENDING_NEW, N NEW + done
 *
 * Merged with `entry.maxConcurrentPlacements`: independent orders, bounded, and never switchMap around a
 * write. A signal admitted by the gate but still waiting for a placement slot when HALT turns on is rejected
 * when its turn comes. A signal is validated first, with no call: a rejected one never reads a price. Then a
 * market entry (for `costmin` and its protective sides) and, with `entry.maxPriceDeviation`, any entry (the
 * fat-finger band) reads the pair's last price through the run's shared reader (one Ticker read per pair,
 * reused for a second, paced as a public call). If the read fails, a market entry without a band is checked
 * for `ordermin` only; with a band the entry is rejected (the band could not be checked).
 * A signal that passed every check is journaled before its order (`admitSignal`): a `signalId` already in the
 * journal (this run's or an earlier one's) is REJECTED `signalId: duplicate signalId: already journaled (seq n)`,
 * and nothing is sent; so is every signal while the journal cannot write (`journal: …; not sent`). Each change of
 * `halted$` is journaled (`recordHalt`).
 * Completes when the signals have completed and every placement has; a bad signal is a report, never an error.
 *
 * @param signals$ Approved trade signals.
 * @param halted$ HALT switch.
 * @param book$ The pairs' rules (loaded once, cached; a failed load rejects the signal and is tried again).
 * @param deps The run's exchange access.
 * @returns Reports, and each accepted entry.
 */
export function placeEntries(
  signals$: Observable<TradeSignal>,
  halted$: Observable<boolean>,
  book$: Observable<PairBook>,
  deps: ExchangeDeps,
): Observable<Step<PlacedEntry>> {
  return defer(() => {
    const { config } = deps;
    const options: TranslateOptions = {
      newClientOrderId: deps.newId,
      defaultLimitTimeoutMs: config.entry.limitTimeoutMs,
      now: () => deps.scheduler.now(),
    };
    // Everything that can be checked without a price, and no id minted: a signal refused here costs no call.
    const validation: TranslateOptions = { ...options, newClientOrderId: () => '' };
    const maxDeviation = config.entry.maxPriceDeviation;
    const band = maxDeviation === undefined || maxDeviation === null ? undefined : new Decimal(String(maxDeviation));

    const withPrice = (signal: TradeSignal, book: PairBook, rules: PairRules): Observable<Translation> =>
      deps.prices.last(rules.key, 'place').pipe(
        map((read) => {
          if (read.kind === 'unavailable') {
            deps.log.warn(`no last price for ${rules.symbol}${band ? '' : '; costmin not checked before sending'}:`, read.reason);
          }
          const price = read.kind === 'last' ? read.price : undefined;
          return translateSignal(signal, book, {
            ...options,
            referencePrice: () => price,
            ...(band
              ? { priceBand: { maxDeviation: band, key: 'entry.maxPriceDeviation', noReferenceReason: read.kind === 'unavailable' ? read.reason : undefined } }
              : {}),
          });
        }),
      );

    const translated = (signal: TradeSignal | Rejection): Observable<Translation> => {
      if (isRejection(signal)) return of(signal);
      return book$.pipe(
        take(1),
        map((book) => ({ book, checked: translateSignal(signal, book, validation) })),
        catchError((error: unknown) => of({ book: null, checked: rejection(signal, 'pair', `pair rules unavailable: ${errorText(error)}`) })),
        concatMap(({ book, checked }): Observable<Translation> => {
          if (isRejection(checked) || !book) return of(checked);
          // A market entry needs the price for costmin and its stop/take-profit sides; any entry for the band.
          const needsPrice = checked.request.orderType === 'market' || band !== undefined;
          return needsPrice ? withPrice(signal, book, checked.rules) : of(translateSignal(signal, book, options));
        }),
      );
    };

    // The gate decides when a signal arrives; a signal still waiting for a placement slot is checked again
    // when its turn comes, so HALT also stops entries queued before it.
    let haltedNow = false;
    // A failed HALT feed halts (haltGate fails closed), queued signals included.
    let journaledHalt: boolean | null = null;
    const halt$ = halted$.pipe(
      tap({ next: (halted) => (haltedNow = halted), error: () => (haltedNow = true) }),
      // concatMap: each change journaled in order; the flag above already holds, so a slow journal delays no rejection.
      concatMap((halted) => concat(journalHalt(halted), of(halted))),
    );
    /** Each change of the switch, for the next start; a failure is logged and HALT holds all the same. */
    const journalHalt = (halted: boolean): Observable<never> => {
      if (halted === journaledHalt) return EMPTY;
      journaledHalt = halted;
      return deps.journal.recordHalt({ halted, at: deps.scheduler.now() }).pipe(
        ignoreElements(),
        catchError((error: unknown) => {
          deps.log.error(`HALT ${halted ? 'on' : 'off'} not journaled:`, journalProblem(error));
          return EMPTY;
        }),
      );
    };
    const halt = (signal: TradeSignal, cause?: HaltCause): Rejection =>
      rejection(signal, 'halted', cause?.kind === 'feed-failed' ? `HALT is on: the HALT feed failed (${errorText(cause.error)}); new entries are rejected` : 'HALT is on: new entries are rejected');

    return signals$.pipe(
      haltGate(halt$, halt),
      // One at a time (concatMap's order) while the book loads and market entries read their reference price;
      // queueMap, not concatMap: a burst queued behind the book would otherwise be started one inside another.
      queueMap(translated, 1),
      // Independent orders, bounded; queueMap for the same reason: rejections queued behind placements in flight.
      queueMap((translation): Observable<Step<PlacedEntry>> => {
        if (isRejection(translation)) return of(rejectionReport(translation, deps));
        if (haltedNow) return of(rejectionReport(halt(translation.signal), deps));
        const context = {
          ...contextOfRequest(translation.request, translation.rules, translation.signal.signalId, 'entry'),
          ...(translation.roundingNote === null ? {} : { note: translation.roundingNote }),
        };
        const duties: OrderDuties = {
          stopLoss: translation.stopLoss,
          takeProfit: translation.takeProfit,
          limitTimeoutMs: translation.timeoutMs,
          protectionMode: config.protection.mode,
        };
        return admitSignal(translation, deps).pipe(
          concatMap((refused): Observable<Step<PlacedEntry>> =>
            refused
              ? of(rejectionReport(refused, deps))
              : placeOrder(translation.request, context, deps, 'place', { duties }).pipe(
                  map((step): Step<PlacedEntry> => (step.kind === 'done' ? doneStep({ intent: translation, placed: step.value }) : step)),
                ),
          ),
          catchError((error: unknown) => of(reportStep(deps.report(context, 'ERROR', { reason: `internal error while placing: ${errorText(error)}` })))),
        );
      }, deps.config.entry.maxConcurrentPlacements),
    );
  });
}
