import {
  type Observable,
  type SchedulerLike,
  NEVER,
  asyncScheduler,
  map,
  startWith,
  switchMap,
  take,
  timer,
} from 'rxjs';
import { type ExecutionReport, isFinalStatus } from '../model/report';
import { type ClosePositionCommand, type TradeSignal } from '../model/signal';
import { type CancelReason } from '../streams/order-lifecycle';
import { ReportLedger } from './format';

/** The PENDING_CANCEL reason of an entry a close cancelled: whatever it filled is the close's to sell, not to protect. */
const CANCELLED_BY_CLOSE = `cancel: ${'close-position' satisfies CancelReason}`;

/**
 * What `run` waits for once its input has ended: every signal and close command answered, every order final
 * (a protective order may stay resting — that is its job), and the protection a filled entry asked for placed.
 * Without the last rule a run would end in the gap between an entry's FILLED and its stop-loss's NEW. An entry a
 * close cancelled gets no protection of its own, even if it had filled before the cancel reached it: the close sells it.
 */
export class RunTracker {
  readonly ledger = new ReportLedger();
  private readonly signals = new Map<string, TradeSignal>();
  private readonly commands = new Set<string>();
  /** signalId → roles that reported. */
  private readonly rolesSeen = new Map<string, Set<string>>();
  /** signalId → the entry's latest report. */
  private readonly entries = new Map<string, ExecutionReport>();
  /** Entries a close cancelled (by signalId): the close took their fill, no protection of their own follows. */
  private readonly takenByClose = new Set<string>();

  constructor(private readonly protectionMode: 'stop-resting' | 'both-resting') {}

  expectSignal(signal: TradeSignal): void {
    this.signals.set(signal.signalId, signal);
  }

  expectCommand(command: ClosePositionCommand): void {
    this.commands.add(command.commandId);
  }

  add(report: ExecutionReport): void {
    this.ledger.add(report);
    const roles = this.rolesSeen.get(report.signalId) ?? new Set<string>();
    roles.add(report.role);
    this.rolesSeen.set(report.signalId, roles);
    if (report.role === 'entry') this.entries.set(report.signalId, report);
    if (report.role === 'entry' && report.status === 'PENDING_CANCEL' && report.reason === CANCELLED_BY_CLOSE) this.takenByClose.add(report.signalId);
  }

  /** What the run is still waiting for, in words (empty when it may end). */
  waitingFor(): string[] {
    const waiting: string[] = [];
    for (const id of this.signals.keys()) {
      if (!this.rolesSeen.has(id)) waiting.push(`signal ${id}: no report yet`);
    }
    for (const id of this.commands) {
      if (!this.rolesSeen.has(id)) waiting.push(`close ${id}: no report yet`);
    }
    for (const report of this.ledger.inMotion()) {
      const order = report.exchangeOrderId ?? report.clientOrderId ?? '';
      waiting.push(`${report.signalId} ${report.role} ${report.status}${order === '' ? '' : ` (${order})`}`);
    }
    for (const [id, entry] of this.entries) {
      const signal = this.signals.get(id);
      if (signal === undefined || !isFinalStatus(entry.status) || !entry.quantityFilled.gt(0) || this.takenByClose.has(id)) continue;
      const roles = this.rolesSeen.get(id) ?? new Set<string>();
      // A take-profit alone is watched client-side in stop-resting mode: nothing rests, nothing to wait for.
      const wantsResting = signal.stopLoss !== undefined || (this.protectionMode === 'both-resting' && signal.takeProfit !== undefined);
      const protectionReported = roles.has('stop-loss') || roles.has('take-profit') || roles.has('close');
      if (wantsResting && !protectionReported) waiting.push(`${id} protection: not placed yet`);
    }
    return waiting;
  }

  isSettled(): boolean {
    return this.waitingFor().length === 0;
  }
}

/**
 * Emits once when a run may end: after `inputEnded$`, as soon as `isSettled()` has held for `quietMs` with no
 * new report (a report restarts the wait, so trailing reports are not cut off).
 *
 * inputEnded$: ----e-----------
 * reports$:    -r----r---r-----      (settled after the last r; quiet = 3)
 * result:      -------------(x|)
 *
 * `reports$` must be hot (shared): it is subscribed only once the input has ended. Completes after its one
 * value; never errors by itself.
 *
 * @param reports$ the run's reports, already recorded by whoever decides `isSettled`
 * @param inputEnded$ emits (or completes — see `take(1)` of a completion-only stream) when the input is over
 * @param isSettled whether nothing is in motion any more
 * @param quietMs how long it must stay settled with no report
 */
export function runSettled(
  reports$: Observable<unknown>,
  inputEnded$: Observable<unknown>,
  isSettled: () => boolean,
  quietMs: number,
  scheduler: SchedulerLike = asyncScheduler,
): Observable<void> {
  return inputEnded$.pipe(
    take(1),
    // switchMap on reads only: each report restarts the quiet wait; nothing is written here.
    switchMap(() => reports$.pipe(startWith(null))),
    switchMap(() => (isSettled() ? timer(quietMs, scheduler) : NEVER)),
    take(1),
    map(() => undefined),
  );
}
