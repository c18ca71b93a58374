import { type Observable, filter, map } from 'rxjs';
import { type ExecutionReport, type OrderRole, type ReportStatus } from '../model/report';

/**
 * One letter per report status, the README pipeline diagram's letters: P = PENDING_NEW, N = NEW,
 * p = PARTIALLY_FILLED, F = FILLED, X = PENDING_CANCEL, C = CANCELED, E = EXPIRED, R = REJECTED, U = UNKNOWN,
 * and `*` = ERROR (not `!`: that is the unsubscription marker, which no expected marble may contain).
 */
export const STATUS_LETTERS: Readonly<Record<ReportStatus, string>> = {
  PENDING_NEW: 'P',
  NEW: 'N',
  PARTIALLY_FILLED: 'p',
  FILLED: 'F',
  PENDING_CANCEL: 'X',
  CANCELED: 'C',
  EXPIRED: 'E',
  REJECTED: 'R',
  UNKNOWN: 'U',
  ERROR: '*',
};

/** Which reports to letter: one signal's, and optionally one role's (`entry`, `stop-loss`, `take-profit`, `close`). */
export interface LetterFilter {
  readonly signalId: string;
  readonly role?: OrderRole;
}

/**
 * The statuses of one signal's reports as marble letters, so an expectation reads like the README's diagram.
 *
 * reports$:  ──a──b─────c──     (a: PENDING_NEW, b: NEW, c: FILLED, all of signal s1's entry)
 *   statusLetters(reports$, { signalId: 's1', role: 'entry' })
 * result:    ──P──N─────F──
 *
 * Two reports in one frame come out as a group (`(PN)`) in a marble. Completes and errors when `reports$` does.
 *
 * @param reports$ the handler's reports
 * @param which the signal, and optionally the role, to keep
 * @returns one letter per kept report (see `STATUS_LETTERS`)
 */
export function statusLetters(reports$: Observable<ExecutionReport>, which: LetterFilter): Observable<string> {
  return reports$.pipe(
    filter((report) => report.signalId === which.signalId && (which.role === undefined || report.role === which.role)),
    map((report) => STATUS_LETTERS[report.status]),
  );
}
