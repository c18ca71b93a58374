import { randomBytes } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { Subject } from 'rxjs';
import { type CliIo } from '../../src/cli/io';
import { demoCommand } from '../../src/cli/demo';
import { main } from '../../src/cli/main';
import { type PaperExchange, startPaperExchange } from '../../src/paper';
import { IdleClock } from '../../src/time/idle-clock';

/**
 * A CliIo that records what the program writes and lets the test send SIGINT. Runs happen on its idle clock:
 * the handler, the client and the paper exchange wait in virtual time, so nothing here depends on the machine's load.
 */
function testIo(env: Record<string, string> = {}, stdinLines: string[] = [], clock: IdleClock = new IdleClock()): CliIo & {
  clock: IdleClock;
  out: () => string;
  err: () => string;
  interrupt: (signal?: string) => void;
} {
  let out = '';
  let err = '';
  const stops = new Subject<string>();
  return {
    stdout: { write: (text: string) => (out += text) },
    stderr: { write: (text: string) => (err += text) },
    stdin: Readable.from(stdinLines.map((line) => `${line}\n`)),
    env,
    stopRequests: stops.asObservable(),
    now: Date.now,
    clock,
    out: () => out,
    err: () => err,
    interrupt: (signal = 'SIGINT') => stops.next(signal),
  };
}

const dir = mkdtempSync(join(tmpdir(), 'kraken-rx-main-'));
const writeFile = (name: string, content: string): string => {
  const path = join(dir, name);
  writeFileSync(path, content);
  return path;
};

/** Settings for a run: a fast monitor (in virtual ms) at the pro tier. No price band: these signals rest and stop far
 * from the market on purpose. */
const fastConfig = writeFile(
  'fast.json',
  JSON.stringify({ monitor: { minIntervalMs: 150, maxIntervalMs: 1000 }, protection: { takeProfitPollMs: 200 }, exchange: { tier: 'pro' }, entry: { maxPriceDeviation: null } }),
);

let journals = 0;
/** A fresh journal file for one live run (each test's paper exchange is a new account). */
const journalFile = (): string => {
  journals += 1;
  return join(dir, `journal-${journals}.db`);
};

/** Lets the run's clock time pass until `promise` settles (an hour of it at most), then returns its outcome. */
const drive = <T>(clock: IdleClock, promise: Promise<T>): Promise<T> => clock.drive(promise, 3_600_000);

/** Lets the run's clock time pass until `condition` holds; fails after ten minutes of it. */
async function runUntil(clock: IdleClock, condition: () => boolean, what: string): Promise<void> {
  if (!(await clock.runUntil(condition, 600_000))) throw new Error(`gave up waiting for ${what}`);
}

