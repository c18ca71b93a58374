import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { firstValueFrom } from 'rxjs';
import { captureIo } from './support/capture-io';
import { formatJournalKeeps, journalStatus } from '../../src/cli/journal-status';
import { main } from '../../src/cli/main';
import { accountFingerprint } from '../../src/journal/account';
import { SCHEMA_VERSION, openSqliteJournal, readJournalAccount } from '../../src/journal/sqlite';
import { type JournalError } from '../../src/model/journal';
import { T0, d, fill, intent, place } from './support/journal';

const ACCOUNT = accountFingerprint('STATUS-SPEC-KEY');

/**
 * The journal of a run that was stopped: a market entry filled and protected by a resting stop (its take-profit
 * watched client-side), a limit entry still working, and an entry closed out by its stop (nothing left of it).
 * Ids carry a line break and an ESC, as a hostile input could have put them there.
 */
async function fillJournal(path: string): Promise<void> {
  const journal = openSqliteJournal({ path, account: ACCOUNT });
  const stopResting = { limitTimeoutMs: null, protectionMode: 'stop-resting' as const };
  await place(
    journal,
    intent('cl-e1', { signalId: 's1\nforged', duties: { ...stopResting, stopLoss: d('57000'), takeProfit: d('62000') } }),
    [{ kind: 'sent', deadline: T0 + 10_000 }, { kind: 'accepted', txid: 'OE1' }, fill('OE1', 'T1', '0.5')],
    T0,
  );
  await place(
    journal,
    intent('cl-s1', { signalId: 's1\nforged', role: 'stop-loss', parentClientOrderId: 'cl-e1', side: 'sell', orderType: 'stop-loss', price: d('57000') }),
    [{ kind: 'sent', deadline: T0 + 20_000 }, { kind: 'accepted', txid: 'OS1' }],
    T0 + 5000,
  );
  await place(
    journal,
    intent('cl-e2', {
      signalId: 's2\u001b[31m',
      orderType: 'limit',
      volume: d('0.3'),
      price: d('59000'),
      duties: { stopLoss: d('57500'), takeProfit: d('61000'), limitTimeoutMs: 60_000, protectionMode: 'stop-resting' },
    }),
    [{ kind: 'sent', deadline: T0 + 30_000 }, { kind: 'accepted', txid: 'OE2' }],
    T0 + 10_000,
  );
  await place(
    journal,
    intent('cl-e3', { signalId: 's3', volume: d('0.1'), duties: { ...stopResting, stopLoss: d('58000'), takeProfit: d('63000') } }),
    [{ kind: 'sent', deadline: T0 + 40_000 }, { kind: 'accepted', txid: 'OE3' }, fill('OE3', 'T3', '0.1')],
    T0 + 20_000,
  );
  await place(
    journal,
    intent('cl-s3', { signalId: 's3', role: 'stop-loss', parentClientOrderId: 'cl-e3', side: 'sell', orderType: 'stop-loss', volume: d('0.1'), price: d('58000') }),
    [{ kind: 'sent', deadline: T0 + 50_000 }, { kind: 'accepted', txid: 'OS3' }, fill('OS3', 'T4', '0.1')],
    T0 + 30_000,
  );
  await firstValueFrom(journal.close());
}

