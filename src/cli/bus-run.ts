import { hostname } from 'node:os';
import {
  EMPTY,
  type Observable,
  Subject,
  Subscription,
  catchError,
  concatMap,
  defer,
  distinctUntilChanged,
  filter,
  firstValueFrom,
  from,
  lastValueFrom,
  map,
  mergeMap,
  of,
  race,
  startWith,
  timer,
} from 'rxjs';
import { AckLedger, type RunInput } from '../bus/ack-ledger';
import { ackOnJournal } from '../bus/ack-on-journal';
import { busInputs$ } from '../bus/bus-inputs';
import { type RedisBus, type RedisBusOptions, openRedisBus, printableBusUrl } from '../bus/redis-bus';
import { appendReport, appendSkipped } from '../bus/write-reports';
import { type Journal } from '../model/journal';
import { type ExecutionReport } from '../model/report';
import { type Logger } from '../streams/deps';
import { type InputLine, type InputStreams, type MalformedLine, parseInputLine } from './input';

/**
 * `kraken-rx run --bus`: the handler's input read from the account's Redis stream, every report written to its
 * reports stream, and each input entry acknowledged once what it asks is journaled (`AckLedger`).
 *
 *   krx:<account>:in ──► busInputs$ ──► AckLedger ──► input streams ──► handler ──► reports ──► krx:<account>:reports
 *                            ▲              ▲ journal answers (ackOnJournal)              │ written
 *                            └── XACK ◄─────┴──────────────────────────────────────────────┘
 */

/** The consumer name of `run` on this host: stable across restarts, so a restart reads its own pending entries again. */
export const runConsumerName = (): string => `run-${hostname()}`.replace(/[^A-Za-z0-9_.:-]/g, '_').slice(0, 128);

export interface BusRunOptions {
  /** `redis://…`; never printed with its password. */
  readonly url: string;
  /** Whose streams: `krx:<account>:in`, `krx:<account>:reports`. */
  readonly account: string;
  /** The run's journal (the ledger reads it; the session gets the answering one, `BusRun.journal`). */
  readonly journal: Journal;
  readonly log: Logger;
  /** Default `runConsumerName()`. */
  readonly consumer?: string;
  /** How long closing waits for report writes and acknowledgements still in flight (Redis away). Default 10 000. */
  readonly closeTimeoutMs?: number;
  /** The bus's timings (tests and the bench shorten them); the bus's clock is real time unless given. */
  readonly bus?: Partial<Pick<RedisBusOptions, 'group' | 'claimIdleMs' | 'blockMs' | 'batchSize' | 'backoff' | 'scheduler'>>;
}

/** How a bus run ended, for its last log line and the exit code. */
export interface BusRunEnd {
  /** Entries acknowledged. */
  readonly acknowledged: number;
  /** Entries left unacknowledged (they are delivered again at the next start; the journaled ones are dropped there). */
  readonly unacknowledged: number;
  /** Re-delivered entries dropped as journaled already. */
  readonly dropped: number;
  /** Whether reading the bus failed for good (the run was stopped for it). */
  readonly failed: boolean;
}

export interface BusRun {
  readonly bus: RedisBus;
  /** The journal to hand the session: the run's own, its admissions heard by the ledger. */
  readonly journal: Journal;
  /** The handler's input, from the stream; `connect()` starts reading it, unsubscribing stops reading. */
  readonly input: InputStreams;
  /** Call with every report of the run: it is written to the reports stream, in order. */
  report(report: ExecutionReport): void;
  /** Emits once if reading the bus fails for good (an error reply, not a lost connection): stop the run. */
  readonly failed$: Observable<string>;
  /**
   * Lets the writes and acknowledgements in flight finish (within `closeTimeoutMs`), leaves what is not journaled
   * unacknowledged, and closes the bus's connections. Call it once the session has stopped; idempotent.
   */
  close(): Promise<BusRunEnd>;
}

type Outgoing = { readonly kind: 'report'; readonly report: ExecutionReport } | { readonly kind: 'skip'; readonly input: RunInput; readonly reason: string; readonly halted: boolean };

const problemOf = (error: unknown): string => (error instanceof Error ? error.message : String(error));

/**
 * Opens the bus for a run: connects to Redis (an unreachable one is an error naming it, never its password),
 * reads the journal's last HALT (the input starts from it, so a HALT acknowledged before a restart still holds
 * after it), and sets up the report writes and acknowledgements. Nothing is read before `input.connect()`.
 */
