import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from '@jest/globals';
import pg from 'pg';
import { firstValueFrom } from 'rxjs';
import { UsageError, parseArgs } from '../../src/cli/args';
import { clusterSchema } from '../../src/cli/cluster-run';
import { printableUrl } from '../../src/model/url';
import { type CliIo } from '../../src/cli/io';
import { main } from '../../src/cli/main';
import { openPgLease } from '../../src/cluster/lease';
import { accountFingerprint } from '../../src/journal/account';
import { type PaperExchange, startPaperExchange } from '../../src/paper';
import { IdleClock } from '../../src/time/idle-clock';
import { captureIo } from '../cli/support/capture-io';
import { PG_URL, describeWithPostgres } from './support/services';

const buy = (signalId: string): string => JSON.stringify({ signalId, pair: 'BTC/USD', side: 'buy', orderType: 'market', quantity: '0.01', stopLoss: '57000' });
/** A limit below the market (within the 10 % band) that rests for ten minutes: the run keeps going while it works. */
const resting = (signalId: string): string =>
  JSON.stringify({ signalId, pair: 'BTC/USD', side: 'buy', orderType: 'limit', quantity: '0.01', limitPrice: '57000', stopLoss: '55000', timeoutMs: 600_000 });

describe('kraken-rx run --cluster: the command line', () => {
  it('takes a PostgreSQL URL', () => {
    expect(parseArgs(['run', '--cluster', 'postgres://root@127.0.0.1:5432/test'])).toMatchObject({ command: 'run', cluster: 'postgres://root@127.0.0.1:5432/test' });
  });

  it.each([
    [['--cluster', 'redis://127.0.0.1:6379'], '--cluster expects a postgres:// or postgresql:// URL'],
    [['--cluster', 'postgres://h/db', '--journal', 'x.db'], "--cluster and --journal exclude each other: the journal is the cluster's, in PostgreSQL"],
    [['--cluster', 'postgres://h/db', '--no-journal'], "--cluster and --no-journal exclude each other: the journal is the cluster's, in PostgreSQL"],
    [['--cluster', 'postgres://h/db', '--paper'], "--cluster and --paper exclude each other: the journal is the cluster's, in PostgreSQL"],
  ])('refuses %j: %s', (flags, message) => {
    expect(() => parseArgs(['run', ...flags])).toThrow(new UsageError(message, 'run'));
  });

  it('names the schema after the account fingerprint, never the key', () => {
    expect(clusterSchema(accountFingerprint('API-KEY'))).toBe(`krx_${accountFingerprint('API-KEY').slice('key-sha256:'.length)}`);
    expect(clusterSchema(accountFingerprint('API-KEY'))).toMatch(/^krx_[0-9a-f]{16}$/);
  });

  it('logs the URL without its user name and password, and no URL that does not parse', () => {
    expect(printableUrl('postgres://krx:s3cret@db.internal:5432/trading')).toBe('postgres://db.internal:5432/trading');
    expect(printableUrl('postgres//krx:s3cret@db')).toBe('(unparsable URL)');
  });
});

describeWithPostgres('kraken-rx run --cluster', () => {
  let clock: IdleClock;
  let paper: PaperExchange;
  let dir: string;
  let account: string;
  beforeEach(async () => {
    clock = new IdleClock();
    paper = await startPaperExchange({ tier: 'pro', seed: 5, clock: () => clock.now(), timers: clock.waitTimers });
    account = accountFingerprint(paper.apiKey);
    dir = mkdtempSync(join(tmpdir(), 'krx-cluster-cli-'));
  });
  afterEach(async () => {
    await paper.close();
    rmSync(dir, { recursive: true, force: true });
    const client = new pg.Client({ connectionString: PG_URL });
    await client.connect();
    await client.query(`DROP SCHEMA IF EXISTS "${clusterSchema(account)}" CASCADE`);
    await client.end();
  });

  const signalsFile = (name: string, lines: string[]): string => {
    const path = join(dir, name);
    writeFileSync(path, `${lines.join('\n')}\n`);
    return path;
  };
  const io = (node: string): ReturnType<typeof captureIo> =>
    captureIo({ env: { KRAKEN_API_KEY: paper.apiKey, KRAKEN_API_SECRET: paper.apiSecret, KRX_CLUSTER_NODE: node }, clock });
  const run = (signals: string, runIo: CliIo): Promise<number> => main(['run', '--url', paper.url, '--cluster', PG_URL, '--signals', signals], runIo);

  it('one run leads and the other stands by, saying who holds the lease; the standby takes over when the leader ends and finds its work done', async () => {
    const signals = signalsFile('signals.jsonl', [buy('b1'), buy('b2')]);
    const a = io('node-a');
    const b = io('node-b');
    const first = run(signals, a);
    // b starts once a holds the lease.
    expect(await clock.runUntil(() => a.err().includes('leader: took the lease'), 10_000)).toBe(true);
    const second = run(signals, b);
    const [codeA, codeB] = await clock.drive(Promise.all([first, second]), 3_600_000);
    expect([codeA, codeB]).toEqual([0, 0]);
    expect(a.err()).toContain(`leader: took the lease of account ${account} (epoch 1)\n`);
    expect(b.err()).toMatch(new RegExp(`standby: waiting for the lease of account ${account} held by node-a \\(epoch 1, until `));
    // a released the lease at its end; b took it and waited out what a could still have had in flight.
    expect(b.err()).toContain(`leader: took the lease of account ${account} (epoch 2); waiting 20000 ms for AddOrders the previous holder may still have in flight`);
    expect(a.out()).toMatch(/\[b1\] entry .* FILLED/);
    // The same signals again: journaled by a, so duplicates for b; nothing placed twice.
    expect(b.out()).toMatch(/\[b1\] entry .* REJECTED .*duplicate signalId/);
    expect(paper.inspect.orders().filter((o) => o.orderType === 'market')).toHaveLength(2);
    expect(paper.inspect.requestCount('AddOrder')).toBe(4);
  });

  it('losing the lease mid-run is logged at error level with the reason, sends nothing more and exits 1', async () => {
    const signals = signalsFile('resting.jsonl', [resting('r1')]);
    const a = io('node-a');
    const running = run(signals, a);
    expect(await clock.runUntil(() => /\[r1\] entry .* NEW/.test(a.out()), 60_000)).toBe(true);
    // Another handler takes the lease as if it had lapsed (its clock far ahead): a's next renewal is refused.
    const intruder = await openPgLease({ connectionString: PG_URL, schema: clusterSchema(account), account, holder: 'intruder', ttlMs: 60_000 });
    try {
      await clock.drive(clock.io(() => firstValueFrom(intruder.acquire(clock.now() + 3_600_000))), 1_000);
      const orders = paper.inspect.requestCount('AddOrder');
      const code = await clock.drive(running, 60_000);
      expect(code).toBe(1);
      // Whichever comes first says so: the next renewal refused, or the next journal write fenced.
      expect(a.err()).toMatch(/ERROR lease lost: (the lease lapsed or another handler took it|a journal write was refused: .*another handler has taken it over); stopping at once \(nothing more is sent\)\n/);
      // Not even the cancel a graceful stop sends for a working entry: the entry is the new leader's now.
      expect([paper.inspect.requestCount('AddOrder'), paper.inspect.requestCount('CancelOrder')]).toEqual([orders, 0]);
      expect(paper.inspect.openOrders().map((o) => o.status)).toEqual(['open']);
    } finally {
      await firstValueFrom(intruder.close());
    }
  });
});
