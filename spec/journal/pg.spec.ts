import { afterEach, beforeEach, expect, it } from '@jest/globals';
import { Decimal } from 'decimal.js';
import pg from 'pg';
import { firstValueFrom } from 'rxjs';
import { openPgLease } from '../../src/cluster/lease';
import { accountFingerprint } from '../../src/journal/account';
import { PG_SCHEMA_VERSION, openPgJournal } from '../../src/journal/pg';
import { type Journal, JournalError } from '../../src/model/journal';
import { PG_URL, describeWithPostgres, postgresAvailable, uniqueName } from '../cluster/support/services';
import { type JournalHarness, journalContract } from './contract';

async function dropSchema(schema: string): Promise<void> {
  const client = new pg.Client({ connectionString: PG_URL });
  await client.connect();
  try {
    await client.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
  } finally {
    await client.end();
  }
}

/**
 * Opens the journal as a handler does: takes the account's lease, then writes under its epoch. Each open is a
 * new acquisition at a later time (the previous grant has lapsed), so a reopen is a restart under a new epoch.
 */
async function openUnderLease(schema: string, account: string, now: number): Promise<Journal> {
  const lease = await openPgLease({ connectionString: PG_URL, schema, account, holder: 'spec', ttlMs: 1 });
  try {
    const grant = await firstValueFrom(lease.acquire(now));
    if (grant === null) throw new Error('the lease was not free');
    return await openPgJournal({ connectionString: PG_URL, schema, account, epoch: grant.epoch });
  } finally {
    await firstValueFrom(lease.close());
  }
}

if (postgresAvailable()) {
  journalContract({
    name: 'PostgreSQL',
    make: (): JournalHarness => {
      const schema = uniqueName('krx_test_journal');
      let opens = 0;
      return {
        open: (account) => openUnderLease(schema, account, (opens += 1) * 1000),
        dispose: () => dropSchema(schema),
      };
    },
    crashWriter: null,
  });
}

