import { type Readable } from 'node:stream';
import { type Observable, fromEvent, map, merge } from 'rxjs';
import { type IdleClock } from '../time/idle-clock';
import { type TextSink } from './logging';

/**
 * What the CLI touches of its process, passed in so tests can run `main` in-process: capture the output, give
 * an environment, and ask it to stop as SIGINT would.
 */
export interface CliIo {
  readonly stdout: TextSink;
  readonly stderr: TextSink;
  readonly stdin: Readable;
  readonly env: Readonly<Record<string, string | undefined>>;
  /**
   * Emits the name of each stop request (`SIGINT`, `SIGTERM`). Subscribing installs the handlers, so the
   * process no longer dies on Ctrl-C but stops gracefully; unsubscribing restores the default.
   */
  readonly stopRequests: Observable<string>;
  /** The wall clock (log prefixes, the demo's scaled clock). */
  readonly now: () => number;
  /**
   * A virtual clock for the whole run instead of real time: the handler's scheduler, the client's timers and an
   * embedded paper exchange all on it, every request to that exchange through it. Tests pass one so a run's
   * waits pass in virtual time; a process never has one.
   */
  readonly clock?: IdleClock;
}

/** The clock a run's logs and reports are stamped with: the run's virtual clock when it has one. */
export const runNow = (io: CliIo): (() => number) => (io.clock ? () => (io.clock as IdleClock).now() : io.now);

export function processIo(): CliIo {
  return {
    stdout: process.stdout,
    stderr: process.stderr,
    stdin: process.stdin,
    env: process.env,
    stopRequests: merge(
      fromEvent(process, 'SIGINT').pipe(map(() => 'SIGINT')),
      fromEvent(process, 'SIGTERM').pipe(map(() => 'SIGTERM')),
    ),
    now: Date.now,
  };
}

/**
 * Listens for stop requests from now on (so Ctrl-C during start-up is not lost and does not kill the process
 * half-way); `requested` resolves with the first one. Call `release()` when done to restore the defaults.
 */
export function stopRequested(io: CliIo): { readonly requested: Promise<string>; release(): void } {
  let resolveRequested: (signal: string) => void = () => undefined;
  const requested = new Promise<string>((resolve) => {
    resolveRequested = resolve;
  });
  const subscription = io.stopRequests.subscribe({ next: (signal) => resolveRequested(signal) });
  return { requested, release: () => subscription.unsubscribe() };
}
