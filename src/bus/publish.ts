import { type Observable, type ObservableInput, concatMap, defer, from, map } from 'rxjs';
import { type RedisBus, retryConnection } from './redis-bus';

/**
 * Appends input lines to the account's input stream, one entry (`line`) each, in order.
 *
 * lines:  -a-b--c-|
 *   publishLines(bus, lines)
 * result: --A-B--C|      (A: the stream entry id of line a)
 *
 * The bus does not read the lines: validate them first (the `publish` command uses `parseInputLine`). One
 * XADD at a time (`concatMap`: a HALT line must not overtake the signal before it). A lost connection holds
 * the lines back until Redis is there again; a line whose answer was lost is appended again, which the
 * journal's `signalId` rule makes harmless. Completes after the last append; an error reply is an error.
 *
 * @param bus The open bus: whose input stream.
 * @param lines The lines, without line breaks.
 * @returns The entry id of each line appended.
 */
export function publishLines(bus: RedisBus, lines: ObservableInput<string>): Observable<string> {
  return from(lines).pipe(concatMap((line) => defer(() => bus.commands.xAdd(bus.keys.inputs, '*', { line })).pipe(retryConnection(bus), map(String))));
}
