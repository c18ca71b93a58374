import { type ChildProcessWithoutNullStreams, execFileSync, spawn } from 'node:child_process';
import { rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';

/**
 * `kraken-rx run` as a child process for the crash test: the sources compiled once per test file into a throwaway
 * directory under the repository (so `config.json`, `package.json` and `node_modules` are found by walking up, as
 * from `dist/`), then started as often as the test likes with `node <entry> run …`, reports read from its stdout.
 */

const REPO = join(__dirname, '..', '..', '..');

/** The entry of a compiled copy of the CLI, and how to remove it. */
export interface CompiledCli {
  readonly entry: string;
  remove(): void;
}

/**
 * What a plain `node` runs to transpile `src/` (argv: src, out): under jest, loading `typescript` through the module
 * registry alone takes seconds, in a plain process a fraction of that.
 */
const TRANSPILE = `
const { mkdirSync, readFileSync, readdirSync, writeFileSync } = require('node:fs');
const { dirname, join, relative } = require('node:path');
const ts = require('typescript');
const [src, out] = process.argv.slice(1);
const walk = (dir) => readdirSync(dir, { withFileTypes: true }).flatMap((item) =>
  item.isDirectory() ? walk(join(dir, item.name)) : item.name.endsWith('.ts') ? [join(dir, item.name)] : []);
for (const file of walk(src)) {
  const { outputText } = ts.transpileModule(readFileSync(file, 'utf8'), {
    fileName: file,
    compilerOptions: { module: ts.ModuleKind.CommonJS, target: ts.ScriptTarget.ES2022, esModuleInterop: true },
  });
  const target = join(out, 'src', relative(src, file)).replace(/\\.ts$/, '.js');
  mkdirSync(dirname(target), { recursive: true });
  writeFileSync(target, outputText);
}
`;

/** What `bin/kraken-rx.js` does, on the compiled copy. */
const ENTRY = `'use strict';
const { main } = require('./src/cli/main.js');
main(process.argv.slice(2)).then(
  (code) => { process.exitCode = code; },
  (err) => { console.error(err instanceof Error ? err.message : String(err)); process.exitCode = 1; },
);
`;

/**
 * Transpiles `src/` to CommonJS (no type check: `tsc --noEmit` does that) under `.build/`, with an entry that does
 * what `bin/kraken-rx.js` does. Once per test file: a child then starts in well under a second, not the several
 * seconds of transpiling on each start.
 */
export function compileCli(): CompiledCli {
  const out = join(REPO, '.build', `crash-cli-${process.pid}`);
  rmSync(out, { recursive: true, force: true });
  execFileSync(process.execPath, ['-e', TRANSPILE, join(REPO, 'src'), out], { cwd: REPO, stdio: ['ignore', 'ignore', 'inherit'] });
  const entry = join(out, 'kraken-rx.js');
  writeFileSync(entry, ENTRY);
  return { entry, remove: () => rmSync(out, { recursive: true, force: true }) };
}

/** One JSON line of a run's stdout: a report (has `status`), a skipped line or the summary (has `type`). */
export type OutputLine = Readonly<Record<string, unknown>>;

/** How a child ended. */
export interface ChildExit {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
}

/** A started `kraken-rx run`: its output as it comes, its end, and SIGKILL. */
export class ChildRun {
  readonly lines: OutputLine[] = [];
  readonly stderr: string[] = [];
  readonly exited: Promise<ChildExit>;
  private readonly process: ChildProcessWithoutNullStreams;
  private readonly listeners = new Set<() => void>();
  private ended: ChildExit | null = null;

  constructor(entry: string, args: readonly string[], env: Readonly<Record<string, string>>) {
    this.process = spawn(process.execPath, [entry, ...args], { env: { ...process.env, ...env }, stdio: ['pipe', 'pipe', 'pipe'] });
    // A line written to a child that was just killed is lost with it: the next start is given the whole input again.
    this.process.stdin.on('error', () => undefined);
    createInterface({ input: this.process.stdout }).on('line', (line) => {
      this.lines.push(parseLine(line));
      this.notify();
    });
    createInterface({ input: this.process.stderr }).on('line', (line) => {
      this.stderr.push(line);
      this.notify();
    });
    this.exited = new Promise((resolve) => {
      this.process.on('close', (code, signal) => {
        this.ended = { code, signal };
        this.notify();
        resolve(this.ended);
      });
    });
  }

  get alive(): boolean {
    return this.ended === null;
  }

  /** Calls `listener` on every stdout or stderr line and at exit, until the returned function is called. */
  onChange(listener: () => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  write(line: string): void {
    if (this.alive && this.process.stdin.writable) this.process.stdin.write(`${line}\n`);
  }

  endInput(): void {
    if (this.alive) this.process.stdin.end();
  }

  /** SIGKILL: no handler runs, nothing is flushed, the journal is left as the last committed write left it. */
  kill(): Promise<ChildExit> {
    if (this.alive) this.process.kill('SIGKILL');
    return this.exited;
  }

  private notify(): void {
    for (const listener of [...this.listeners]) listener();
  }
}

function parseLine(line: string): OutputLine {
  try {
    const value: unknown = JSON.parse(line);
    return typeof value === 'object' && value !== null ? (value as OutputLine) : { text: line };
  } catch {
    return { text: line };
  }
}
