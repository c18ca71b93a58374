import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { createClient } from 'redis';
import { lastValueFrom, toArray } from 'rxjs';
import { publishLines } from '../src/bus/publish';
import { type RedisBus, type RedisClient, busKeys, openRedisBus } from '../src/bus/redis-bus';
import { clusterSchema } from '../src/cli/cluster-run';
import { accountFingerprint } from '../src/journal/account';
import { type PaperExchange, startPaperExchange } from '../src/paper';
import { Child, until } from '../spec/cluster/support/child';
import { BUS_BENCH_REDIS } from './bus';
import { type Table, count, printTable } from './table';

/** Where the bench looks for PostgreSQL (as the cluster specs do): loopback only. */
export const FAILOVER_BENCH_PG = process.env['KRX_TEST_PG'] ?? 'postgres://postgres@127.0.0.1:5432/test';

/**
 * Short waits, so that a failover takes seconds: the lease, an entry's deadline (above the 2 s Kraken wants left on an
 * AddOrder when it is sent, so the first ones go out) and a request's timeout.
 */
const LEASE_TTL_MS = 2_000;
const DEADLINE_MS = 3_000;
const REQUEST_TIMEOUT_MS = 2_000;
const LOOKUP_INTERVAL_MS = 250;
const KILLS = Number(process.env['BENCH_FAILOVER_KILLS'] ?? 3);
/** Signals published to the leader before each kill (work in flight), and while nobody leads. */
const BEFORE_KILL = 20;
const WHILE_NOBODY_LEADS = 5;

/** One SIGKILL of the leader, and how long until the standby's first order was accepted, in its parts (real ms). */
export interface FailoverFigures {
  readonly kill: number;
  /** The standby's epoch once it leads. */
  readonly epoch: number;
  /** SIGKILL → the standby's first order accepted by the exchange. */
  readonly totalMs: number;
  /** SIGKILL → the standby took the lease: the TTL left to run (and the standby's retry step). */
  readonly leaseMs: number;
  /** Lease taken → the journal opened: the wait for AddOrders the dead leader may still have in flight. */
  readonly inFlightMs: number;
  /** Journal opened → the standby's first AddOrder received: reconciliation at start, and the first read of the bus. */
  readonly reconcileMs: number;
  /** First AddOrder received → accepted (the paper exchange's acceptance time). */
  readonly placementMs: number;
}

const market = (signalId: string): string => JSON.stringify({ signalId, pair: 'BTC/USD', side: 'buy', orderType: 'market', quantity: '0.0001' });
const pause = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** What `bin/kraken-rx.js` does, on the bench's compiled `src/` (`.build/bench/src`). */
function writeEntry(dir: string): { readonly entry: string } {
  const entry = join(dir, 'kraken-rx.js');
  const main = join(__dirname, '..', 'src', 'cli', 'main.js');
  writeFileSync(
    entry,
    `'use strict';\nrequire(${JSON.stringify(main)}).main(process.argv.slice(2)).then(\n` +
      '  (code) => { process.exitCode = code; },\n' +
      '  (err) => { console.error(err instanceof Error ? err.message : String(err)); process.exitCode = 1; },\n);\n',
  );
  return { entry };
}

async function reachable(admin: RedisClient, db: pg.Client): Promise<boolean> {
  try {
    await admin.connect();
    await db.connect();
    return true;
  } catch {
    return false;
  }
}

/**
 * A leader and a standby `kraken-rx run --bus --cluster` as child processes on one paper exchange (in this
 * process, real time), signals published to the bus; the leader SIGKILLed with orders in flight, signals published
 * while nobody leads, and the time until the standby's first order is accepted; then a new standby, and again.
 */
