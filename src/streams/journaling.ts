import { EMPTY, Observable, type Subscription, catchError, ignoreElements, tap } from 'rxjs';
import { type Journal, type OrderDuties, isJournalError } from '../model/journal';
import { type LifecycleEvent } from '../model/order-state';
import { journalWith } from '../journal/decorate';
import { type Logger } from './deps';

/** The duties of an order that protects nothing and is watched by nobody (protective orders, exits). */
export const NO_DUTIES: OrderDuties = { stopLoss: null, takeProfit: null, limitTimeoutMs: null, protectionMode: null };

/** A journal failure in words for a report or a log line: the journal's own message, which never holds a secret. */
export const journalProblem = (error: unknown): string => (error instanceof Error ? error.message : String(error));

/**
 * The journal with its writes made one at a time, in the order they were subscribed; reads go straight through.
 *
 * Intuition: a single-lane road in front of the store, so that an order's events reach it in the order they
 * happened even when the store answers asynchronously (PostgreSQL): a fill and the final state that follows it,
 * written side by side, would each fold the order as it was before the other and the second would be refused.
 *
 * writes:   a─b──c        (subscribed)
 * store:    A──B──C       (each begun once the one before has answered)
 *
 * A synchronous journal (memory, SQLite) answers while it is subscribed, so nothing ever waits. A write
 * unsubscribed before its turn is never begun; one unsubscribed while under way frees the lane.
 *
 * @param journal The store.
 * @returns The same port, writes in order.
 */
export function serialJournal(journal: Journal): Journal {
  const queue: (() => void)[] = [];
  let busy = false;
  let draining = false;
  const drain = (): void => {
    if (draining) return;
    draining = true;
    try {
      while (!busy && queue.length > 0) queue.shift()?.();
    } finally {
      draining = false;
    }
  };
  const inTurn = <T>(write: () => Observable<T>): Observable<T> =>
    new Observable<T>((subscriber) => {
      let holding = false;
      let cancelled = false;
      let inner: Subscription | null = null;
      const release = (): void => {
        if (!holding) return;
        holding = false;
        busy = false;
        drain();
      };
      queue.push(() => {
        if (cancelled) return;
        holding = true;
        busy = true;
        inner = write().subscribe({
          next: (value) => subscriber.next(value),
          error: (error: unknown) => {
            release();
            subscriber.error(error);
          },
          complete: () => {
            release();
            subscriber.complete();
          },
        });
      });
      drain();
      return () => {
        cancelled = true;
        inner?.unsubscribe();
        release();
      };
    });
  return journalWith(journal, {
    recordSignal: (signal) => inTurn(() => journal.recordSignal(signal)),
    recordIntent: (intent) => inTurn(() => journal.recordIntent(intent)),
    recordTransition: (clientOrderId, event, at) => inTurn(() => journal.recordTransition(clientOrderId, event, at)),
    recordCloseCommand: (command) => inTurn(() => journal.recordCloseCommand(command)),
    recordHalt: (halt) => inTurn(() => journal.recordHalt(halt)),
    recordRateCounters: (counters) => inTurn(() => journal.recordRateCounters(counters)),
    recordSignalOutcome: (outcome) => inTurn(() => journal.recordSignalOutcome(outcome)),
    recordForeignOrder: (order) => inTurn(() => journal.recordForeignOrder(order)),
  });
}

/** What journaling a transition needs from the run. */
export interface JournalingDeps {
  readonly journal: Journal;
  readonly log: Logger;
  readonly scheduler: { now(): number };
}

/**
 * Journals one transition of an order as it happens (not write-ahead: the exchange has already acted), at the
 * scheduler's time.
 *
 * journal:  ──r|            (moved, ignored or invalid)
 * result:   ──|
 *
 * Never errors and emits nothing: the order is live whatever the journal says, so it is never dropped for it.
 * An `invalid` answer is a bug (the handler and the state machine disagree): logged at error level. A failed
 * write is logged at error level too (what was lost is settled with the exchange at the next start).
 *
 * @param deps The run's journal, logger and clock.
 * @param clientOrderId The order; `null` (an order the handler did not place) journals nothing.
 * @param event What happened.
 */
export function journalTransition(deps: JournalingDeps, clientOrderId: string | null, event: LifecycleEvent): Observable<never> {
  if (clientOrderId === null) return EMPTY;
  return deps.journal.recordTransition(clientOrderId, event, deps.scheduler.now()).pipe(
    tap((step) => {
      if (step.kind === 'invalid') {
        deps.log.error(`${clientOrderId}: journal refused ${event.kind} as an invalid transition (a bug): ${step.reason}`);
      }
    }),
    ignoreElements(),
    catchError((error: unknown) => {
      const kind = isJournalError(error) ? ` (${error.kind})` : '';
      deps.log.error(`${clientOrderId}: journal could not record ${event.kind}${kind}: ${journalProblem(error)}`);
      return EMPTY;
    }),
  );
}

/**
 * `journalTransition` for a callback that cannot return an Observable (the order follower's snapshot handler):
 * begun at once, in order with every other write (`serialJournal`). Not tied to the caller's subscription on
 * purpose: a write once begun is let finish (it completes on its own and never errors), since an order's
 * history cut short would fold to a state the exchange has moved past.
 *
 * @param deps The run's journal, logger and clock.
 * @param clientOrderId The order; `null` journals nothing.
 * @param event What happened.
 */
export function noteTransition(deps: JournalingDeps, clientOrderId: string | null, event: LifecycleEvent): void {
  if (clientOrderId === null) return;
  journalTransition(deps, clientOrderId, event).subscribe({
    error: (error: unknown) => deps.log.error(`${clientOrderId}: journal could not record ${event.kind}: ${journalProblem(error)}`),
  });
}

/**
 * The trade id a fill is journaled under when the source names none (a REST snapshot tells executed volume, not
 * trades): the order and its executed volume after the fill, so the same reading seen twice is one fill.
 */
export const snapshotTradeId = (txid: string, volumeExecuted: { toFixed(): string }): string => `${txid}@${volumeExecuted.toFixed()}`;
