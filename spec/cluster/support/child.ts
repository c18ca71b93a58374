import { type ChildProcessWithoutNullStreams, spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { type CompiledCli } from '../../e2e/support/crash-child';

/**
 * A child `kraken-rx` with its stderr kept (its log, each line with the real time it came) and its end awaited:
 * the failover spec's processes, and the failover bench's.
 */
export class Child {
  readonly err: string[] = [];
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  private readonly heardAt: number[] = [];
  private readonly process: ChildProcessWithoutNullStreams;

  constructor(cli: Pick<CompiledCli, 'entry'>, args: readonly string[], env: Readonly<Record<string, string>>) {
    this.process = spawn(process.execPath, [cli.entry, ...args], { env: { ...process.env, ...env }, stdio: ['pipe', 'pipe', 'pipe'] });
    this.process.stdin.end();
    this.process.stdout.resume();
    createInterface({ input: this.process.stderr }).on('line', (line) => {
      this.err.push(line);
      this.heardAt.push(Date.now());
    });
    this.exited = new Promise((resolve) => this.process.on('close', (code, signal) => resolve({ code, signal })));
  }

  said(pattern: RegExp): boolean {
    return this.err.some((line) => pattern.test(line));
  }

  /** When (real time, ms) the first line matching `pattern` came, or `null`. */
  saidAt(pattern: RegExp): number | null {
    const at = this.err.findIndex((line) => pattern.test(line));
    return at < 0 ? null : (this.heardAt[at] ?? null);
  }

  signal(name: NodeJS.Signals): void {
    if (this.process.exitCode === null && this.process.signalCode === null) this.process.kill(name);
  }
}

/** Polls `condition` every 20 ms; fails naming `what` (and what the children said) after `ms` of real time. */
export async function until(what: string, condition: () => boolean | Promise<boolean>, ms: number, children: readonly Child[] = []): Promise<void> {
  const start = Date.now();
  while (!(await condition())) {
    if (Date.now() - start > ms) {
      const logs = children.map((child, i) => `child ${i}:\n${child.err.slice(-30).join('\n')}`).join('\n');
      throw new Error(`gave up after ${ms} ms waiting for ${what}\n${logs}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}