async function measureKills(admin: RedisClient, db: pg.Client): Promise<FailoverFigures[]> {
  const account = `bench-failover-${process.pid}-${Date.now().toString(36)}`;
  const dir = mkdtempSync(join(tmpdir(), 'kraken-rx-bench-failover-'));
  // A key of its own: the cluster's schema is named after the key's fingerprint, and another run (a failover spec,
  // say) on the paper exchange's default key would share the lease.
  const paper: PaperExchange = await startPaperExchange({ tier: 'unlimited', seed: 11, apiKey: account, balances: { ZUSD: '1000000000', XXBT: '0' } });
  const schema = clusterSchema(accountFingerprint(paper.apiKey));
  const dropSchema = (): Promise<unknown> => db.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
  await dropSchema();
  const publisher: RedisBus = await openRedisBus({ url: BUS_BENCH_REDIS, account, consumer: 'bench-publisher' });
  const children: Child[] = [];
  try {
    const config = join(dir, 'config.json');
    writeFileSync(
      config,
      JSON.stringify({
        logLevel: process.env['BENCH_FAILOVER_LOG'] === 'debug' ? 'debug' : 'info',
        exchange: { tier: 'unlimited', requestTimeoutMs: REQUEST_TIMEOUT_MS },
        entry: { deadlineMs: DEADLINE_MS, maxConcurrentPlacements: 16 },
        monitor: { minIntervalMs: 250, maxIntervalMs: 1_000 },
        // The failover spec's pace: the dead leader's last AddOrders, sent with no answer seen, are looked up by
        // client order id at start every `intervalMs` until found or proven absent (2 s apart by default).
        lookup: { attempts: 6, intervalMs: LOOKUP_INTERVAL_MS },
      }),
    );
    const cli = writeEntry(dir);
    const run = ['run', '--config', config, '--url', paper.url, '--cluster', FAILOVER_BENCH_PG, '--lease-ttl', String(LEASE_TTL_MS), '--bus', BUS_BENCH_REDIS, '--account', account, '--json'];
    const start = (node: string): Child => {
      const child = new Child(cli, run, { KRAKEN_API_KEY: paper.apiKey, KRAKEN_API_SECRET: paper.apiSecret, KRX_CLUSTER_NODE: node });
      children.push(child);
      return child;
    };
    const publish = (lines: string[]): Promise<string[]> => lastValueFrom(publishLines(publisher, lines).pipe(toArray()));

    let leader = start('node-0');
    await until('the first leader to lead', () => leader.said(/leader: journal in PostgreSQL under epoch 1;/), 30_000, children);
    const figures: FailoverFigures[] = [];
    for (let kill = 1; kill <= KILLS; kill += 1) {
      const standby = start(`node-${kill}`);
      await until('the standby to stand by', () => standby.said(/standby: waiting for the lease/), 30_000, children);
      const placed = paper.inspect.orders().length;
      await publish(Array.from({ length: BEFORE_KILL }, (_, index) => market(`k${kill}-${index + 1}`)));
      await until('the leader to place a few', () => paper.inspect.orders().length >= placed + 5, 30_000, children);

      leader.signal('SIGKILL');
      const killedAt = Date.now();
      await leader.exited;
      const before = new Set(paper.inspect.orders().map((order) => order.txid));
      const addOrders = paper.inspect.requestCount('AddOrder');
      await publish(Array.from({ length: WHILE_NOBODY_LEADS }, (_, index) => market(`w${kill}-${index + 1}`)));

      // 1 ms polls: the first AddOrder the standby sends is seen within a millisecond of its arrival.
      let addOrderAt: number | null = null;
      const limit = killedAt + 60_000;
      let accepted = paper.inspect.orders().find((order) => !before.has(order.txid));
      while (accepted === undefined) {
        if (Date.now() > limit) throw new Error(`no order from the standby within 60 s of the kill:\n${standby.err.slice(-20).join('\n')}`);
        if (addOrderAt === null && paper.inspect.requestCount('AddOrder') > addOrders) addOrderAt = Date.now();
        await pause(1);
        accepted = paper.inspect.orders().find((order) => !before.has(order.txid));
      }
      const tookAt = standby.saidAt(/leader: took the lease/) ?? killedAt;
      const readyAt = standby.saidAt(/leader: journal in PostgreSQL under epoch/) ?? tookAt;
      const epoch = Number(/under epoch (\d+)/.exec(standby.err.find((line) => line.includes('under epoch')) ?? '')?.[1] ?? 0);
      const sentAt = Math.min(addOrderAt ?? accepted.openedAt, accepted.openedAt);
      figures.push({
        kill,
        epoch,
        totalMs: accepted.openedAt - killedAt,
        leaseMs: tookAt - killedAt,
        inFlightMs: readyAt - tookAt,
        reconcileMs: sentAt - readyAt,
        placementMs: accepted.openedAt - sentAt,
      });
      if (process.env['BENCH_FAILOVER_LOG'] !== undefined) process.stderr.write(`kill ${kill} at ${new Date(killedAt).toISOString()}, the standby said:\n${standby.err.join('\n')}\n`);
      leader = standby;
    }
    leader.signal('SIGINT');
    await leader.exited;
    return figures;
  } finally {
    for (const child of children) child.signal('SIGKILL');
    await Promise.all(children.map((child) => child.exited));
    await lastValueFrom(publisher.close(), { defaultValue: undefined });
    await admin.del([busKeys(account).inputs, busKeys(account).reports]);
    await dropSchema();
    await paper.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

/** The failover bench: `KILLS` SIGKILLs of the leader. `null` when Redis or PostgreSQL is not reachable (one skip line). */
export async function measureFailover(): Promise<FailoverFigures[] | null> {
  const admin: RedisClient = createClient({ url: BUS_BENCH_REDIS, socket: { reconnectStrategy: false } });
  admin.on('error', () => undefined);
  const db = new pg.Client({ connectionString: FAILOVER_BENCH_PG });
  db.on('error', () => undefined);
  try {
    if (!(await reachable(admin, db))) return null;
    return await measureKills(admin, db);
  } finally {
    if (admin.isOpen) await admin.close();
    await db.end().catch(() => undefined);
  }
}

export function failoverTable(figures: readonly FailoverFigures[]): Table {
  return {
    title: `Failover: the leader SIGKILLed → the standby's first order accepted (\`run --bus --cluster\`, --lease-ttl ${count(LEASE_TTL_MS)}, real ms)`,
    columns: ['kill', 'epoch', 'kill → first order accepted', 'lease TTL left', 'in-flight AddOrder wait', 'reconciliation + first read', 'first placement'],
    rows: figures.map((row) => [count(row.kill), count(row.epoch), count(row.totalMs), count(row.leaseMs), count(row.inFlightMs), count(row.reconcileMs), count(row.placementMs)]),
    notes: [
      'Two `kraken-rx run --bus --cluster` child processes on one paper exchange (in the bench, loopback REST), PostgreSQL and',
      `Redis on 127.0.0.1; ${BEFORE_KILL} market buys published before each kill (orders in flight), ${WHILE_NOBODY_LEADS} while nobody leads. Lease TTL left:`,
      'the kill to the standby\'s "took the lease" line (what was left of the TTL after the last renewal, plus the standby\'s retry step).',
      `In-flight wait: to its "journal … reconciling" line, entry.deadlineMs ${count(DEADLINE_MS)} + exchange.requestTimeoutMs ${count(REQUEST_TIMEOUT_MS)}.`,
      `Reconciliation: to its first AddOrder at the exchange (the dead leader's last AddOrders looked up every ${count(LOOKUP_INTERVAL_MS)} ms, then`,
      'the first entry read from the stream). First placement: that AddOrder to its order accepted (1 ms polls; 0 = within one).',
    ],
  };
}

/** The skip line when Redis or PostgreSQL is not there. */
export const failoverSkipLine = (): string =>
  `skipped: the failover bench (needs Redis at ${new URL(BUS_BENCH_REDIS).host} and PostgreSQL at ${new URL(FAILOVER_BENCH_PG).host}; one is not reachable)`;

if (require.main === module) {
  void (async () => {
    const figures = await measureFailover();
    if (figures === null) process.stdout.write(`${failoverSkipLine()}\n`);
    else printTable(failoverTable(figures));
  })();
}
