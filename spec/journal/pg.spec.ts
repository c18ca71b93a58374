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
