import { type Observable, type SchedulerLike, asyncScheduler, catchError, defer, map, of, switchMap, throwError } from 'rxjs';
import {
  type Admission,
  type Journal,
  type JournalError,
  type JournaledCloseCommand,
  type JournaledForeignOrder,
  type JournaledOrder,
  type JournaledSignal,
  type JournaledSignalOutcome,
  type JournaledTransition,
  type Sequenced,
  isJournalError,
} from '../model/journal';
import { type BackoffPolicy, retryBackoff } from '../operators/retry-backoff';
import { type LifecycleEvent, transition } from '../model/order-state';
import { encodeCloseCommand, encodeEvent, encodeForeignOrder, encodeIntent, encodeSignal, encodeSignalOutcome } from './codec';
import { journalWith } from './decorate';
import { foldJournaledOrder } from './order-fold';

/** How long to wait between tries of a store that cannot be reached. */
export type PatienceBackoff = Pick<BackoffPolicy, 'initialDelayMs' | 'maxDelayMs' | 'multiplier' | 'jitter' | 'random'>;

export interface PatientJournalOptions {
  readonly backoff: PatienceBackoff;
  /**
   * Told of each failure that will be tried again, before the wait (for a log line: "journal unreachable,
   * waiting"). `retry` is 1 for the first retry of that call.
   */
  readonly onRetry?: (what: string, error: JournalError, retry: number) => void;
}

/** Only a store that failed may answer later; a deposed handler, a bug and damaged data never will. */
const unreachable = (error: unknown): error is JournalError => isJournalError(error) && error.kind === 'storage';

/**
 * The answer the first attempt would have had, when the order's last journaled event is this very event at this
 * very time (that attempt committed before its answer was lost); `null` when it is not there.
 */
function landed(order: JournaledOrder, event: LifecycleEvent, at: number): JournaledTransition | null {
  const last = order.events[order.events.length - 1];
  if (last === undefined || last.at !== at || encodeEvent(last.event) !== encodeEvent(event)) return null;
  const before = foldJournaledOrder(order.intent, order.intentSeq, order.events.slice(0, -1)).state;
  const step = transition(before, event);
  return step.kind === 'moved' ? { ...step, seq: last.seq } : null;
}

/**
 * A journal on a shared store that waits out the store's outages: a call that fails with `storage` (PostgreSQL
 * unreachable, a connection dropped) is tried again with backoff until it succeeds. A write-ahead journal that
 * cannot write thus holds the handler back (nothing is sent, since the intent is written first) and lets it go
 * on once the store is back, instead of rejecting every signal meanwhile.
 *
 * Intuition: `retryBackoff` forever, for `storage` only, with the retries made safe for a commit that may have
 * landed before the connection dropped.
 *
 * store:    --S  --S  --a|        (S: storage failure, a: answer; each a new attempt after a backoff)
 *   patientJournal(journal, { backoff })
 * result:   ---------------a|
 *
 * `fenced`, `misuse`, `corrupt`, `schema` and `account-mismatch` errors go through at once. A retry after a
 * failure is idempotent: a signal or close command the retry finds journaled with exactly these fields is the
 * first attempt's commit and answers `recorded` with its seq (a signal's outcome and a foreign order likewise); an intent the retry finds journaled with exactly
 * these fields answers its seq instead of the second-intent `misuse`; a transition a retry finds as the order's
 * last event, at the same time, answers as the first attempt would have (`moved`, its reports and seq), since
 * some events (a `sent`) may rightly occur twice. A halt or rate-counters record may be written twice (the last one counts).
 * Reads wait likewise (a start's restore waits for the store). Once `close` has been called, nothing is tried
 * again: a closed journal's `storage` error goes through.
 *
 * Unsubscribing stops the waiting (a write not yet committed is then never made).
 *
 * @param journal The store's journal (PostgreSQL).
 * @param options Backoff, and who to tell of each wait.
 * @param scheduler Times the waits.
 * @returns The same port, patient.
 */
