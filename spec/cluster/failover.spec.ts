import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from '@jest/globals';
import pg from 'pg';
import { createClient } from 'redis';
import { busKeys } from '../../src/bus/redis-bus';
import { clusterSchema } from '../../src/cli/cluster-run';
import { accountFingerprint } from '../../src/journal/account';
import { type PaperExchange, startPaperExchange } from '../../src/paper';
import { type CompiledCli, compileCli } from '../e2e/support/crash-child';
import { Child, until } from './support/child';
import { PG_URL, REDIS_URL, describeWithPostgres, describeWithRedis, postgresAvailable, uniqueName } from './support/services';

/**
 * The failover test, with real processes: a leader and a standby `kraken-rx run --bus --cluster` on one
 * paper exchange (in this process, on 127.0.0.1), 1,000 signals published by `kraken-rx publish` from another
 * process, the leader SIGKILLed in the middle of the burst. The standby takes over once the lease lapses and the
 * leader's in-flight AddOrders have run out; every signal ends with exactly one final entry report on the reports
 * stream (FILLED, or REJECTED for an intent the leader journaled and never sent), no `cl_ord_id` is used twice on
 * the exchange, every fill is protected. Waits are on conditions (the
 * exchange's orders, the reports stream, the children's log lines) with bounds, never fixed sleeps.
 */

/** About 50 s with 1,000 on a loaded 2-core machine; `KRX_FAILOVER_SIGNALS=100` for a quick look. */
const SIGNALS = Number(process.env['KRX_FAILOVER_SIGNALS'] ?? 1_000);


const LEASE_TTL_MS = 2_000;

const FINAL = new Set(['FILLED', 'REJECTED', 'CANCELED', 'EXPIRED', 'ERROR']);

interface ReportEntry {
  readonly reportId: string;
  readonly signalId: string | null;
  readonly role: string | null;
  readonly status: string | null;
  readonly reason: string | null;
  readonly clientOrderId: string | null;
}

