import { afterEach, beforeEach, expect, it } from '@jest/globals';
import pg from 'pg';
import { firstValueFrom } from 'rxjs';
import { type Lease, openPgLease } from '../../src/cluster/lease';
import { accountFingerprint } from '../../src/journal/account';
import { PG_URL, describeWithPostgres, uniqueName } from './support/services';

describeWithPostgres('PostgreSQL lease', () => {
  const ACCOUNT = accountFingerprint('API-KEY-OF-ACCOUNT-A');
  let schema: string;
  const opened: Lease[] = [];
  const lease = async (holder: string): Promise<Lease> => {
    const opening = await openPgLease({ connectionString: PG_URL, schema, account: ACCOUNT, holder, ttlMs: 10_000 });
    opened.push(opening);
    return opening;
  };
  beforeEach(() => {
    schema = uniqueName('krx_test_lease');
  });
  afterEach(async () => {
    for (const each of opened.splice(0)) await firstValueFrom(each.close());
    const client = new pg.Client({ connectionString: PG_URL });
    await client.connect();
    await client.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
    await client.end();
  });

  it('grants one of two contenders at a time, and the other only once the grant has lapsed, under a higher epoch', async () => {
    const a = await lease('a');
    const b = await lease('b');
    const [first, second] = await Promise.all([firstValueFrom(a.acquire(1_000)), firstValueFrom(b.acquire(1_000))]);
    expect([first, second].filter((grant) => grant !== null)).toHaveLength(1);
    const leader = first ?? second;
    expect(leader?.epoch).toBe(1);
    expect(leader?.expiresAt).toBe(11_000);
    const standby = first === null ? a : b;
    expect(await firstValueFrom(standby.acquire(10_999))).toBeNull();
    const taken = await firstValueFrom(standby.acquire(11_000));
    expect(taken).toMatchObject({ epoch: 2, holder: first === null ? 'a' : 'b' });
    // The deposed leader cannot renew its old grant.
    const deposed = first === null ? b : a;
    if (leader) expect(await firstValueFrom(deposed.renew(leader, 11_001))).toBeNull();
  });

  it('renews before expiry only, and a release frees the lease with the epoch still rising', async () => {
    const a = await lease('a');
    const b = await lease('b');
    const grant = await firstValueFrom(a.acquire(0));
    if (!grant) throw new Error('not granted');
    expect(await firstValueFrom(a.renew(grant, 9_000))).toMatchObject({ epoch: 1, expiresAt: 19_000 });
    expect(await firstValueFrom(b.acquire(15_000))).toBeNull();
    await firstValueFrom(a.release(grant));
    expect(await firstValueFrom(b.acquire(15_000))).toMatchObject({ holder: 'b', epoch: 2 });
    expect(await firstValueFrom(a.renew(grant, 15_001))).toBeNull();
  });
});