export function patientJournal(journal: Journal, options: PatientJournalOptions, scheduler: SchedulerLike = asyncScheduler): Journal {
  let closed = false;
  const policy: BackoffPolicy = {
    ...options.backoff,
    maxAttempts: Infinity,
    shouldRetry: (error) => !closed && unreachable(error),
  };
  /** Every attempt of one call: `retried` is true from the second attempt on (the one before failed as `storage`). */
  const patiently = <T>(what: string, attempt: (retried: boolean) => Observable<T>): Observable<T> =>
    defer(() => {
      let attempts = 0;
      return defer(() => {
        attempts += 1;
        const retried = attempts > 1;
        return attempt(retried).pipe(
          catchError((error: unknown) => {
            if (unreachable(error) && policy.shouldRetry(error, attempts)) options.onRetry?.(what, error, attempts);
            return throwError(() => error);
          }),
        );
      }).pipe(retryBackoff(policy, scheduler));
    });

  /** A `duplicate` answer to a retry that holds exactly what was offered: the first attempt committed it. */
  const admitted =
    <T extends Sequenced>(retried: boolean, same: (first: T) => boolean) =>
    (admission: Admission<T>): Admission<T> =>
      retried && admission.kind === 'duplicate' && same(admission.first) ? { kind: 'recorded', seq: admission.first.seq } : admission;

  return journalWith(journal, {
    recordSignal: (signal) =>
      patiently('recordSignal', (retried) =>
        journal
          .recordSignal(signal)
          .pipe(map(admitted<JournaledSignal>(retried, (first) => encodeSignal(first) === encodeSignal(signal)))),
      ),
    recordIntent: (intent) =>
      patiently('recordIntent', (retried) =>
        journal.recordIntent(intent).pipe(
          catchError((error: unknown) =>
            retried && isJournalError(error) && error.kind === 'misuse'
              ? journal
                  .order(intent.clientOrderId)
                  .pipe(
                    switchMap((order) =>
                      order !== null && encodeIntent(order.intent) === encodeIntent(intent) ? of({ seq: order.intentSeq }) : throwError(() => error),
                    ),
                  )
              : throwError(() => error),
          ),
        ),
      ),
    recordTransition: (clientOrderId, event, at) =>
      patiently('recordTransition', (retried) =>
        retried
          ? journal.order(clientOrderId).pipe(
              switchMap((order) => {
                const committed = order === null ? null : landed(order, event, at);
                return committed === null ? journal.recordTransition(clientOrderId, event, at) : of(committed);
              }),
            )
          : journal.recordTransition(clientOrderId, event, at),
      ),
    recordCloseCommand: (command) =>
      patiently('recordCloseCommand', (retried) =>
        journal
          .recordCloseCommand(command)
          .pipe(map(admitted<JournaledCloseCommand>(retried, (first) => encodeCloseCommand(first) === encodeCloseCommand(command)))),
      ),
    recordSignalOutcome: (outcome) =>
      patiently('recordSignalOutcome', (retried) =>
        journal
          .recordSignalOutcome(outcome)
          .pipe(map(admitted<JournaledSignalOutcome>(retried, (first) => encodeSignalOutcome(first) === encodeSignalOutcome(outcome)))),
      ),
    recordForeignOrder: (order) =>
      patiently('recordForeignOrder', (retried) =>
        journal
          .recordForeignOrder(order)
          .pipe(map(admitted<JournaledForeignOrder>(retried, (first) => encodeForeignOrder(first) === encodeForeignOrder(order)))),
      ),
    recordHalt: (halt) => patiently('recordHalt', () => journal.recordHalt(halt)),
    recordRateCounters: (counters) => patiently('recordRateCounters', () => journal.recordRateCounters(counters)),
    signal: (signalId) => patiently('signal', () => journal.signal(signalId)),
    order: (clientOrderId) => patiently('order', () => journal.order(clientOrderId)),
    orders: () => patiently('orders', () => journal.orders()),
    unresolvedOrders: () => patiently('unresolvedOrders', () => journal.unresolvedOrders()),
    closeCommands: () => patiently('closeCommands', () => journal.closeCommands()),
    lastHalt: () => patiently('lastHalt', () => journal.lastHalt()),
    lastRateCounters: () => patiently('lastRateCounters', () => journal.lastRateCounters()),
    signalsWithoutOrder: () => patiently('signalsWithoutOrder', () => journal.signalsWithoutOrder()),
    close: () =>
      defer(() => {
        closed = true;
        return journal.close();
      }),
  });
}
