import { hostname } from 'node:os';
import { EMPTY, type Observable, concatMap, lastValueFrom, map, of, tap } from 'rxjs';
import { type RedisBus, busOptionsProblem, openRedisBus } from '../bus/redis-bus';
import { publishLines } from '../bus/publish';
import { type PublishArgs, UsageError } from './args';
import { inputLines, parseInputLine, signalsSourceProblem } from './input';
import { type CliIo } from './io';
import { printable } from './printable';

/** A line that is not right, and why (the parser's reason names the field); `published`: it went out all the same. */
export interface BadLine {
  readonly line: number;
  readonly reason: string;
  readonly published: boolean;
}

/**
 * The lines worth publishing: each checked with `parseInputLine`, as `run` would read it. Blank and `#` lines
 * are left out. A line `run` would skip is not published; a halt line that cannot be read is published all the
 * same, since HALT fails closed (the handler reading it turns HALT on, as from stdin). Either way `complain`
 * hears of it, so the script that wrote it does, naming the line and the field.
 */
export const publishableLines = (lines$: Observable<string>, complain: (bad: BadLine) => void): Observable<string> =>
  lines$.pipe(
    map((raw, index) => ({ raw: raw.trim(), input: parseInputLine(raw, index + 1) })),
    concatMap(({ raw, input }) => {
      switch (input.kind) {
        case 'blank':
          return EMPTY;
        case 'malformed':
          complain({ line: input.line, reason: input.reason, published: false });
          return EMPTY;
        case 'unreadable-halt':
          complain({ line: input.line, reason: input.reason, published: true });
          return of(raw);
        case 'signal':
        case 'close':
        case 'halt':
          return of(raw);
      }
    }),
  );

/**
 * `kraken-rx publish`: JSON input lines (stdin or a file) onto an account's input stream, for scripts and the
 * demo of the bus. Prints how many lines were published to stdout; each bad line to stderr with its number and
 * reason. Exit 0 when every line was good, 1 when any was not (the good ones are published all the same).
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
  let bad = 0;
  try {
    const lines$ = publishableLines(inputLines(args.input, io.stdin), ({ line, reason, published }) => {
      bad += 1;
      if (!published) rejected += 1;
      io.stderr.write(`kraken-rx: line ${line} ${published ? 'published anyway' : 'not published'}: ${printable(reason)}\n`);
    });
    await lastValueFrom(publishLines(bus, lines$).pipe(tap(() => (published += 1))), { defaultValue: undefined });
  } finally {
    await lastValueFrom(bus.close(), { defaultValue: undefined });
  }
  io.stdout.write(`published ${published} line${published === 1 ? '' : 's'} to ${printable(bus.keys.inputs)}${rejected > 0 ? `, rejected ${rejected}` : ''}\n`);
  return bad > 0 ? 1 : 0;
}
