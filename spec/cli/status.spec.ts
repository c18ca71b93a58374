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
import { T0, acceptedAs, d, fill, intent, place } from './support/journal';
import { Credentials } from '../../src/kraken/credentials';
import { createKrakenExchange } from '../../src/kraken/exchange';
import { type OrderRequest } from '../../src/model/order';
import { type PaperExchange, startPaperExchange } from '../../src/paper';

const ACCOUNT = accountFingerprint('STATUS-SPEC-KEY');
const NOT_CHECKED = 'no KRAKEN_API_KEY / KRAKEN_API_SECRET in the environment (journal only; set them, with --url, to compare with the open orders)';

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
        `Not checked against the exchange: ${NOT_CHECKED}`,
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
      exchange: { checked: false, why: NOT_CHECKED },
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

describe('kraken-rx status with credentials: checked against the exchange', () => {
  const HANDLERS = ['11111111-1111-4111-8111-111111111111', '22222222-2222-4222-8222-222222222222'] as const;
  let dir: string;
  let path: string;
  let paper: PaperExchange;
  let env: Record<string, string>;
  beforeEach(async () => {
    dir = mkdtempSync(join(tmpdir(), 'kraken-rx-status-x-'));
    path = join(dir, 'run.db');
    paper = await startPaperExchange({ tier: 'pro', seed: 7 });
    env = { KRAKEN_API_KEY: paper.apiKey, KRAKEN_API_SECRET: paper.apiSecret };
    const port = createKrakenExchange({ url: paper.url, credentials: new Credentials(paper.apiKey, paper.apiSecret), timeoutMs: 5_000 });
    const rest = (clientOrderId?: string) =>
      firstValueFrom(
        port.placeOrder({ ...(clientOrderId ? { clientOrderId } : {}), pair: 'XXBTZUSD', side: 'buy', orderType: 'limit', volume: d('0.01'), price: d('1000') } as OrderRequest),
      );
    // Open on the exchange: one the journal holds, one of the handler's form it does not, one with no client order id.
    const [held, unknown] = [await rest(HANDLERS[0]), await rest(HANDLERS[1])];
    await rest();
    const journal = openSqliteJournal({ path, account: accountFingerprint(paper.apiKey) });
    const limit = { orderType: 'limit' as const, volume: d('0.01'), price: d('1000') };
    await place(journal, intent(HANDLERS[0], { signalId: 'held', ...limit }), acceptedAs(held.txid, T0), T0);
    // Journaled as accepted, gone from the exchange's open orders (it ended while nothing watched it).
    await place(journal, intent('cl-gone', { signalId: 'gone', ...limit }), acceptedAs('OGONE-AAAAA-BBBBBB', T0), T0);
    await firstValueFrom(journal.recordRateCounters({ at: Date.now(), rest: 0, trading: [] }));
    await firstValueFrom(journal.close());
    expect(unknown.txid).not.toBe('');
  });
  afterEach(async () => {
    await paper.close();
    rmSync(dir, { recursive: true, force: true });
  });
  /** The calls the exchange answered since `before`, by method. */
  const callsSince = (before: ReadonlyMap<string, number>): Record<string, number> =>
    Object.fromEntries([...paper.inspect.requestCounts()].filter(([method, n]) => n > (before.get(method) ?? 0)).map(([method, n]) => [method, n - (before.get(method) ?? 0)]));

  it('shows which journaled open orders the exchange no longer shows open, and which of its open orders the journal does not know', async () => {
    const io = captureIo({ env });
    const before = new Map(paper.inspect.requestCounts());
    await expect(main(['status', '--journal', path, '--url', paper.url], io)).resolves.toBe(0);
    expect(io.err()).toBe('');
    const out = io.out();
    expect(out).toContain(`Checked against the exchange ${paper.url}: 3 open orders\n`);
    expect(out).toContain(
      'Journaled as open, no longer open on the exchange (the next start reconciles them):\n' +
        '  [gone] entry XXBTZUSD buy limit 0.01 journaled accepted cl_ord_id cl-gone txid OGONE-AAAAA-BBBBBB\n',
    );
    expect(out).toMatch(new RegExp(`Open on the exchange with a client order id of the handler's form, not in this journal:\\n  txid \\S+ cl_ord_id ${HANDLERS[1]} XBTUSD buy limit 0/0\\.01\\n`));
    expect(out).toContain("Other open orders (not the handler's, left untouched): 1\n");
    expect(out).not.toContain('Not checked');
    // One OpenOrders, and nothing else asked of the exchange.
    expect(callsSince(before)).toEqual({ OpenOrders: 1 });
  });

  it('puts the check in the JSON object too', async () => {
    const io = captureIo({ env });
    await expect(main(['status', '--journal', path, '--url', paper.url, '--json'], io)).resolves.toBe(0);
    const status = JSON.parse(io.out()) as { exchange: Record<string, unknown> };
    expect(status.exchange).toMatchObject({
      checked: true,
      url: paper.url,
      open: 3,
      noLongerOpen: [{ clientOrderId: 'cl-gone', txid: 'OGONE-AAAAA-BBBBBB', status: 'accepted', quantity: '0.01' }],
      unknownToJournal: [{ clientOrderId: HANDLERS[1], volume: '0.01', volumeExecuted: '0' }],
      others: 1,
    });
  });

  it('prints what the journal holds all the same when the exchange cannot be asked, says why, and exits 1', async () => {
    const io = captureIo({ env });
    // Nothing listens on port 1 of the loopback: the connection is refused at once.
    await expect(main(['status', '--journal', path, '--url', 'http://127.0.0.1:1'], io)).resolves.toBe(1);
    const out = io.out();
    expect(out).toContain('Working entries:\n');
    expect(out).toContain('cl_ord_id cl-gone');
    expect(out).toMatch(/Not checked against the exchange: asking http:\/\/127\.0\.0\.1:1 failed \(.+\); journal only\n/);
    const json = captureIo({ env });
    await expect(main(['status', '--journal', path, '--url', 'http://127.0.0.1:1', '--json'], json)).resolves.toBe(1);
    expect((JSON.parse(json.out()) as { exchange: Record<string, unknown> }).exchange).toMatchObject({ checked: false, failed: true });
  });

  it("refuses with exit 2, asking nothing, when the key is another account's", async () => {
    const io = captureIo({ env: { KRAKEN_API_KEY: 'OTHER-KEY', KRAKEN_API_SECRET: paper.apiSecret } });
    const before = new Map(paper.inspect.requestCounts());
    await expect(main(['status', '--journal', path, '--url', paper.url], io)).resolves.toBe(2);
    expect(io.err()).toMatch(/^kraken-rx: .* is the journal of account key-sha256:\S+, not of key-sha256:\S+ \(the API key in the environment\): nothing asked of the exchange\n$/);
    expect(io.err()).not.toContain('OTHER-KEY');
    expect(callsSince(before)).toEqual({});
  });
});
