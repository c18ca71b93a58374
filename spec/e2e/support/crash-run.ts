import { type PaperInspector } from '../../../src/paper';
import { type ChildExit, ChildRun, type OutputLine } from './crash-child';

/**
 * One run of the crash test: a `kraken-rx run` child fed JSON lines on stdin, killed with SIGKILL when a kill trigger
 * fires, started again at once with the same input (every line written so far), until the scenario is over. Waits are
 * on conditions (exchange state, output lines) with a bounded deadline; the only timers are the kill delays of the
 * seeded random points, which choose *when* to kill, never how long to wait.
 */

/** When to kill one start of the child: the first stdout report (or n-th line, or stderr line) that matches, then `delayMs`. */
export interface KillTrigger {
  readonly label: string;
  /** A report (or any stdout JSON line) of this start that matches. */
  readonly report?: (line: OutputLine) => boolean;
  /** The n-th stdout line of this start (1-based). */
  readonly afterLines?: number;
  /** A stderr line of this start that matches (its log). */
  readonly stderr?: RegExp;
  /**
   * Called when this start is spawned; the predicate it returns is polled (every few ms) and the kill fires once it
   * holds — e.g. "the exchange has seen this start's first OpenOrders".
   */
  readonly when?: (inspect: PaperInspector) => () => boolean;
  /** Real ms after the match; 0 or absent: at once. */
  readonly delayMs?: number;
}

/** A named or seeded point: `kills[i]` applies to the i-th start of the child (the first start is 0). */
export interface KillPlan {
  readonly name: string;
  readonly kills: readonly KillTrigger[];
}

/** One SIGKILL that happened. */
export interface KillRecord {
  readonly label: string;
  /** Of the start it killed. */
  readonly start: number;
  readonly at: number;
  /** From the kill until the next start was reading its input (its `reading signals` log line); null if it never was. */
  downtimeMs: number | null;
}

/** A wait that ran out: what was awaited, and what the run looked like. */
export class StallError extends Error {
  constructor(
    readonly what: string,
    detail: string,
  ) {
    super(`stalled waiting for ${what}: ${detail}`);
    this.name = 'StallError';
  }
}

/** The log line a start prints once its journal is open and it reads stdin. */
const READING_INPUT = /reading signals from stdin/;

export interface CrashRunOptions {
  readonly entry: string;
  readonly args: readonly string[];
  readonly env: Readonly<Record<string, string>>;
  readonly plan: KillPlan;
  /** Real ms a single wait may take before it is a stall. */
  readonly deadlineMs: number;
  /** The exchange the child talks to, for `KillTrigger.when`. */
  readonly inspect: PaperInspector;
}

export class CrashRun {
  readonly starts: ChildRun[] = [];
  readonly kills: KillRecord[] = [];
  private readonly written: string[] = [];
  private inputEnded = false;
  private stopped = false;
  /** Set once a start ended on its own (not killed): no more starts. */
  private finalExit: ChildExit | null = null;
  private readonly watchers = new Set<() => void>();

  constructor(private readonly options: CrashRunOptions) {}

  get child(): ChildRun {
    const child = this.starts[this.starts.length - 1];
    if (child === undefined) throw new Error('the run has not started');
    return child;
  }

  /** The exit of the start that ended on its own, if one did. */
  get exit(): ChildExit | null {
    return this.finalExit;
  }

  /** Sum of the downtimes of every kill (an unfinished one counts until now). */
  totalDowntimeMs(now: number = Date.now()): number {
    return this.kills.reduce((sum, kill) => sum + (kill.downtimeMs ?? now - kill.at), 0);
  }

  start(): void {
    this.spawn();
  }

  /** Writes one input line, now and to every later start. */
  send(line: string): void {
    this.written.push(line);
    this.child.write(line);
  }

  /** Ends the input (stdin), now and for every later start. */
  endInput(): void {
    this.inputEnded = true;
    this.child.endInput();
  }