describe('kraken-rx status', () => {
  let dir: string;
  let path: string;
  beforeEach(async () => {
    dir = mkdtempSync(join(tmpdir(), 'kraken-rx-status-'));
    path = join(dir, 'run.db');
    await fillJournal(path);
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('prints positions, working entries, resting protection and take-profit watches, escaped', async () => {
    const io = captureIo({ now: () => T0 });
    await expect(main(['status', '--journal', path], io)).resolves.toBe(0);
    expect(io.err()).toBe('');
    expect(io.out()).toBe(
      [
        `journal ${path} (account ${ACCOUNT}): 5 orders, as last recorded`,
        'Positions (net filled: entries minus exits):',
        '  XXBTZUSD +0.5',
        'Working entries:',
        `  [s2\\u001b[31m] XXBTZUSD buy limit 0/0.3 limit 59000 accepted cl_ord_id cl-e2 txid OE2 timeout at ${new Date(T0 + 11_000 + 60_000).toISOString()}`,
        'Resting protection:',
        '  [s1\\nforged] stop-loss XXBTZUSD sell stop-loss 0.5 @ 57000 accepted cl_ord_id cl-s1 txid OS1 protects cl-e1',
        'Take-profit watches (resumed at the next start):',
        '  [s1\\nforged] XXBTZUSD take-profit 62000 for 0.5 (buy entry cl-e1)',
        '',
      ].join('\n'),
    );
    // No raw control character reached the output.
    expect(io.out()).not.toMatch(/[\u0000-\u0009\u000b-\u001f\u007f-\u009f]/);
  });

  it('prints one JSON object with --json', async () => {
    const io = captureIo({ now: () => T0 });
    await expect(main(['status', '--journal', path, '--json'], io)).resolves.toBe(0);
    const lines = io.out().trimEnd().split('\n');
    expect(lines).toHaveLength(1);
    expect(JSON.parse(lines[0] ?? '')).toEqual({
      type: 'status',
      journal: path,
      account: ACCOUNT,
      orders: 5,
      positions: [{ pair: 'XXBTZUSD', quantity: '0.5' }],
      workingEntries: [
        {
          signalId: 's2\u001b[31m',
          clientOrderId: 'cl-e2',
          txid: 'OE2',
          pair: 'XXBTZUSD',
          side: 'buy',
          orderType: 'limit',
          quantity: '0.3',
          price: '59000',
          filled: '0',
          status: 'accepted',
          timeoutAt: T0 + 11_000 + 60_000,
        },
      ],
      restingProtection: [
        {
          signalId: 's1\nforged',
          clientOrderId: 'cl-s1',
          txid: 'OS1',
          role: 'stop-loss',
          pair: 'XXBTZUSD',
          side: 'sell',
          orderType: 'stop-loss',
          quantity: '0.5',
          price: '57000',
          filled: '0',
          status: 'accepted',
          parentClientOrderId: 'cl-e1',
        },
      ],
      takeProfitWatches: [{ signalId: 's1\nforged', clientOrderId: 'cl-e1', pair: 'XXBTZUSD', side: 'buy', takeProfit: '62000', open: '0.5' }],
    });
    // The ESC is written as \u001b inside the JSON string, never raw.
    expect(lines[0]).toContain('s2\\u001b[31m');
  });

  it('says in one line what the journal keeps for the next start, and nothing when nothing is left', async () => {
    const journal = openSqliteJournal({ path, account: ACCOUNT });
    const orders = await firstValueFrom(journal.orders());
    await firstValueFrom(journal.close());
    expect(formatJournalKeeps(path, journalStatus(orders))).toBe(
      `the journal ${path} keeps for the next start: 1 resting protective order, 1 take-profit watch, 1 working entry (see \`kraken-rx status --journal ${path}\`)`,
    );
    const finished = orders.filter((order) => order.intent.signalId === 's3');
    expect(journalStatus(finished)).toMatchObject({ orders: 2, positions: [], workingEntries: [], restingProtection: [], takeProfitWatches: [] });
    expect(formatJournalKeeps(path, journalStatus(finished))).toBeNull();
  });

  it('reads the path from the config file when --journal is not given', async () => {
    const config = join(dir, 'config.json');
    writeFileSync(config, JSON.stringify({ journal: { path } }));
    const io = captureIo({ now: () => T0 });
    await expect(main(['status', '--config', config, '--json'], io)).resolves.toBe(0);
    expect(JSON.parse(io.out())).toMatchObject({ journal: path, orders: 5 });
  });

  it('says so in one line and exits 1 when there is no journal, creating none', async () => {
    const missing = join(dir, 'none.db');
    const io = captureIo({ now: () => T0 });
    await expect(main(['status', '--journal', missing], io)).resolves.toBe(1);
    expect(io.err()).toBe(`kraken-rx: no journal at ${missing} (\`kraken-rx run\` writes it there; --journal FILE reads another)\n`);
    expect(io.out()).toBe('');
    expect(existsSync(missing)).toBe(false);
  });

  it('exits 2 for a file that is not a journal', async () => {
    const garbage = join(dir, 'garbage.db');
    writeFileSync(garbage, 'this is not a database, only some text that is long enough to be read as a header');
    const io = captureIo({ now: () => T0 });
    await expect(main(['status', '--journal', garbage], io)).resolves.toBe(2);
    expect(io.err()).toMatch(/^kraken-rx: .*garbage\.db is not a kraken-rx journal: .*\n$/);
  });

  it('exits 2 for a journal of a newer schema, and for a damaged row', async () => {
    const db = new Database(path);
    db.pragma('user_version = 99');
    db.close();
    const newer = captureIo({ now: () => T0 });
    await expect(main(['status', '--journal', path], newer)).resolves.toBe(2);
    expect(newer.err()).toBe(`kraken-rx: ${path} has journal schema version 99; this version reads ${SCHEMA_VERSION}\n`);

    const damaged = join(dir, 'damaged.db');
    await fillJournal(damaged);
    const edit = new Database(damaged);
    edit.prepare("UPDATE entries SET body = 'not json' WHERE kind = 'intent' AND client_order_id = 'cl-e2'").run();
    edit.close();
    const io = captureIo({ now: () => T0 });
    await expect(main(['status', '--journal', damaged], io)).resolves.toBe(2);
    expect(io.err()).toMatch(/^kraken-rx: journal entry \d+ \(intent\), column body: .*\n$/);
  });
});

describe('readJournalAccount', () => {
  it('reads the account a journal was created for, and refuses what is not a journal', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'kraken-rx-account-'));
    try {
      const path = join(dir, 'j.db');
      const journal = openSqliteJournal({ path, account: ACCOUNT });
      expect(readJournalAccount(path)).toBe(ACCOUNT);
      await firstValueFrom(journal.close());
      expect(() => readJournalAccount(join(dir, 'absent.db'))).toThrow(expect.objectContaining({ kind: 'storage' }) as JournalError);
      expect(existsSync(join(dir, 'absent.db'))).toBe(false);
      const empty = join(dir, 'empty.db');
      writeFileSync(empty, '');
      expect(() => readJournalAccount(empty)).toThrow(`${empty} is not a kraken-rx journal`);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
