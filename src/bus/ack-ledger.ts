import { type Observable, Subscription, catchError, map, of } from 'rxjs';
import { type InputLine } from '../cli/input';
import { type Journal } from '../model/journal';
import { type ExecutionReport } from '../model/report';
import { type Logger } from '../streams/deps';
import { type JournalAnswer } from './ack-on-journal';
import { type BusInput } from './bus-inputs';

/** An input entry of the run, as the bus delivered it. */
export type RunInput = BusInput<InputLine>;

/** What the ledger has done with the entries so far (for the run's closing line). */
export interface LedgerCounts {
  /** Entries read from the bus. */
  readonly read: number;
  /** Entries handed to the handler (or, blank, needing nothing). */
  readonly delivered: number;
  /** Re-delivered entries dropped because the journal holds their id. */
  readonly dropped: number;
  /** Entries handed to `ack` so far. */
  readonly released: number;
  /** Entries still waiting for their journal answer, report or turn: left unacknowledged. */
  readonly waiting: number;
}

export interface AckLedgerDeps {
  /** Where a re-delivered entry's id is looked up (rule: journaled before → acknowledged, not handled). */
  readonly journal: Pick<Journal, 'signal' | 'closeCommands'>;
  /** Hands an entry's line to the handler's input streams. */
  readonly deliver: (input: RunInput) => void;
  /** Writes a skipped line's report to the reports stream; the caller says `skipWritten` once it is there. */
  readonly writeSkip: (input: RunInput, reason: string, halted: boolean) => void;
  /** Acknowledges an entry (XACK): everything it asked is journaled or reported. */
  readonly ack: (input: RunInput) => void;
  readonly log: Logger;
  /** The HALT state the journal holds at start (the input starts from it); `false` when it holds none. */
  readonly journaledHalt: boolean;
}

type Phase = 'checking' | 'delivered' | 'failed';

/** A signal or close entry under way: its key is held until its fate is known. */
interface Tracked {
  readonly input: RunInput;
  phase: Phase;
}

/** The id key of an entry's signal or close command; `null` for a halt, blank or malformed line. */
const keyOf = (line: InputLine): string | null =>
  line.kind === 'signal' ? `signal:${line.signal.signalId}` : line.kind === 'close' ? `close:${line.command.commandId}` : null;

/** The key of a report that can only be the first and last word on its signal or command: refused before journaling. */
const rejectionKey = (report: ExecutionReport): string | null => {
  if (report.status !== 'REJECTED' || report.clientOrderId !== null) return null;
  if (report.role === 'entry') return `signal:${report.signalId}`;
  if (report.role === 'close') return `close:${report.signalId}`;
  return null;
};

const entryLabel = (input: RunInput): string => {
  const line = input.value;
  const what = line.kind === 'signal' ? `signal ${line.signal.signalId}` : line.kind === 'close' ? `close ${line.command.commandId}` : line.kind;
  return `entry ${input.entryId} (${what}, ${input.delivery})`;
};

/**
 * Which input entries may be acknowledged, and when: at-least-once delivery, exactly-once effect (design.md §10).
 *
 * Intuition: every entry waits for the one thing that makes forgetting it safe, then is released to `ack`.
 *
 *   signal / close   the journal's answer to its recordSignal / recordCloseCommand (`recorded` or `duplicate`:
 *                    the id is journaled), or, refused before it was journaled (HALT, a bad pair…), its REJECTED
 *                    report written to the reports stream. A failed journal write releases nothing: the entry
 *                    is delivered again at the next start.
 *   HALT             the journal holding the input's HALT state (at once if it already does).
 *   malformed        its skip report written (an unreadable halt line: that and the HALT state journaled).
 *   blank            nothing to do.
 *
 * A re-delivered entry (`pending`, `claimed`: a restart, a dead consumer) whose id the journal already holds is
 * released without being handled and without a report: the journal has it and the start's reconciliation settles
 * its order, where handling it again would add a second final report (`duplicate signalId`). A `new` one is
 * handled: a strategy's replay is REJECTED as a duplicate, as from stdin.
 *
 * Two entries with one id are handled one after the other: the second waits until the first's fate is known, so
 * an answer or a rejection is never taken for the wrong entry (the second may then be overtaken by later lines).
 */
export class AckLedger {
  private readonly active = new Map<string, Tracked>();
  private readonly held = new Map<string, RunInput[]>();
  /** Halt lines (and unreadable ones) waiting for the journal to hold the input's HALT state. */
  private haltsWaiting: RunInput[] = [];
  /** Malformed lines waiting for their skip report, by entry id. */
  private readonly skipsWaiting = new Map<string, RunInput>();
  private readonly lookups = new Subscription();
  private committedHalt: boolean;
  private halted: boolean;
  private counts = { read: 0, delivered: 0, dropped: 0, released: 0 };
  private closed = false;

  constructor(private readonly deps: AckLedgerDeps) {
    this.committedHalt = deps.journaledHalt;
    this.halted = deps.journaledHalt;
  }

  /** The input's HALT state: the journal's at start, then as the halt lines delivered set it. */
  get haltedNow(): boolean {
    return this.halted;
  }

