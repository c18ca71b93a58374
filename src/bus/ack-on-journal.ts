import { type MonoTypeOperatorFunction, type Observable, Subject, tap } from 'rxjs';
import { journalWith } from '../journal/decorate';
import { type Admission, type Journal } from '../model/journal';

/**
 * What the journal answered to a write the bus waits on before it acknowledges an input entry: a signal's or a
 * close command's admission (`recorded`, `duplicate` — either way the id is in the journal — or `failed`: it may
 * not be), or a HALT change journaled (or not).
 */
export type JournalAnswer =
  | { readonly kind: 'signal' | 'close'; readonly id: string; readonly outcome: 'recorded' | 'duplicate' | 'failed' }
  | { readonly kind: 'halt'; readonly halted: boolean; readonly outcome: 'recorded' | 'failed' };

/** A journal whose admissions are heard as they are answered. */
export interface AnsweringJournal {
  /** The journal to hand the handler: the same port, every call passed through unchanged. */
  readonly journal: Journal;
  /** Each answer, at the moment the store gives it (before the handler sees it). Hot; completes with `complete()`. */
  readonly answers$: Observable<JournalAnswer>;
  /** Ends `answers$` (the run is over: nothing more will be acknowledged). */
  complete(): void;
}

/**
 * A journal decorator that tells which signals, close commands and HALT changes are journaled, so the bus
 * acknowledges an entry only once what it asks is in the journal (design.md §10: at-least-once delivery,
 * exactly-once effect).
 *
 * handler:    --recordSignal(s1)------recordSignal(s2)--recordHalt(t)--
 * store:      ----r-------------------#-----------------r--------------   (r: answered, #: failed)
 *   ackOnJournal(journal)
 * answers$:   ----(s1 recorded)-------(s2 failed)-------(halt t recorded)
 *
 * Only the answer is observed: values and errors reach the handler unchanged, and a write unsubscribed before
 * it answered (the run stopping) is heard of as nothing, so its entry stays unacknowledged and is delivered
 * again at the next start. Reads and the other writes pass straight through.
 *
 * @param journal The run's journal.
 * @returns The journal to hand the handler, and its answers.
 */
export function ackOnJournal(journal: Journal): AnsweringJournal {
  const answers = new Subject<JournalAnswer>();
  const admission = <T>(kind: 'signal' | 'close', id: string): MonoTypeOperatorFunction<Admission<T>> =>
    tap({
      next: (answer) => answers.next({ kind, id, outcome: answer.kind }),
      error: () => answers.next({ kind, id, outcome: 'failed' }),
    });
  return {
    journal: journalWith(journal, {
      recordSignal: (signal) => journal.recordSignal(signal).pipe(admission('signal', signal.signalId)),
      recordCloseCommand: (command) => journal.recordCloseCommand(command).pipe(admission('close', command.commandId)),
      recordHalt: (halt) =>
        journal.recordHalt(halt).pipe(
          tap({
            next: () => answers.next({ kind: 'halt', halted: halt.halted, outcome: 'recorded' }),
            error: () => answers.next({ kind: 'halt', halted: halt.halted, outcome: 'failed' }),
          }),
        ),
    }),
    answers$: answers.asObservable(),
    complete: () => answers.complete(),
  };
}
