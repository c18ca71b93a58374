import { existsSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { firstValueFrom } from 'rxjs';
import { UsageError } from '../../src/cli/args';
import { type CliIo } from '../../src/cli/io';
import { captureIo } from './support/capture-io';
import { main } from '../../src/cli/main';
import { openRunJournal, planJournal } from '../../src/cli/run-journal';
import { defaultConfig, loadConfig, parseConfig } from '../../src/config/config';
import { accountFingerprint } from '../../src/journal/account';
import { openSqliteJournal, readJournalAccount } from '../../src/journal/sqlite';
import { JournalError } from '../../src/model/journal';
import { type PaperExchange, startPaperExchange } from '../../src/paper';
import { IdleClock } from '../../src/time/idle-clock';

const ACCOUNT = accountFingerprint('RUN-JOURNAL-SPEC-KEY');
const OTHER = accountFingerprint('SOMEONE-ELSE');

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'kraken-rx-run-journal-'));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

const liveConfig = loadConfig(undefined, { mode: 'live' });
const paperConfig = loadConfig(undefined, { mode: 'paper' });

describe('planJournal', () => {
  it('journals to config journal.path (kraken-rx.db by default) in the working directory, or to --journal', () => {
    expect(liveConfig.journal.path).toBe('kraken-rx.db');
    expect(planJournal({}, liveConfig, '/work/here')).toEqual({ kind: 'file', path: '/work/here/kraken-rx.db' });
    expect(planJournal({ journal: 'other.db' }, liveConfig, '/work/here')).toEqual({ kind: 'file', path: '/work/here/other.db' });
    expect(planJournal({ journal: '/abs/j.db' }, liveConfig, '/work/here')).toEqual({ kind: 'file', path: '/abs/j.db' });
    const configured = loadConfig(undefined, { mode: 'live', journal: { path: 'data/trading.db' } });
    expect(planJournal({}, configured, '/work/here')).toEqual({ kind: 'file', path: '/work/here/data/trading.db' });
  });

  it('uses memory for --no-journal, and a temporary file for the embedded paper exchange', () => {
    expect(planJournal({ noJournal: true }, liveConfig)).toEqual({ kind: 'memory', why: 'no-journal' });
    expect(planJournal({ noJournal: true }, paperConfig)).toEqual({ kind: 'memory', why: 'no-journal' });
    expect(planJournal({}, paperConfig)).toEqual({ kind: 'temporary' });
  });

  it('journals a validate-only run in memory: its signal ids must not make the real run duplicates', () => {
    const validateOnly = loadConfig(undefined, { mode: 'live', exchange: { validateOnly: true } });
    expect(planJournal({}, validateOnly)).toEqual({ kind: 'memory', why: 'validate-only' });
    expect(() => planJournal({ journal: 'keep.db' }, validateOnly)).toThrow('--journal: a validate-only run places nothing, so it journals nothing (in memory only)');
  });

  it('refuses --journal with the embedded paper exchange: its account is new every run', () => {
    expect(() => planJournal({ journal: 'keep.db' }, paperConfig)).toThrow(UsageError);
    expect(() => planJournal({ journal: 'keep.db' }, paperConfig)).toThrow(/^--journal: the embedded paper exchange is a new account every run/);
  });
});

describe('config journal.path', () => {
  it('is optional: a complete config without a journal section journals to kraken-rx.db', () => {
    const { journal, ...withoutJournal } = defaultConfig();
    expect(journal).toEqual({ path: 'kraken-rx.db' });
    expect(parseConfig(withoutJournal).journal).toEqual({ path: 'kraken-rx.db' });
    expect(parseConfig({ ...withoutJournal, journal: { path: '/var/lib/kraken-rx/live.db' } }).journal.path).toBe('/var/lib/kraken-rx/live.db');
    expect(() => parseConfig({ ...withoutJournal, journal: {} })).toThrow('config.journal.path: missing');
  });

  it('names the field when it is wrong', () => {
    expect(() => loadConfig(undefined, { journal: { path: '' } })).toThrow('config.journal.path: expected a non-empty file path, got ""');
    expect(() => loadConfig(undefined, { journal: { path: 7 } })).toThrow('config.journal.path: expected a non-empty file path, got 7');
    expect(() => loadConfig(undefined, { journal: { path: 'a\nb' } })).toThrow('config.journal.path: expected a non-empty file path');
    expect(() => loadConfig(undefined, { journal: { file: 'x.db' } })).toThrow('config.journal.file: unknown key (known keys: path)');
    expect(() => loadConfig(undefined, { journal: 'x.db' })).toThrow('config.journal: expected an object, got "x.db"');
  });
});