export async function openBusRun(options: BusRunOptions): Promise<BusRun> {
  const { log } = options;
  const journaledHalt = (await firstValueFrom(options.journal.lastHalt()))?.halted ?? false;
  const bus = await openRedisBus({ url: options.url, account: options.account, consumer: options.consumer ?? runConsumerName(), ...options.bus });
  const scheduler = bus.scheduler;
  log.info(
    `bus: reading ${bus.keys.inputs} at ${printableBusUrl(options.url)} (group ${bus.group}, consumer ${bus.consumer}); every report also goes to ${bus.keys.reports}`,
  );
  if (journaledHalt) log.info('bus: HALT is on, as the journal last recorded it: new entries are rejected until {"type":"halt","halted":false}');

  const answering = ackOnJournal(options.journal);
  const lines = new Subject<InputLine>();
  const outgoing = new Subject<Outgoing>();
  const acks = new Subject<RunInput>();
  const failed = new Subject<string>();
  let failure = false;
  let acknowledged = 0;
  let notAcknowledged = 0;

  const ledger = new AckLedger({
    journal: options.journal,
    deliver: (input) => lines.next(input.value),
    writeSkip: (input, reason, halted) => outgoing.next({ kind: 'skip', input, reason, halted }),
    ack: (input) => acks.next(input),
    log,
    journaledHalt,
  });

  const subscriptions = new Subscription();
  subscriptions.add(answering.answers$.subscribe((answer) => ledger.answered(answer)));

  // One write at a time, in order (a portfolio reads a fill before the order's FILLED); a write that fails for good
  // is said and releases nothing, so the entry behind it is delivered again at the next start.
  let resolveWrites: () => void = () => undefined;
  const writesDone = new Promise<void>((resolve) => (resolveWrites = resolve));
  subscriptions.add(
    outgoing
      .pipe(
        concatMap((item) =>
          (item.kind === 'report' ? appendReport(bus, item.report) : appendSkipped(bus, item.input.entryId, item.reason, item.halted)).pipe(
            map(() => item),
            catchError((error: unknown) => {
              const what = item.kind === 'report' ? `report ${item.report.reportId}` : `the skip of entry ${item.input.entryId}`;
              log.error(`bus: ${what} not written to ${bus.keys.reports}: ${problemOf(error)}`);
              return EMPTY;
            }),
          ),
        ),
      )
      .subscribe({
        next: (item) => (item.kind === 'report' ? ledger.reportWritten(item.report) : ledger.skipWritten(item.input)),
        complete: resolveWrites,
      }),
  );

  // Acknowledgements are independent of each other (mergeMap, bounded); each is tried again across a lost
  // connection by `ack()` itself, and one refused for good is said, never dropped silently.
  let resolveAcks: () => void = () => undefined;
  const acksDone = new Promise<void>((resolve) => (resolveAcks = resolve));
  subscriptions.add(
    acks
      .pipe(
        mergeMap(
          (input) =>
            input.ack().pipe(
              map(() => true),
              catchError((error: unknown) => {
                log.warn(`bus: entry ${input.entryId} not acknowledged: ${problemOf(error)}; it is delivered again at the next start`);
                return of(false);
              }),
            ),
          32,
        ),
      )
      .subscribe({
        next: (ok) => (ok ? (acknowledged += 1) : (notAcknowledged += 1)),
        complete: resolveAcks,
      }),
  );

  const ofKind = <K extends InputLine['kind']>(...kinds: K[]) => filter((line: InputLine): line is Extract<InputLine, { kind: K }> => kinds.includes(line.kind as K));
  const input: InputStreams = {
    signals$: lines.pipe(
      ofKind('signal'),
      map((line) => line.signal),
    ),
    commands$: lines.pipe(
      ofKind('close'),
      map((line) => line.command),
    ),
    // A late subscriber starts from the state as it stands (the journal's at start); the ledger sets it before a line goes out.
    halted$: defer(() =>
      lines.pipe(
        ofKind('halt', 'unreadable-halt'),
        map((line) => line.kind === 'unreadable-halt' || line.halted),
        startWith(ledger.haltedNow),
        distinctUntilChanged(),
      ),
    ),
    malformed$: lines.pipe(
      ofKind('malformed', 'unreadable-halt'),
      map(({ kind, line, reason }): MalformedLine => ({ line, reason, halted: kind === 'unreadable-halt' })),
    ),
    connect: () =>
      busInputs$(bus, parseInputLine).subscribe({
        next: (entry) => ledger.arrive(entry),
        error: (error: unknown) => {
          failure = true;
          log.error(`bus: reading ${bus.keys.inputs} failed: ${problemOf(error)}; stopping`);
          failed.next('the bus failed');
        },
      }),
  };

  /** Whether `done` settled within the close timeout (real time, the bus's clock). */
  const within = (done: Promise<void>, ms: number): Promise<boolean> =>
    firstValueFrom(race(from(done).pipe(map(() => true)), timer(ms, scheduler).pipe(map(() => false))));

  let closing: Promise<BusRunEnd> | null = null;
  const close = async (): Promise<BusRunEnd> => {
    const timeoutMs = options.closeTimeoutMs ?? 10_000;
    const started = scheduler.now();
    // The session has stopped: no report comes after this. Those in flight are written, then what they release is acknowledged.
    outgoing.complete();
    const written = await within(writesDone, timeoutMs);
    const counts = ledger.close();
    answering.complete();
    acks.complete();
    const acked = written && (await within(acksDone, Math.max(0, timeoutMs - (scheduler.now() - started))));
    subscriptions.unsubscribe();
    if (acked) await lastValueFrom(bus.close(), { defaultValue: undefined });
    else {
      log.warn(`bus: report writes or acknowledgements still in flight after ${timeoutMs} ms (is Redis there?): given up`);
      bus.commands.destroy();
    }
    const end: BusRunEnd = { acknowledged, unacknowledged: Math.max(counts.read - acknowledged, notAcknowledged), dropped: counts.dropped, failed: failure };
    log.info(
      `bus: ${end.acknowledged} entr${end.acknowledged === 1 ? 'y' : 'ies'} acknowledged` +
        (end.dropped > 0 ? ` (${end.dropped} journaled before, not handled again)` : '') +
        (end.unacknowledged > 0 ? `; ${end.unacknowledged} left unacknowledged: delivered again at the next start` : ''),
    );
    return end;
  };

  return {
    bus,
    journal: answering.journal,
    input,
    report: (report) => outgoing.next({ kind: 'report', report }),
    failed$: failed.asObservable(),
    close: () => (closing ??= close()),
  };
}