describeWithPostgres('PostgreSQL journal (schema and fencing)', () => {
  const ACCOUNT = accountFingerprint('API-KEY-OF-ACCOUNT-A');
  let schema: string;
  beforeEach(() => {
    schema = uniqueName('krx_test_journal');
  });
  afterEach(() => dropSchema(schema));

  const signal = (signalId: string) => ({
    signalId,
    receivedAt: 1,
    pair: 'XXBTZUSD',
    side: 'buy' as const,
    orderType: 'market' as const,
    quantity: new Decimal('0.10000000000000000001'),
    limitPrice: null,
    stopLoss: null,
    takeProfit: null,
    timeoutMs: null,
  });

  it('creates its tables in the account schema, records version and account, and stores money as decimal text', async () => {
    const journal = await openUnderLease(schema, ACCOUNT, 1000);
    await firstValueFrom(journal.recordSignal(signal('s1')));
    await firstValueFrom(journal.close());
    const client = new pg.Client({ connectionString: PG_URL });
    await client.connect();
    try {
      const meta = await client.query<{ key: string; value: string }>(`SELECT key, value FROM "${schema}".meta ORDER BY key`);
      expect(meta.rows).toEqual([
        { key: 'account', value: ACCOUNT },
        { key: 'schema_version', value: String(PG_SCHEMA_VERSION) },
      ]);
      const body = await client.query<{ body: string }>(`SELECT body FROM "${schema}".entries WHERE kind = 'signal'`);
      expect(body.rows[0]?.body).toContain('"quantity":"0.10000000000000000001"');
    } finally {
      await client.end();
    }
  });

  it('refuses a schema written by a newer version, and one holding other tables', async () => {
    await firstValueFrom((await openUnderLease(schema, ACCOUNT, 1000)).close());
    const client = new pg.Client({ connectionString: PG_URL });
    await client.connect();
    const foreign = uniqueName('krx_test_foreign');
    try {
      await client.query(`UPDATE "${schema}".meta SET value = $1 WHERE key = 'schema_version'`, [String(PG_SCHEMA_VERSION + 1)]);
      const newer = await openPgJournal({ connectionString: PG_URL, schema, account: ACCOUNT, epoch: 1 }).catch((e: unknown) => e);
      expect(newer instanceof JournalError && [newer.kind, newer.message]).toEqual([
        'schema',
        `schema ${schema} has journal schema version ${PG_SCHEMA_VERSION + 1}; this version reads ${PG_SCHEMA_VERSION}`,
      ]);
      await client.query(`CREATE SCHEMA "${foreign}"; CREATE TABLE "${foreign}".t (x int)`);
      const other = await openPgJournal({ connectionString: PG_URL, schema: foreign, account: ACCOUNT, epoch: 1 }).catch((e: unknown) => e);
      expect(other instanceof JournalError && other.kind).toBe('schema');
    } finally {
      await client.query(`DROP SCHEMA IF EXISTS "${foreign}" CASCADE`);
      await client.end();
    }
  });

  it('migrates a version-1 schema in place: its entries kept, the new kinds of entry then written', async () => {
    const first = await openUnderLease(schema, ACCOUNT, 1000);
    await firstValueFrom(first.recordSignal(signal('s1')));
    await firstValueFrom(first.close());
    const client = new pg.Client({ connectionString: PG_URL });
    await client.connect();
    try {
      // Back to what version 1 created: six kinds of entry, no txid column, none of its indexes.
      await client.query(`
        DROP INDEX "${schema}".entries_signal_outcome; DROP INDEX "${schema}".entries_foreign; DROP INDEX "${schema}".entries_intent_signal;
        ALTER TABLE "${schema}".entries DROP COLUMN txid;
        ALTER TABLE "${schema}".entries DROP CONSTRAINT entries_kind_check;
        ALTER TABLE "${schema}".entries ADD CONSTRAINT entries_kind_check CHECK (kind IN ('signal', 'intent', 'transition', 'close-command', 'halt', 'rate-counters'));
        UPDATE "${schema}".meta SET value = '1' WHERE key = 'schema_version';
      `);
      const journal = await openUnderLease(schema, ACCOUNT, 2000);
      try {
        expect((await firstValueFrom(journal.signalsWithoutOrder())).map((s) => `${s.signalId}@${s.seq}`)).toEqual(['s1@1']);
        expect((await firstValueFrom(journal.recordSignalOutcome({ signalId: 's1', status: 'REJECTED', reason: 'r', at: 2 }))).kind).toBe('recorded');
        const foreign = { txid: 'OF-1', clientOrderId: null, pair: 'XXBTZUSD', side: 'sell' as const, orderType: 'limit', volume: new Decimal('1'), at: 3 };
        expect((await firstValueFrom(journal.recordForeignOrder(foreign))).kind).toBe('recorded');
        expect((await firstValueFrom(journal.recordForeignOrder(foreign))).kind).toBe('duplicate');
      } finally {
        await firstValueFrom(journal.close());
      }
      const version = await client.query<{ value: string }>(`SELECT value FROM "${schema}".meta WHERE key = 'schema_version'`);
      expect(version.rows[0]?.value).toBe(String(PG_SCHEMA_VERSION));
    } finally {
      await client.end();
    }
  });

  it('refuses a schema name it would have to quote', async () => {
    const error = await openPgJournal({ connectionString: PG_URL, schema: 'krx"; DROP', account: ACCOUNT, epoch: 1 }).catch((e: unknown) => e);
    expect(error instanceof JournalError && error.kind).toBe('misuse');
  });

  it('refuses every write once another handler has taken the lease, and writes nothing', async () => {
    const old = await openUnderLease(schema, ACCOUNT, 1000);
    await firstValueFrom(old.recordSignal(signal('s1')));
    const successor = await openUnderLease(schema, ACCOUNT, 2000);
    const refused = await firstValueFrom(old.recordSignal(signal('s2'))).catch((e: unknown) => e);
    expect(refused instanceof JournalError && [refused.kind, refused.message]).toEqual([
      'fenced',
      "journal recordSignal refused: this handler's lease (epoch 1) is no longer the account's (epoch 2): another handler has taken it over",
    ]);
    expect(await firstValueFrom(successor.signal('s2'))).toBeNull();
    // Reading is not fenced: the deposed handler may still look (kraken-rx status).
    expect((await firstValueFrom(old.signal('s1')))?.signalId).toBe('s1');
    expect((await firstValueFrom(successor.recordSignal(signal('s2')))).kind).toBe('recorded');
    await firstValueFrom(old.close());
    await firstValueFrom(successor.close());
  });

  it('reports an unreachable server as a storage error on open', async () => {
    const error = await openPgJournal({ connectionString: 'postgres://postgres@127.0.0.1:1/test', schema, account: ACCOUNT, epoch: 1 }).catch((e: unknown) => e);
    expect(error instanceof JournalError && error.kind).toBe('storage');
  });
});