describeWithPostgres('failover: the leader killed mid-burst, the standby finishes', () =>
  describeWithRedis('(PostgreSQL and Redis)', () => {
    let cli: CompiledCli;
    let paper: PaperExchange;
    let dir: string;
    const bus = uniqueName('failover');
    const admin = createClient({ url: REDIS_URL });
    const started: Child[] = [];
    beforeAll(async () => {
      cli = compileCli();
      // A key of its own: the cluster schema is named after the key, and the seed's key is every seeded run's.
      paper = await startPaperExchange({ tier: 'unlimited', seed: 11, apiKey: uniqueName('failover-key') });
      dir = mkdtempSync(join(tmpdir(), 'krx-failover-'));
      admin.on('error', () => undefined);
      await admin.connect();
    });
    afterAll(async () => {
      // A failed test must not leave a child running (nor jest waiting for it).
      for (const child of started) child.signal('SIGKILL');
      await Promise.all(started.map((child) => child.exited));
      await admin.del([busKeys(bus).inputs, busKeys(bus).reports]).catch(() => undefined);
      await admin.close();
      await paper.close();
      cli.remove();
      rmSync(dir, { recursive: true, force: true });
      if (postgresAvailable()) {
        const client = new pg.Client({ connectionString: PG_URL });
        await client.connect();
        await client.query(`DROP SCHEMA IF EXISTS "${clusterSchema(accountFingerprint(paper.apiKey))}" CASCADE`);
        await client.end();
      }
    });

    const reports = async (): Promise<ReportEntry[]> =>
      ((await admin.xRange(busKeys(bus).reports, '-', '+')) ?? []).map((entry) => {
        const report = entry.message['report'] === undefined ? null : (JSON.parse(String(entry.message['report'])) as Record<string, string | null>);
        return { reportId: String(entry.message['reportId']), signalId: report?.['signalId'] ?? null, role: report?.['role'] ?? null, status: report?.['status'] ?? null, reason: report?.['reason'] ?? null, clientOrderId: report?.['clientOrderId'] ?? null };
      });

    it(`${SIGNALS} signals, the leader SIGKILLed mid-burst: one final report each, no cl_ord_id twice, every fill protected`, async () => {
      const config = join(dir, 'config.json');
      // Short waits, so the failover fits the test: a 4 s deadline and a 3 s request timeout are the in-flight wait.
      writeFileSync(
        config,
        JSON.stringify({
          logLevel: 'info',
          exchange: { tier: 'unlimited', requestTimeoutMs: 3_000 },
          entry: { deadlineMs: 4_000, maxConcurrentPlacements: 16 },
          monitor: { minIntervalMs: 250, maxIntervalMs: 1_000 },
          lookup: { attempts: 6, intervalMs: 250 },
          retry: { maxAttempts: 5, initialDelayMs: 100, maxDelayMs: 1_000, multiplier: 2, jitter: 0.2 },
        }),
      );
      const env = (node: string): Record<string, string> => ({ KRAKEN_API_KEY: paper.apiKey, KRAKEN_API_SECRET: paper.apiSecret, KRX_CLUSTER_NODE: node });
      const run = ['run', '--config', config, '--url', paper.url, '--cluster', PG_URL, '--lease-ttl', String(LEASE_TTL_MS), '--bus', REDIS_URL, '--account', bus, '--json'];
      const children = started;
      const leader = new Child(cli, run, env('leader'));
      children.push(leader);
      await until('the leader to lead', () => leader.said(/leader: journal in PostgreSQL under epoch/), 20_000, children);
      const standby = new Child(cli, run, env('standby'));
      children.push(standby);
      await until('the standby to stand by', () => standby.said(/standby: waiting for the lease of account .* held by leader/), 20_000, children);

      const input = join(dir, 'signals.jsonl');
      const ids = Array.from({ length: SIGNALS }, (_, i) => `f${i + 1}`);
      writeFileSync(input, ids.map((signalId) => JSON.stringify({ signalId, pair: 'BTC/USD', side: 'buy', orderType: 'market', quantity: '0.0001', stopLoss: '57000' })).join('\n') + '\n');
      const publisher = new Child(cli, ['publish', '--bus', REDIS_URL, '--account', bus, '--input', input], {});
      children.push(publisher);

      // Mid-burst: a quarter of the signals placed on the exchange.
      await until('a quarter of the burst placed', () => paper.inspect.orders().length >= SIGNALS / 4, 60_000, children);
      leader.signal('SIGKILL');
      const killedAt = Date.now();
      expect((await leader.exited).signal).toBe('SIGKILL');
      expect((await publisher.exited).code).toBe(0);

      await until('the standby to take over', () => standby.said(/leader: journal in PostgreSQL under epoch 2/), 30_000, children);
      const finalEntries = async (): Promise<Map<string, Set<string>>> => {
        const byId = new Map<string, Set<string>>();
        for (const r of await reports()) {
          if (r.role !== 'entry' || r.status === null || !FINAL.has(r.status) || r.signalId === null) continue;
          byId.set(r.signalId, (byId.get(r.signalId) ?? new Set()).add(r.reportId));
        }
        return byId;
      };
      await until(`${SIGNALS} final entry reports`, async () => (await finalEntries()).size >= SIGNALS, 90_000, children).catch(async (error: unknown) => {
        const byType = paper.inspect.orders().map((o) => `${o.orderType}/${o.status}`);
        const counts = [...new Set(byType)].map((k) => `${k}=${byType.filter((x) => x === k).length}`);
        const rs = await reports();
        const done = await finalEntries();
        const missing = ids.filter((id) => !done.has(id));
        const theirs = rs.filter((r) => r.signalId !== null && missing.includes(r.signalId));
        throw new Error(`${String(error)}\nmissing ${missing.join(' ')}: ${JSON.stringify(theirs)}\norders: ${counts.join(' ')}; reports ${rs.length}, final entries ${(await finalEntries()).size}; requests ${JSON.stringify([...paper.inspect.requestCounts()])}\nlast reports: ${JSON.stringify(rs.slice(-5))}`);
      });
      const failoverMs = Date.now() - killedAt;

      // Exactly one final report per signal (a repeat would carry the same reportId; none is there at all).
      const finals = await finalEntries();
      expect(ids.filter((id) => finals.get(id)?.size !== 1)).toEqual([]);
      // No cl_ord_id twice on the exchange.
      const orders = paper.inspect.orders();
      const clOrdIds = orders.map((o) => o.clOrdId ?? '');
      expect(new Set(clOrdIds).size).toBe(clOrdIds.length);
      // A final entry report is FILLED, or REJECTED for a signal the leader journaled and whose order never reached
      // the exchange before the kill (never sent, or proven absent by its client order id: an entry is not sent
      // again after a restart); a rejected entry is nowhere on the exchange.
      const entryFinals = (await reports()).filter((r) => r.role === 'entry' && r.status !== null && FINAL.has(r.status));
      const onExchange = new Set(clOrdIds);
      const odd = entryFinals.filter((r) => r.status !== 'FILLED' && !(r.status === 'REJECTED' && (r.clientOrderId === null || !onExchange.has(r.clientOrderId))));
      expect(odd.map((r) => `${r.signalId} ${r.status} ${r.clientOrderId} ${r.reason}`)).toEqual([]);
      const filled = entryFinals.filter((r) => r.status === 'FILLED').length;
      const entries = orders.filter((o) => o.orderType === 'market');
      expect(entries).toHaveLength(filled);
      expect(entries.every((o) => o.status === 'closed' && o.volumeExecuted.eq('0.0001'))).toBe(true);
      // Every fill protected: one resting stop per filled entry.
      await until('a stop for every fill', () => paper.inspect.openOrders().filter((o) => o.orderType === 'stop-loss').length >= filled, 30_000, children);
      expect(paper.inspect.openOrders().filter((o) => o.orderType === 'stop-loss')).toHaveLength(filled);

      standby.signal('SIGINT');
      expect((await standby.exited).code).toBe(0);
      process.stdout.write(`failover: ${SIGNALS} signals (${filled} filled), the leader killed after ${SIGNALS / 4} orders; all final ${failoverMs} ms after the kill\n`);
    }, 240_000);
  }),
);
