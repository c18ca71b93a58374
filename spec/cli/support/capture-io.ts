import { Readable } from 'node:stream';
import { NEVER } from 'rxjs';
import { type CliIo } from '../../../src/cli/io';
import { type IdleClock } from '../../../src/time/idle-clock';

/** What a spec's CLI run writes, kept. */
export type CapturedIo = CliIo & { readonly out: () => string; readonly err: () => string };

export interface CaptureOptions {
  readonly env?: Record<string, string>;
  /** Runs on this idle clock (virtual time); default the real one. */
  readonly clock?: IdleClock;
  readonly now?: () => number;
}

/** A CliIo with no input and no stop request that records what the program writes to stdout and stderr. */
export function captureIo(options: CaptureOptions = {}): CapturedIo {
  let out = '';
  let err = '';
  return {
    stdout: { write: (text: string) => (out += text) },
    stderr: { write: (text: string) => (err += text) },
    stdin: Readable.from([]),
    env: options.env ?? {},
    stopRequests: NEVER,
    now: options.now ?? Date.now,
    ...(options.clock ? { clock: options.clock } : {}),
    out: () => out,
    err: () => err,
  };
}