  /** An entry read from the bus. */
  arrive(input: RunInput): void {
    if (this.closed) return;
    this.counts.read += 1;
    const line = input.value;
    switch (line.kind) {
      case 'blank':
        this.counts.delivered += 1;
        this.release(input);
        return;
      case 'malformed':
        this.skipsWaiting.set(input.entryId, input);
        this.handOver(input);
        this.deps.writeSkip(input, line.reason, false);
        return;
      case 'unreadable-halt':
      case 'halt':
        this.halted = line.kind === 'unreadable-halt' || line.halted;
        this.haltsWaiting.push(input);
        if (line.kind === 'unreadable-halt') this.skipsWaiting.set(input.entryId, input);
        this.handOver(input);
        if (line.kind === 'unreadable-halt') this.deps.writeSkip(input, line.reason, true);
        this.settleHalts();
        return;
      case 'signal':
      case 'close': {
        const key = keyOf(line) ?? '';
        if (this.active.has(key)) {
          const queue = this.held.get(key) ?? [];
          queue.push(input);
          this.held.set(key, queue);
          return;
        }
        this.start(key, input);
        return;
      }
    }
  }

  /** The journal answered a write (see `ackOnJournal`). */
  answered(answer: JournalAnswer): void {
    if (answer.kind === 'halt') {
      if (answer.outcome === 'recorded') {
        this.committedHalt = answer.halted;
        this.settleHalts();
      }
      return;
    }
    const key = `${answer.kind}:${answer.id}`;
    const tracked = this.active.get(key);
    if (tracked?.phase !== 'delivered') return;
    if (answer.outcome === 'failed') {
      // Its REJECTED (`journal: …; not sent`) follows; the key is held until it is written, so it is not taken
      // for the next entry with this id.
      tracked.phase = 'failed';
      return;
    }
    this.release(tracked.input);
    this.free(key);
  }

  /** A report is on the reports stream. */
  reportWritten(report: ExecutionReport): void {
    const key = rejectionKey(report);
    const tracked = key === null ? undefined : this.active.get(key);
    if (key === null || tracked === undefined || tracked.phase === 'checking') return;
    if (tracked.phase === 'delivered') this.release(tracked.input);
    else this.deps.log.warn(`bus: ${entryLabel(tracked.input)} left unacknowledged: the journal could not write it; it is delivered again at the next start`);
    this.free(key);
  }

  /** A skipped line's report is on the reports stream. */
  skipWritten(input: RunInput): void {
    if (!this.skipsWaiting.delete(input.entryId)) return;
    if (!this.haltsWaiting.includes(input)) this.release(input);
  }

  /** Stops: nothing more is delivered or released; what waits stays unacknowledged (delivered again at the next start). */
  close(): LedgerCounts {
    this.closed = true;
    this.lookups.unsubscribe();
    const waiting = new Set<string>([
      ...[...this.active.values()].map((tracked) => tracked.input.entryId),
      ...[...this.held.values()].flat().map((input) => input.entryId),
      ...this.haltsWaiting.map((input) => input.entryId),
      ...this.skipsWaiting.keys(),
    ]);
    return { ...this.counts, waiting: waiting.size };
  }

  private start(key: string, input: RunInput): void {
    const tracked: Tracked = { input, phase: 'checking' };
    this.active.set(key, tracked);
    if (input.delivery === 'new') {
      tracked.phase = 'delivered';
      this.handOver(input);
      return;
    }
    this.lookups.add(
      this.journaled(input).subscribe((journaled) => {
        if (this.closed) return;
        if (journaled) {
          this.deps.log.info(`bus: ${entryLabel(input)} is journaled already: acknowledged, not handled again`);
          this.counts.dropped += 1;
          this.release(input);
          this.free(key);
          return;
        }
        tracked.phase = 'delivered';
        this.handOver(input);
      }),
    );
  }

  /** Whether the journal holds the entry's id; a lookup that fails says no (the handler's own check decides then). */
  private journaled(input: RunInput): Observable<boolean> {
    const line = input.value;
    const found$ =
      line.kind === 'signal'
        ? this.deps.journal.signal(line.signal.signalId).pipe(map((signal) => signal !== null))
        : line.kind === 'close'
          ? this.deps.journal.closeCommands().pipe(map((commands) => commands.some((command) => command.commandId === line.command.commandId)))
          : of(false);
    return found$.pipe(
      catchError((error: unknown) => {
        this.deps.log.warn(`bus: could not look up ${entryLabel(input)} in the journal: ${error instanceof Error ? error.message : String(error)}`);
        return of(false);
      }),
    );
  }

  private handOver(input: RunInput): void {
    this.counts.delivered += 1;
    this.deps.deliver(input);
  }

  private settleHalts(): void {
    if (this.committedHalt !== this.halted || this.haltsWaiting.length === 0) return;
    const settled = this.haltsWaiting;
    this.haltsWaiting = [];
    for (const input of settled) if (!this.skipsWaiting.has(input.entryId)) this.release(input);
  }

  private release(input: RunInput): void {
    if (this.closed) return;
    this.counts.released += 1;
    this.deps.ack(input);
  }

  /** The key's entry is settled: the next one with the same id, if any, goes on. */
  private free(key: string): void {
    this.active.delete(key);
    const queue = this.held.get(key);
    const next = queue?.shift();
    if (queue !== undefined && queue.length === 0) this.held.delete(key);
    if (next !== undefined) this.start(key, next);
  }
}
