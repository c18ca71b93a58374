import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from '@jest/globals';
import Database from 'better-sqlite3';
import { Decimal } from 'decimal.js';
import { firstValueFrom } from 'rxjs';
import { accountFingerprint } from '../../src/journal/account';
import { encodeSignal } from '../../src/journal/codec';
import { SCHEMA_VERSION, openSqliteJournal, readJournalAccount } from '../../src/journal/sqlite';
import { JournalError } from '../../src/model/journal';
import { type JournalHarness, journalContract } from './contract';

const pathOf = new WeakMap<JournalHarness, string>();

journalContract({
  name: 'SQLite',
  make: () => {
    const dir = mkdtempSync(join(tmpdir(), 'krx-journal-'));
    const path = join(dir, 'journal.db');
    const harness: JournalHarness = {
      open: (account) => openSqliteJournal({ path, account }),
      dispose: () => rmSync(dir, { recursive: true, force: true }),
    };
    pathOf.set(harness, path);
    return harness;
  },
  crashWriter: (harness, account, prefix) => {
    const path = pathOf.get(harness);
    if (!path) throw new Error('not a SQLite harness');
    return spawn(process.execPath, ['-r', join(__dirname, 'support', 'register-ts.js'), join(__dirname, 'support', 'crash-writer.ts'), path, account, prefix], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
  },
});

describe('SQLite journal (file)', () => {
  const ACCOUNT = accountFingerprint('API-KEY-OF-ACCOUNT-A');
  let dir: string;
  let path: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'krx-journal-'));
    path = join(dir, 'journal.db');
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  const errorOf = (work: () => unknown): unknown => {
    try {
      work();
    } catch (error: unknown) {
      return error;
    }
    throw new Error('expected a failure');
  };

  it('runs in WAL mode with synchronous=FULL unless told NORMAL, and records the schema version and the account', async () => {
    const journal = openSqliteJournal({ path, account: ACCOUNT });
    expect(journal.settings).toEqual({ journalMode: 'wal', synchronous: 'full' });
    const db = new Database(path, { readonly: true });
    try {
      expect(db.pragma('journal_mode', { simple: true })).toBe('wal');
      expect(db.pragma('user_version', { simple: true })).toBe(SCHEMA_VERSION);
      expect(db.prepare("SELECT value FROM meta WHERE key = 'account'").pluck().get()).toBe(ACCOUNT);
    } finally {
      db.close();
    }
    await firstValueFrom(journal.close());
    const normal = openSqliteJournal({ path, account: ACCOUNT, synchronous: 'normal' });
    expect(normal.settings.synchronous).toBe('normal');
    await firstValueFrom(normal.close());
  });

  it('stores money as decimal strings, never as floating-point numbers', async () => {
    const journal = openSqliteJournal({ path, account: ACCOUNT });
    await firstValueFrom(
      journal.recordSignal({
        signalId: 's1',
        receivedAt: 1,
        pair: 'XXBTZUSD',
        side: 'buy',
        orderType: 'limit',
        quantity: new Decimal('0.10000000000000000001'),
        limitPrice: new Decimal('59000.1'),
        stopLoss: null,
        takeProfit: null,
        timeoutMs: null,
      }),
    );
    await firstValueFrom(journal.close());
    const db = new Database(path, { readonly: true });
    const body: unknown = db.prepare("SELECT body FROM entries WHERE kind = 'signal'").pluck().get();
    db.close();
    expect(body).toContain('"quantity":"0.10000000000000000001"');
    const reopened = openSqliteJournal({ path, account: ACCOUNT });
    expect((await firstValueFrom(reopened.signal('s1')))?.quantity.toFixed()).toBe('0.10000000000000000001');
    await firstValueFrom(reopened.close());
  });

  it('names the entry, the column and the field of a stored value that does not parse', async () => {
    const journal = openSqliteJournal({ path, account: ACCOUNT });
    await firstValueFrom(
      journal.recordSignal({ signalId: 's1', receivedAt: 1, pair: 'XXBTZUSD', side: 'buy', orderType: 'market', quantity: new Decimal('1'), limitPrice: null, stopLoss: null, takeProfit: null, timeoutMs: null }),
    );
    const db = new Database(path);
    db.prepare("UPDATE entries SET body = json_set(body, '$.quantity', 1.5) WHERE kind = 'signal'").run();
    db.close();
    const error = await firstValueFrom(journal.signal('s1')).catch((e: unknown) => e);
    expect(error instanceof JournalError && error.kind).toBe('corrupt');
    expect(error instanceof Error && error.message).toBe('journal entry 1 (signal), column body, field quantity: expected a decimal string, found 1.5');
    await firstValueFrom(journal.close());
  });

  it('refuses a journal whose events were edited so that they no longer fold, naming the entry', async () => {
    const journal = openSqliteJournal({ path, account: ACCOUNT });
    await firstValueFrom(
      journal.recordIntent({
        clientOrderId: 'c1', signalId: 's1', role: 'entry', parentClientOrderId: null, pair: 'XXBTZUSD', side: 'buy', orderType: 'market',
        volume: new Decimal('1'), price: null, price2: null, deadlineMs: 10_000,
        duties: { stopLoss: null, takeProfit: null, limitTimeoutMs: null, protectionMode: 'stop-resting' }, createdAt: 1,
      }),
    );
    await firstValueFrom(journal.recordTransition('c1', { kind: 'sent', deadline: 5 }, 2));
    await firstValueFrom(journal.recordTransition('c1', { kind: 'ambiguous', reason: 'timeout' }, 3));
    // Someone "settles" the ambiguous order by hand: the journal must not believe it.
    const db = new Database(path);
    db.prepare(`INSERT INTO entries (kind, at, client_order_id, event, body) VALUES ('transition', 4, 'c1', 'rejected', '{"kind":"rejected","reason":"by hand"}')`).run();
    db.close();
    const error = await firstValueFrom(journal.order('c1')).catch((e: unknown) => e);
    expect(error instanceof JournalError && error.kind).toBe('corrupt');
    expect(error instanceof Error && error.message).toBe(
      'journal entry 4: rejected does not fold onto order c1 (ambiguous): the order may be live: only a lookup (found or proven absent) settles an ambiguous placement',
    );
    await firstValueFrom(journal.close());
  });

  it('refuses a file written by a newer schema, and a file that is not a journal', () => {
    openSqliteJournal({ path, account: ACCOUNT });
    const db = new Database(path);
    db.pragma(`user_version = ${SCHEMA_VERSION + 1}`);
    db.close();
    const newer = errorOf(() => openSqliteJournal({ path, account: ACCOUNT }));
    expect(newer instanceof JournalError && [newer.kind, newer.message]).toEqual([
      'schema',
      `${path} has journal schema version ${SCHEMA_VERSION + 1}; this version reads ${SCHEMA_VERSION}`,
    ]);

    const text = join(dir, 'notes.txt');
    writeFileSync(text, 'this is not a database, but it is long enough to have a header of sorts...........');
    const notJournal = errorOf(() => openSqliteJournal({ path: text, account: ACCOUNT }));
    expect(notJournal instanceof JournalError && notJournal.kind).toBe('schema');

    const other = join(dir, 'other.db');
    const foreign = new Database(other);
    foreign.exec('CREATE TABLE t (x)');
    foreign.close();
    const foreignError = errorOf(() => openSqliteJournal({ path: other, account: ACCOUNT }));
    expect(foreignError instanceof JournalError && foreignError.message).toBe(`${other} holds tables but no journal schema version: not a kraken-rx journal`);
  });

  it('migrates a version-1 file in place: every entry and its seq kept, the new kinds of entry then written after them', async () => {
    // The version-1 schema as it shipped (entries without txid, six kinds).
    const v1 = new Database(path);
    v1.exec(`
      CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL) STRICT;
      CREATE TABLE entries (
        seq INTEGER PRIMARY KEY AUTOINCREMENT,
        kind TEXT NOT NULL CHECK (kind IN ('signal', 'intent', 'transition', 'close-command', 'halt', 'rate-counters')),
        at INTEGER NOT NULL, signal_id TEXT, client_order_id TEXT, command_id TEXT, trade_id TEXT, event TEXT, body TEXT NOT NULL
      ) STRICT;
      CREATE UNIQUE INDEX entries_signal ON entries (signal_id) WHERE kind = 'signal';
      CREATE TABLE order_status (client_order_id TEXT PRIMARY KEY, final INTEGER NOT NULL CHECK (final IN (0, 1))) STRICT;
    `);
    v1.prepare("INSERT INTO meta (key, value) VALUES ('account', ?)").run(ACCOUNT);
    const signal = (signalId: string) => ({
      signalId, receivedAt: 1, pair: 'XXBTZUSD', side: 'buy' as const, orderType: 'market' as const, quantity: new Decimal('0.1'),
      limitPrice: null, stopLoss: null, takeProfit: null, timeoutMs: null,
    });
    const insert = v1.prepare("INSERT INTO entries (kind, at, signal_id, body) VALUES ('signal', 1, ?, ?)");
    insert.run('s1', encodeSignal(signal('s1')));
    insert.run('s2', encodeSignal(signal('s2')));
    v1.pragma('user_version = 1');
    v1.close();

    expect(readJournalAccount(path)).toBe(ACCOUNT);
    const journal = openSqliteJournal({ path, account: ACCOUNT });
    try {
      expect((await firstValueFrom(journal.signalsWithoutOrder())).map((s) => `${s.signalId}@${s.seq}`)).toEqual(['s1@1', 's2@2']);
      expect(await firstValueFrom(journal.recordSignalOutcome({ signalId: 's1', status: 'REJECTED', reason: 'r', at: 2 }))).toEqual({ kind: 'recorded', seq: 3 });
      expect((await firstValueFrom(journal.recordSignal(signal('s2')))).kind).toBe('duplicate');
    } finally {
      await firstValueFrom(journal.close());
    }
    const db = new Database(path, { readonly: true });
    try {
      expect(db.pragma('user_version', { simple: true })).toBe(SCHEMA_VERSION);
    } finally {
      db.close();
    }
  });

  it('lets a reader see the journal while the writer holds it open (kraken-rx status during a run)', async () => {
    const writer = openSqliteJournal({ path, account: ACCOUNT });
    const reader = openSqliteJournal({ path, account: ACCOUNT });
    await firstValueFrom(
      writer.recordSignal({ signalId: 's1', receivedAt: 1, pair: 'XXBTZUSD', side: 'buy', orderType: 'market', quantity: new Decimal('1'), limitPrice: null, stopLoss: null, takeProfit: null, timeoutMs: null }),
    );
    expect((await firstValueFrom(reader.signal('s1')))?.signalId).toBe('s1');
    await firstValueFrom(reader.close());
    await firstValueFrom(writer.close());
  });
});