describe('openRunJournal', () => {
  it('removes a temporary journal, its directory and its WAL files at close', async () => {
    const opened = openRunJournal({ kind: 'temporary' }, ACCOUNT, dir);
    expect(opened.path).not.toBeNull();
    const path = opened.path ?? '';
    expect(dirname(dirname(path))).toBe(dir);
    expect(readJournalAccount(path)).toBe(ACCOUNT);
    expect(opened.description).toBe(`journal: temporary ${path} (the embedded paper exchange is a new account every run; removed at exit)`);
    await opened.close();
    await opened.close();
    expect(readdirSync(dir)).toEqual([]);
  });

  it('starts a temporary journal with empty rate counters: the embedded exchange is new, so they are known, not unknown', async () => {
    const opened = openRunJournal({ kind: 'temporary' }, ACCOUNT, dir);
    const file = openRunJournal({ kind: 'file', path: join(dir, 'kept.db') }, ACCOUNT);
    expect(await firstValueFrom(opened.journal.lastRateCounters())).toEqual({ at: 0, rest: 0, trading: [] });
    // A real account's earlier use is not known: no record, so the run starts from full counters.
    expect(await firstValueFrom(file.journal.lastRateCounters())).toBeNull();
    await opened.close();
    await file.close();
  });

  it('keeps nothing for memory', async () => {
    const opened = openRunJournal({ kind: 'memory', why: 'no-journal' }, ACCOUNT, dir);
    expect(opened.path).toBeNull();
    await expect(firstValueFrom(opened.journal.orders())).resolves.toEqual([]);
    await opened.close();
    expect(readdirSync(dir)).toEqual([]);
  });

  it('refuses a file of another account, naming fingerprints only', async () => {
    const path = join(dir, 'theirs.db');
    await firstValueFrom(openSqliteJournal({ path, account: OTHER }).close());
    let error: unknown;
    try {
      openRunJournal({ kind: 'file', path }, ACCOUNT);
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(JournalError);
    expect(error).toMatchObject({ kind: 'account-mismatch' });
    expect(readJournalAccount(path)).toBe(OTHER);
  });
});

describe('kraken-rx run: the journal', () => {
  let clock: IdleClock;
  let paper: PaperExchange;
  let signals: string;
  beforeEach(async () => {
    clock = new IdleClock();
    paper = await startPaperExchange({ tier: 'pro', seed: 5, clock: () => clock.now(), timers: clock.waitTimers });
    signals = join(dir, 'signals.jsonl');
    // Rejected before anything is sent: the run ends as soon as it has read the input.
    writeFileSync(signals, '{"signalId":"tiny","pair":"BTC/USD","side":"buy","orderType":"market","quantity":"0.00000001"}\n');
  });
  afterEach(async () => {
    await paper.close();
  });
  const env = (): Record<string, string> => ({ KRAKEN_API_KEY: paper.apiKey, KRAKEN_API_SECRET: paper.apiSecret });
  const run = (argv: string[], io: CliIo): Promise<number> => clock.drive(main(['run', '--url', paper.url, '--signals', signals, ...argv], io), 3_600_000);
  const configWith = (journalPath: string): string => {
    const path = join(dir, 'config.json');
    writeFileSync(path, JSON.stringify({ journal: { path: journalPath } }));
    return path;
  };

  it('journals to config journal.path under the account of the API key, says so at start, and closes it', async () => {
    const journalPath = join(dir, 'kept.db');
    const io = captureIo({ env: env(), clock });
    await expect(run(['--config', configWith(journalPath)], io)).resolves.toBe(0);
    expect(io.out()).toMatch(/\[tiny\] entry .* REJECTED/);
    expect(io.err()).toContain(`journal: ${journalPath} (account ${accountFingerprint(paper.apiKey)})`);
    expect(readJournalAccount(journalPath)).toBe(accountFingerprint(paper.apiKey));
    // Closed: a second run of the same account opens it again.
    await expect(run(['--journal', journalPath], captureIo({ env: env(), clock }))).resolves.toBe(0);
  });

  it("sums up what the position book holds after a restart: a close of an earlier run's buy leaves it flat, not short", async () => {
    const journalPath = join(dir, 'kept.db');
    writeFileSync(signals, '{"signalId":"b1","pair":"BTC/USD","side":"buy","orderType":"market","quantity":"0.01","stopLoss":"57000"}\n');
    const first = captureIo({ env: env(), clock });
    await expect(run(['--journal', journalPath, '--log-level', 'silent'], first)).resolves.toBe(0);
    expect(first.out()).toMatch(/Open positions: BTC\/USD \+0\.01/);
    writeFileSync(signals, '{"type":"close","commandId":"c1","pair":"BTC/USD"}\n');
    const second = captureIo({ env: env(), clock });
    await expect(run(['--journal', journalPath, '--log-level', 'silent'], second)).resolves.toBe(0);
    expect(second.out()).toMatch(/\[c1\] close .* FILLED/);
    expect(second.out()).toContain('Open positions: none');
  });

  it('keeps a HALT across a restart: the next run starts halted from the journal until a HALT-off line', async () => {
    const journalPath = join(dir, 'kept.db');
    const buy = (id: string): string => `{"signalId":"${id}","pair":"BTC/USD","side":"buy","orderType":"market","quantity":"0.01","stopLoss":"57000"}`;
    writeFileSync(signals, `{"type":"halt","halted":true}\n${buy('h0')}\n`);
    const first = captureIo({ env: env(), clock });
    await expect(run(['--journal', journalPath, '--log-level', 'silent'], first)).resolves.toBe(0);
    expect(first.out()).toMatch(/\[h0\] entry .* REJECTED .*HALT is on/);
    writeFileSync(signals, `${buy('h1')}\n{"type":"halt","halted":false}\n${buy('h2')}\n`);
    const second = captureIo({ env: env(), clock });
    await expect(run(['--journal', journalPath], second)).resolves.toBe(0);
    expect(second.err()).toContain('HALT is on, as the journal last recorded it');
    expect(second.out()).toMatch(/\[h1\] entry .* REJECTED .*HALT is on/);
    expect(second.out()).toMatch(/\[h2\] entry .* FILLED/);
    expect(paper.inspect.orders().filter((order) => order.side === 'buy')).toHaveLength(1);
  });

  it('stops with exit 2 and one line on a journal of another account, before any order, never printing the key', async () => {
    const journalPath = join(dir, 'theirs.db');
    await firstValueFrom(openSqliteJournal({ path: journalPath, account: OTHER }).close());
    writeFileSync(signals, '{"signalId":"m1","pair":"BTC/USD","side":"buy","orderType":"market","quantity":"0.01"}\n');
    const io = captureIo({ env: env(), clock });
    await expect(run(['--journal', journalPath, '--log-level', 'silent'], io)).resolves.toBe(2);
    expect(io.err()).toBe(
      `kraken-rx: ${journalPath} is the journal of account ${OTHER}, not of ${accountFingerprint(paper.apiKey)} (the API key in use): ` +
        'use the journal of this account (--journal FILE), or start a fresh one\n',
    );
    expect(io.out()).toBe('');
    expect(io.err()).not.toContain(paper.apiKey);
    expect(io.err()).not.toContain(paper.apiSecret);
    expect(paper.inspect.orders()).toHaveLength(0);
    expect(readJournalAccount(journalPath)).toBe(OTHER);
  });

  it('writes no file with --no-journal', async () => {
    const journalPath = join(dir, 'not-written.db');
    const io = captureIo({ env: env(), clock });
    await expect(run(['--config', configWith(journalPath), '--no-journal'], io)).resolves.toBe(0);
    expect(io.err()).toContain('journal: in memory (--no-journal): nothing of this run is kept after it');
    expect(existsSync(journalPath)).toBe(false);
    expect(readdirSync(dir).sort()).toEqual(['config.json', 'signals.jsonl']);
  });
});

describe('kraken-rx run --paper: the journal', () => {
  it('uses a temporary journal and leaves no file behind', async () => {
    const clock = new IdleClock();
    const signals = join(dir, 'paper.jsonl');
    writeFileSync(signals, '{"signalId":"p1","pair":"BTC/USD","side":"buy","orderType":"market","quantity":"0.00000001"}\n');
    const io = captureIo({ env: {}, clock });
    await expect(clock.drive(main(['run', '--paper', '--signals', signals], io), 3_600_000)).resolves.toBe(0);
    const path = /journal: temporary (\S+) \(the embedded paper exchange is a new account every run; removed at exit\)/.exec(io.err())?.[1];
    expect(path).toBeDefined();
    expect(path?.startsWith(tmpdir())).toBe(true);
    expect(existsSync(path ?? '')).toBe(false);
    expect(existsSync(dirname(path ?? ''))).toBe(false);
  });

  it('refuses --journal FILE with exit 2 before the paper exchange starts', async () => {
    const io = captureIo({ clock: new IdleClock() });
    await expect(main(['run', '--paper', '--journal', join(dir, 'keep.db')], io)).resolves.toBe(2);
    expect(io.err()).toMatch(/^kraken-rx: --journal: the embedded paper exchange is a new account every run/);
    expect(io.err()).not.toContain('paper exchange started');
    expect(existsSync(join(dir, 'keep.db'))).toBe(false);
  });
});