  /**
   * Resolves as soon as `check()` returns null (checked on every output line, every exit and every `pollMs`);
   * rejects with a StallError naming `what` and the last reason `check` gave once `deadlineMs` passes, or at once if a
   * start ended on its own (nothing more can happen).
   */
  until(what: string, check: () => string | null, deadlineMs: number = this.options.deadlineMs, pollMs = 20): Promise<void> {
    return new Promise((resolve, reject) => {
      let last = check();
      if (last === null) return resolve();
      const done = (error?: Error): void => {
        clearInterval(poll);
        clearTimeout(deadline);
        this.watchers.delete(test);
        if (error) reject(error);
        else resolve();
      };
      const test = (): void => {
        last = check();
        if (last === null) return done();
        if (this.finalExit !== null) done(new StallError(what, `${last}; the child ended on its own (${describeExit(this.finalExit)}) ${this.tail()}`));
      };
      this.watchers.add(test);
      const poll = setInterval(test, pollMs);
      const deadline = setTimeout(() => done(new StallError(what, `${last ?? 'met'} after ${deadlineMs} ms ${this.tail()}`)), deadlineMs);
    });
  }

  /** Waits for the start that ends on its own (the input is over and everything settled). */
  async finished(deadlineMs: number = this.options.deadlineMs): Promise<ChildExit> {
    await this.until('the run to end on its own', () => (this.finalExit === null ? 'still running' : null), deadlineMs);
    return this.finalExit as ChildExit;
  }

  /** Kills whatever still runs, and starts nothing more. */
  async stop(): Promise<void> {
    this.stopped = true;
    await Promise.all(this.starts.map((child) => child.kill()));
  }

  /** The last stderr lines and stdout reports of the run, for a failure message. */
  tail(): string {
    const last = this.starts[this.starts.length - 1];
    if (last === undefined) return '';
    const out = last.lines.slice(-6).map((line) => JSON.stringify(pick(line)));
    const err = last.stderr.slice(-4);
    return `(start ${this.starts.length - 1}; kills: ${this.kills.map((k) => k.label).join(', ') || 'none'}; last stdout: ${out.join(' | ')}; last stderr: ${err.join(' | ')})`;
  }

  private spawn(): void {
    const index = this.starts.length;
    const child = new ChildRun(this.options.entry, this.options.args, this.options.env);
    this.starts.push(child);
    for (const line of this.written) child.write(line);
    if (this.inputEnded) child.endInput();
    const previous = this.kills[this.kills.length - 1];
    const trigger = this.options.plan.kills[index];
    let armed = trigger !== undefined;
    const holds = trigger?.when?.(this.options.inspect);
    const check = (): void => {
      if (!armed || trigger === undefined || !(fires(trigger, child) || holds?.() === true)) return;
      armed = false;
      clearInterval(poll);
      const kill = (): void => {
        if (!child.alive || this.stopped) return;
        this.kills.push({ label: trigger.label, start: index, at: Date.now(), downtimeMs: null });
        void child.kill().then(() => {
          if (!this.stopped) this.spawn();
        });
      };
      if ((trigger.delayMs ?? 0) > 0) setTimeout(kill, trigger.delayMs);
      else kill();
    };
    const poll = holds === undefined ? undefined : setInterval(check, 5);
    child.onChange(() => {
      if (previous !== undefined && previous.downtimeMs === null && child.stderr.some((line) => READING_INPUT.test(line))) {
        previous.downtimeMs = Date.now() - previous.at;
      }
      check();
      for (const watcher of [...this.watchers]) watcher();
    });
    void child.exited.then((exit) => {
      clearInterval(poll);
      const killedHere = this.kills.some((kill) => kill.start === index);
      if (!killedHere && !this.stopped) this.finalExit = exit;
      for (const watcher of [...this.watchers]) watcher();
    });
  }
}

function fires(trigger: KillTrigger, child: ChildRun): boolean {
  if (trigger.afterLines !== undefined && child.lines.length >= trigger.afterLines) return true;
  if (trigger.report !== undefined && child.lines.some(trigger.report)) return true;
  if (trigger.stderr !== undefined && child.stderr.some((line) => (trigger.stderr as RegExp).test(line))) return true;
  return false;
}

const describeExit = (exit: ChildExit): string => (exit.signal !== null ? `signal ${exit.signal}` : `exit code ${String(exit.code)}`);

/** The fields of an output line worth repeating in a failure message. */
const pick = (line: OutputLine): Record<string, unknown> =>
  Object.fromEntries(Object.entries(line).filter(([key]) => ['type', 'text', 'signalId', 'role', 'status', 'quantityFilled', 'reason'].includes(key)));
