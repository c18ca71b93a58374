import { type MonoTypeOperatorFunction, type Observable, concatMap, defer, map } from 'rxjs';
import { formatReportJson } from '../cli/format';
import { type ExecutionReport } from '../model/report';
import { type RedisBus, retryConnection } from './redis-bus';

/** The fields of a report's stream entry: its stable id, and the report as the CLI's JSON line (Decimals as strings). */
export const reportEntry = (report: ExecutionReport): Record<string, string> => ({ reportId: report.reportId, report: formatReportJson(report) });

/** Appends one report to the account's reports stream; emits the entry id. Tried again across a lost connection. */
export const appendReport = (bus: RedisBus, report: ExecutionReport): Observable<string> =>
  defer(() => bus.commands.xAdd(bus.keys.reports, '*', reportEntry(report))).pipe(retryConnection(bus), map(String));

/**
 * Writes each report to the account's reports stream (XADD), and passes it on once it is written.
 *
 * reports: --a----b---|
 *   writeReports(bus)
 * result:  ---a----b--|       (each after its XADD has answered)
 *
 * One write at a time, in order (`concatMap`: a portfolio reads a fill before the order's FILLED). A lost
 * connection holds the writes back until Redis is there again, and a write whose answer was lost is made again,
 * so an entry may appear twice: its `reportId` field lets a consumer drop the repeat. Completes after the last
 * write when the source completes; a source error is passed on at once; an error reply from Redis is an error.
 *
 * @param bus The open bus: whose reports stream.
 * @returns The reports, unchanged, each after it is on the stream.
 */
export function writeReports(bus: RedisBus): MonoTypeOperatorFunction<ExecutionReport> {
  return concatMap((report) => appendReport(bus, report).pipe(map(() => report)));
}

/**
 * The fields of a skipped input line's entry on the reports stream: a stable id made of the input entry's id (the
 * same on every re-delivery, so a consumer drops a repeat), and the skip as a JSON line naming the entry, the
 * reason and whether HALT went on for it.
 */
export const skippedEntry = (entryId: string, reason: string, halted: boolean): Record<string, string> => ({
  reportId: `skipped:${entryId}`,
  skipped: JSON.stringify({ type: 'skipped', entryId, reason, halted }),
});

/** Appends a skipped input line's entry to the account's reports stream; emits the entry id. Tried again across a lost connection. */
export const appendSkipped = (bus: RedisBus, entryId: string, reason: string, halted: boolean): Observable<string> =>
  defer(() => bus.commands.xAdd(bus.keys.reports, '*', skippedEntry(entryId, reason, halted))).pipe(retryConnection(bus), map(String));
