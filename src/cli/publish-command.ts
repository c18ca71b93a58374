import { hostname } from 'node:os';
import { EMPTY, type Observable, concatMap, lastValueFrom, map, of, tap } from 'rxjs';
import { type RedisBus, busOptionsProblem, openRedisBus } from '../bus/redis-bus';
import { publishLines } from '../bus/publish';
import { type PublishArgs, UsageError } from './args';
import { inputLines, parseInputLine, signalsSourceProblem } from './input';
import { type CliIo } from './io';
import { printable } from './printable';

/** A line that will not be published, and why (the parser's reason names the field). */
export interface RejectedLine {
  readonly line: number;
  readonly reason: string;
}

/**
 * The lines worth publishing: each checked with `parseInputLine`, as `run` would read it. Blank and `#` lines
 * are left out; a line `run` would skip (or read as an unreadable HALT) is not published but handed to
 * `reject`, so the script that wrote it hears of it, naming the line and the field.
 */
export const publishableLines = (lines$: Observable<string>, reject: (rejected: RejectedLine) => void): Observable<string> =>
  lines$.pipe(
    map((raw, index) => ({ raw: raw.trim(), input: parseInputLine(raw, index + 1) })),
    concatMap(({ raw, input }) => {
      switch (input.kind) {
        case 'blank':
          return EMPTY;
        case 'malformed':
        case 'unreadable-halt':
          reject({ line: input.line, reason: input.reason });
          return EMPTY;
        case 'signal':
        case 'close':
        case 'halt':
          return of(raw);
      }
    }),
  );

/**
 * `kraken-rx publish`: JSON input lines (stdin or a file) onto an account's input stream, for scripts and the
 * demo of the bus. Prints how many lines were published to stdout; each rejected line to stderr with its
 * number and reason. Exit 0 when every line was published, 1 when any was rejected (the others are published).
 */
export async function publishCommand(args: PublishArgs, io: CliIo): Promise<number> {
  const options = { url: args.bus, account: args.account, consumer: `publish-${hostname()}-${process.pid}`.replace(/[^A-Za-z0-9_.:-]/g, '_') };
  const problem = busOptionsProblem(options);
  if (problem !== null) throw new UsageError(problem.replace(/^bus account/, '--account').replace(/^the bus URL/, '--bus'), 'publish');
  const sourceProblem = signalsSourceProblem(args.input);
  if (sourceProblem !== null) throw new UsageError(`--input ${sourceProblem}`, 'publish', false);
  const bus: RedisBus = await openRedisBus(options);
  let published = 0;
  let rejected = 0;
  try {
    const lines$ = publishableLines(inputLines(args.input, io.stdin), ({ line, reason }) => {
      rejected += 1;
      io.stderr.write(`kraken-rx: line ${line} not published: ${printable(reason)}\n`);
    });
    await lastValueFrom(publishLines(bus, lines$).pipe(tap(() => (published += 1))), { defaultValue: undefined });
  } finally {
    await lastValueFrom(bus.close(), { defaultValue: undefined });
  }
  io.stdout.write(`published ${published} line${published === 1 ? '' : 's'} to ${printable(bus.keys.inputs)}${rejected > 0 ? `, rejected ${rejected}` : ''}\n`);
  return rejected > 0 ? 1 : 0;
}