/** For the `paper` command, which serves real time: waits for its output, polling briefly. */
const waitUntil = async (condition: () => boolean, what: string, ms = 5000): Promise<void> => {
  const start = Date.now();
  while (!condition()) {
    if (Date.now() - start > ms) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
};

describe('main: help and usage errors', () => {
  it('prints the help and exits 0', async () => {
    const io = testIo();
    await expect(main(['--help'], io)).resolves.toBe(0);
    expect(io.out()).toMatch(/^Usage: kraken-rx <command>/);
    const runHelp = testIo();
    await expect(main(['run', '--help'], runHelp)).resolves.toBe(0);
    expect(runHelp.out()).toContain('--validate-only');
  });

  it('refuses an unknown flag with exit code 2 and says where to look', async () => {
    const io = testIo();
    await expect(main(['run', '--paper', '--dry-run'], io)).resolves.toBe(2);
    expect(io.err()).toContain('kraken-rx: unknown flag --dry-run for `kraken-rx run`');
    expect(io.err()).toContain('See `kraken-rx run --help`.');
    expect(io.out()).toBe('');
  });

  it('refuses an unknown command with exit code 2', async () => {
    const io = testIo();
    await expect(main(['trade'], io)).resolves.toBe(2);
    expect(io.err()).toContain('unknown command "trade"');
  });

  it('names the bad config key and exits 1', async () => {
    const io = testIo();
    const bad = writeFile('bad.json', JSON.stringify({ retry: { jitter: 1.5 } }));
    await expect(main(['run', '--paper', '--config', bad, '--signals', '-'], io)).resolves.toBe(1);
    expect(io.err()).toContain('config.retry.jitter: expected a number between 0 and 1, got 1.5');
  });
});

describe('main: run refuses a bad command line before the exchange starts', () => {
  it.each([
    ['a missing file', join(dir, 'no-such.jsonl'), /^kraken-rx: --signals: cannot read ".*no-such\.jsonl": no such file \(ENOENT\)\n$/],
    ['a directory', dir, /^kraken-rx: --signals: cannot read ".*": it is a directory\n$/],
  ])('refuses --signals naming %s in one line, exit 2, no exchange started', async (_what, path, message) => {
    const io = testIo();
    await expect(main(['run', '--paper', '--signals', path], io)).resolves.toBe(2);
    expect(io.err()).toMatch(message);
    expect(io.out()).toBe('');
  });

  it('refuses a bad --url naming the flag, not config.json, exit 2', async () => {
    const io = testIo({ KRAKEN_API_KEY: 'k', KRAKEN_API_SECRET: randomBytes(64).toString('base64') });
    await expect(main(['run', '--url', '127.0.0.1:8700', '--signals', '-'], io)).resolves.toBe(2);
    expect(io.err()).toBe('kraken-rx: --url expected an http:// or https:// URL, got "127.0.0.1:8700"\nSee `kraken-rx run --help`.\n');
  });
});

describe('main: live credentials', () => {
  const signals = writeFile('one.jsonl', '{"signalId":"s","pair":"BTC/USD","side":"buy","orderType":"market","quantity":"0.01"}\n');

  it('refuses to start without credentials, naming the variable', async () => {
    const io = testIo({});
    await expect(main(['run', '--url', 'http://127.0.0.1:9', '--signals', signals], io)).resolves.toBe(1);
    expect(io.err()).toContain('KRAKEN_API_KEY is not set');
    expect(io.err()).toContain('--paper');
  });

  it('refuses a malformed secret without ever printing it', async () => {
    const secret = `${randomBytes(32).toString('base64')}`; // valid base64, but 32 bytes instead of 64
    const io = testIo({ KRAKEN_API_KEY: 'key-abc', KRAKEN_API_SECRET: secret });
    await expect(main(['run', '--url', 'http://127.0.0.1:9', '--signals', signals], io)).resolves.toBe(1);
    expect(io.err()).toContain('KRAKEN_API_SECRET');
    expect(io.err()).toContain('32 bytes');
    expect(io.err() + io.out()).not.toContain(secret);
  });

  it('refuses a secret that is not base64, without printing it', async () => {
    const secret = 'not base64 at all!! hunter2';
    const io = testIo({ KRAKEN_API_KEY: 'key-abc', KRAKEN_API_SECRET: secret });
    await expect(main(['run', '--signals', signals, '--config', writeFile('live.json', '{"mode":"live"}')], io)).resolves.toBe(1);
    expect(io.err()).toContain('not valid base64');
    expect(io.err() + io.out()).not.toContain('hunter2');
  });
});

describe('main: paper', () => {
  it('prints url, apiKey and apiSecret as its first stdout line, serves, and stops on SIGINT with exit 0', async () => {
    const io = testIo();
    const exit = main(['paper', '--port', '0', '--tier', 'pro', '--seed', '7'], io);
    await waitUntil(() => io.out().includes('\n'), 'the first line');
    const first = io.out().split('\n')[0] ?? '';
    const announced = JSON.parse(first) as { url: string; apiKey: string; apiSecret: string };
    expect(Object.keys(announced)).toEqual(['url', 'apiKey', 'apiSecret']);
    expect(announced.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    expect(Buffer.from(announced.apiSecret, 'base64')).toHaveLength(64);
    const response = await fetch(`${announced.url}/0/public/Time`);
    expect(((await response.json()) as { error: unknown[] }).error).toEqual([]);
    io.interrupt();
    await expect(exit).resolves.toBe(0);
    expect(io.err()).toContain('SIGINT: closing the paper exchange');
    // The only place the paper secret appears is the first line, on purpose.
    expect(io.err()).not.toContain(announced.apiSecret);
    await expect(fetch(`${announced.url}/0/public/Time`)).rejects.toThrow();
  });

  it('uses the key and secret it is given, checked like live ones', async () => {
    const secret = randomBytes(64).toString('base64');
    const io = testIo();
    const exit = main(['paper', '--api-key', 'my-paper-key', '--api-secret', secret], io);
    await waitUntil(() => io.out().includes('\n'), 'the first line');
    expect(JSON.parse(io.out().split('\n')[0] ?? '')).toMatchObject({ apiKey: 'my-paper-key', apiSecret: secret });
    io.interrupt('SIGTERM');
    await expect(exit).resolves.toBe(0);

    const bad = testIo();
    await expect(main(['paper', '--api-key', 'k', '--api-secret', 'c2VjcmV0'], bad)).resolves.toBe(2);
    expect(bad.err()).toContain('decodes to 6 bytes');
    expect(bad.err()).not.toContain('c2VjcmV0');
  });
});

describe('main: run --paper', () => {
  it('starts the embedded paper exchange, runs the input and closes it again', async () => {
    const signals = writeFile('paper-run.jsonl', '{"signalId":"p1","pair":"ETH/USD","side":"buy","orderType":"limit","quantity":"-2","limitPrice":"100"}\n');
    const io = testIo();
    await expect(drive(io.clock, main(['run', '--paper', '--config', fastConfig, '--signals', signals], io))).resolves.toBe(0);
    expect(io.out()).toMatch(/\[p1\] entry +ETH\/USD +buy +limit +REJECTED .*quantity/);
    const url = /paper exchange started on (http:\/\/127\.0\.0\.1:\d+)/.exec(io.err())?.[1];
    expect(url).toBeDefined();
    await expect(fetch(`${url ?? ''}/0/public/Time`)).rejects.toThrow();
  });
});

describe('main: run against a paper exchange over loopback HTTP', () => {
  let paper: PaperExchange;
  let clock: IdleClock;
  beforeEach(async () => {
    clock = new IdleClock();
    paper = await startPaperExchange({ tier: 'pro', seed: 3, clock: () => clock.now(), timers: clock.waitTimers });
  });
  afterEach(async () => {
    await paper.close();
  });

  it('runs signals from a file like `kraken-rx paper` + `kraken-rx run --url` in two terminals, and never prints the secret', async () => {
    const signals = writeFile(
      'session.jsonl',
      [
        '# a comment line',
        '{"signalId":"m1","pair":"BTC/USD","side":"buy","orderType":"market","quantity":0.01,"stopLoss":"50000"}',
        '{"signalId":"bad","pair":"BTC/USD","side":"buy","orderType":"market"}',
        '{"type":"halt","halted":true}',
        '{"signalId":"h1","pair":"BTC/USD","side":"buy","orderType":"market","quantity":"0.01"}',
        '{"type":"halt","halted":false}',
        '{"signalId":"r1","pair":"BTC/USD","side":"buy","orderType":"market","quantity":"0.00000001"}',
      ].join('\n'),
    );
    const io = testIo({ KRAKEN_API_KEY: paper.apiKey, KRAKEN_API_SECRET: paper.apiSecret }, [], clock);
    const code = await drive(clock, main(['run', '--url', paper.url, '--config', fastConfig, '--journal', journalFile(), '--signals', signals, '--log-level', 'debug'], io));
    expect(code).toBe(0);
    const out = io.out();
    expect(out).toMatch(/\[m1\] entry +\S+ +buy +market +FILLED +0\.01\/0\.01/);
    expect(out).toMatch(/\[m1\] stop-loss +\S+ +sell +stop-loss +NEW +0\/0\.01 stop 50000/);
    expect(out).toMatch(/\[h1\] entry .* REJECTED .*halt/i);
    expect(out).toMatch(/\[r1\] entry .* REJECTED .*order minimum/);
    expect(out).toContain('Protection left resting: stop-loss');
    expect(out).toMatch(/^input line 3 skipped: "quantity" is missing$/m);
    expect(out).toContain('Input lines skipped: 1');
    // The stop-loss was left resting on the exchange, as stop() promises.
    expect(paper.inspect.openOrders().map((o) => o.orderType)).toEqual(['stop-loss']);
    expect(out + io.err()).not.toContain(paper.apiSecret);
  });

  it('prints JSON lines with --json, reading stdin, and places nothing with --validate-only', async () => {
    const io = testIo({ KRAKEN_API_KEY: paper.apiKey, KRAKEN_API_SECRET: paper.apiSecret }, [
      '{"signalId":"v1","pair":"XBTUSD","side":"buy","orderType":"limit","quantity":"0.01","limitPrice":"50000"}',
    ], clock);
    const code = await drive(clock, main(['run', '--url', paper.url, '--config', fastConfig, '--json', '--validate-only'], io));
    expect(code).toBe(0);
    const lines = io.out().trim().split('\n').map((line) => JSON.parse(line) as Record<string, unknown>);
    const summary = lines.pop();
    expect(summary).toMatchObject({ type: 'summary' });
    expect(lines.length).toBeGreaterThan(0);
    expect(lines.every((line) => line['signalId'] === 'v1' && typeof line['quantityFilled'] === 'string')).toBe(true);
    expect(lines.at(-1)).toMatchObject({ status: 'CANCELED', reason: expect.stringMatching(/validate only/) as unknown });
    expect(paper.inspect.orders()).toHaveLength(0);
    // Nothing is placed, so nothing is journaled where the real run would find these signal ids.
    expect(io.err()).toContain('journal: in memory (validate only: nothing is placed, so nothing is kept)');
  });

  it('on a second Ctrl-C exits 130 and names the orders that may still be live on the exchange', async () => {
    const stdin = new Readable({ read: () => undefined });
    const base = testIo({ KRAKEN_API_KEY: paper.apiKey, KRAKEN_API_SECRET: paper.apiSecret }, [], clock);
    const io = { ...base, stdin };
    const exit = main(['run', '--url', paper.url, '--config', fastConfig, '--journal', journalFile(), '--signals', '-', '--log-level', 'silent'], io);
    stdin.push('{"signalId":"w2","pair":"BTC/USD","side":"buy","orderType":"limit","quantity":"0.01","limitPrice":"40000","timeoutMs":600000}\n');
    await runUntil(clock, () => paper.inspect.openOrders().length === 1 && base.out().includes('NEW'), 'the limit order to rest');
    const resting = paper.inspect.openOrders()[0];
    base.interrupt();
    base.interrupt();
    await expect(drive(clock, exit)).resolves.toBe(130);
    const lines = base.err().split('\n');
    expect(lines).toContain('kraken-rx: these orders may still be live on the exchange (check them there):');
    expect(lines.find((line) => line.includes('w2 entry'))).toMatch(
      new RegExp(`^kraken-rx:   w2 entry BTC/USD buy limit (NEW|PENDING_CANCEL) 0/0\\.01 \\(txid ${resting?.txid ?? '?'}, cl_ord_id ${resting?.clOrdId ?? '?'}\\)$`),
    );
  });

  it('stops gracefully on SIGINT while reading stdin, prints the summary and exits 0', async () => {
    const stdin = new Readable({ read: () => undefined });
    const io = { ...testIo({ KRAKEN_API_KEY: paper.apiKey, KRAKEN_API_SECRET: paper.apiSecret }, [], clock), stdin };
    const base = testIo();
    const interruptible = { ...io, stopRequests: base.stopRequests };
    const exit = main(['run', '--url', paper.url, '--config', fastConfig, '--journal', journalFile(), '--signals', '-'], interruptible);
    stdin.push('{"signalId":"w1","pair":"BTC/USD","side":"buy","orderType":"limit","quantity":"0.01","limitPrice":"40000","timeoutMs":600000}\n');
    await runUntil(clock, () => paper.inspect.openOrders().length === 1, 'the limit order to rest');
    base.interrupt();
    await expect(drive(clock, exit)).resolves.toBe(0);
    // A working entry is cancelled at stop (it could otherwise fill unprotected after the process is gone).
    expect(paper.inspect.openOrders()).toHaveLength(0);
    expect(io.out()).toContain('Summary');
  });
});

describe('demo', () => {
  it('shows every path and exits 0 (on the idle clock in place of the demo\'s accelerated one)', async () => {
    const io = testIo();
    await expect(drive(io.clock, demoCommand({ command: 'demo', json: false }, io))).resolves.toBe(0);
    const out = io.out();
    expect(out).toMatch(/\[market-1\] stop-loss .* NEW /);
    expect(out).toMatch(/\[limit-2\] entry .* PARTIALLY_FILLED +0\.5\/1\.2/);
    expect(out).toMatch(/\[limit-3\] entry .* CANCELED +0\.5\/0\.8/);
    expect(out).toMatch(/\[limit-3\] stop-loss .* NEW +0\/0\.5 /);
    expect(out).toMatch(/\[stop-4\] stop-loss .* FILLED /);
    expect(out).toMatch(/\[take-5\] stop-loss .* CANCELED /);
    expect(out).toMatch(/\[take-5\] take-profit .* FILLED /);
    expect(out).toMatch(/\[halted-6\] entry .* REJECTED /);
    expect(out).toMatch(/\[invalid-7\] entry .* REJECTED .*order minimum/);
    expect(out).toMatch(/\[close-8\] close .* FILLED /);
    expect(out).toContain('Open positions: none');
  });
});
