import {
  NEVER,
  Observable,
  type SchedulerLike,
  Subject,
  asyncScheduler,
  catchError,
  concat,
  defer,
  ignoreElements,
  map,
  merge,
  mergeMap,
  of,
  switchMap,
  takeWhile,
  throwError,
  timer,
} from 'rxjs';
import { type Journal, isJournalError } from '../model/journal';
import { journalWith } from '../journal/decorate';
import { type PatientJournalOptions, patientJournal } from '../journal/patient';
import { serialJournal } from '../streams/journaling';
import { type HoldLeaseOptions, type Lease, type LeaseGrant, holdLease } from './lease';

/** The life of one would-be leader of an account, as it happens. */
export type LeaderEvent =
  /** Another handler holds the lease (`null`: read before any grant), or the store did not answer (`problem`). */
  | { readonly kind: 'standby'; readonly heldBy: LeaseGrant | null; readonly problem: string | null }
  /** The lease is this handler's; nothing may be sent before `sendFrom` (scheduler time), when `ready` follows. */
  | { readonly kind: 'leading'; readonly grant: LeaseGrant; readonly sendFrom: number }
  /** The journal is open under the grant's epoch and the previous holder's sends have run out: the handler may start. */
  | { readonly kind: 'ready'; readonly grant: LeaseGrant; readonly journal: Journal }
  /** The lease is gone (lapsed, taken over, or a write was fenced): stop sending at once. The last event. */
  | { readonly kind: 'lost'; readonly grant: LeaseGrant; readonly why: string };

export interface LeadOptions {
  /** The account's lease (the caller opens and closes it). */
  readonly lease: Lease;
  readonly hold: HoldLeaseOptions;
  /**
   * Opens the account's shared journal for writes under this grant's epoch (`openPgJournal` with
   * `grant.epoch`). It is closed when leadership ends (lost, or unsubscribed).
   */
  readonly openJournal: (grant: LeaseGrant) => Promise<Journal>;
  /**
   * The longest an AddOrder of the previous holder may still reach the exchange after it was sent: its
   * `deadline` (config `entry.deadlineMs`) plus the client's request timeout. Waited out from the grant before
   * anything is sent, so the reconciliation at start sees every order the old leader could still place.
   */
  readonly inFlightMs: number;
  /** How the journal waits out an unreachable PostgreSQL (`patientJournal`). */
  readonly patience: PatientJournalOptions;
}

/** Closes a journal whose leadership has ended; its failure changes nothing (the pool is gone either way). */
const closeQuietly = (journal: Journal): void => {
  journal.close().subscribe({ error: () => undefined });
};

/**
 * The journal opened for a grant, emitted once and closed on unsubscription; one that finishes opening after
 * the unsubscription is closed at once.
 */
const openedFor = (open: (grant: LeaseGrant) => Promise<Journal>, grant: LeaseGrant): Observable<Journal> =>
  new Observable<Journal>((subscriber) => {
    let opened: Journal | null = null;
    let ended = false;
    open(grant).then(
      (journal) => {
        if (ended) return closeQuietly(journal);
        opened = journal;
        subscriber.next(journal);
      },
      (error: unknown) => subscriber.error(error),
    );
    return () => {
      ended = true;
      if (opened !== null) closeQuietly(opened);
    };
  });

/**
 * Leads an account, or waits to: holds the lease (`holdLease`), and once it is granted opens the shared journal
 * under its epoch, waits out what the previous holder could still have in flight, and says `ready`; says
 * `lost` the moment the lease is gone, which is also the moment a journal write is refused as `fenced`.
 *
 * lease:    -s------------g----------------x     (s: held by another, g: granted, x: lost)
 *   lead(options)
 * result:   -S------------L----R------------(X|)  (L at grant, R after inFlightMs, X: lost)
 *
 * A standby stays in the acquire loop (`standby` once per holder). The journal of `ready` is patient (a
 * `storage` failure waits for the store: nothing is sent meanwhile, since intents are written first) and
 * serial; it is closed when the result ends. The first grant of an account (epoch 1) waits for nothing: no
 * handler held it before. Completes after `lost`; an error opening the journal is an error of the result
 * (the lease's store not answering is not: a standby waits, a leader holds while its grant runs). Unsubscribing ends the leadership here without releasing the lease (it lapses).
 *
 * @param options The lease, how to hold it, how to open the journal, how long to wait, how to wait for the store.
 * @param scheduler Times the tries, renewals and the wait.
 * @returns The leader's life.
 */
export function lead(options: LeadOptions, scheduler: SchedulerLike = asyncScheduler): Observable<LeaderEvent> {
  return defer(() => {
    // A fenced write says the lease is gone before the next renewal could; it ends the leadership at once.
    const fenced = new Subject<string>();
    const watch = <T>(write: Observable<T>): Observable<T> =>
      write.pipe(
        catchError((error: unknown) => {
          if (isJournalError(error) && error.kind === 'fenced') fenced.next(error.message);
          return throwError(() => error);
        }),
      );
    const watched = (journal: Journal): Journal =>
      journalWith(journal, {
        recordSignal: (signal) => watch(journal.recordSignal(signal)),
        recordIntent: (intent) => watch(journal.recordIntent(intent)),
        recordTransition: (cid, event, at) => watch(journal.recordTransition(cid, event, at)),
        recordCloseCommand: (command) => watch(journal.recordCloseCommand(command)),
        recordHalt: (halt) => watch(journal.recordHalt(halt)),
        recordRateCounters: (counters) => watch(journal.recordRateCounters(counters)),
        recordSignalOutcome: (outcome) => watch(journal.recordSignalOutcome(outcome)),
        recordForeignOrder: (order) => watch(journal.recordForeignOrder(order)),
      });

    const leading = (grant: LeaseGrant): Observable<LeaderEvent> => {
      const sendFrom = scheduler.now() + (grant.epoch > 1 ? Math.max(0, options.inFlightMs) : 0);
      const ready$ = openedFor(options.openJournal, grant).pipe(
        // mergeMap over one value: the journal stays open while the leadership lasts (the inner never completes).
        mergeMap((journal) =>
          concat(
            timer(Math.max(0, sendFrom - scheduler.now()), scheduler).pipe(ignoreElements()),
            of<LeaderEvent>({ kind: 'ready', grant, journal: serialJournal(watched(patientJournal(journal, options.patience, scheduler))) }),
            NEVER,
          ),
        ),
      );
      const deposed$ = fenced.pipe(map((why): LeaderEvent => ({ kind: 'lost', grant, why: `a journal write was refused: ${why}` })));
      return concat(of<LeaderEvent>({ kind: 'leading', grant, sendFrom }), merge(ready$, deposed$));
    };

    return holdLease(options.lease, options.hold, scheduler).pipe(
      // switchMap: `lost` replaces the leadership's work (the journal is closed), nothing else follows it.
      switchMap((event): Observable<LeaderEvent> => (event.kind === 'leading' ? leading(event.grant) : of(event))),
      takeWhile((event) => event.kind !== 'lost', true),
    );
  });
}
