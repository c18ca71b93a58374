import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, beforeEach, expect, it } from '@jest/globals';
import { createClient } from 'redis';
import { Subject, firstValueFrom, lastValueFrom, take, toArray } from 'rxjs';
import { busInputs$ } from '../../src/bus/bus-inputs';
import { publishLines } from '../../src/bus/publish';
import { type RedisBus, type RedisClient, busKeys, commandsName, openRedisBus, readerName } from '../../src/bus/redis-bus';
import { openBusRun, runConsumerName } from '../../src/cli/bus-run';
import { openMemoryJournal } from '../../src/journal/memory';
import { Decimal } from 'decimal.js';
import { parseInputLine } from '../../src/cli/input';
import { main } from '../../src/cli/main';
import { type PaperExchange, startPaperExchange } from '../../src/paper';
import { IdleClock } from '../../src/time/idle-clock';
import { type CapturedIo, captureIo } from '../cli/support/capture-io';
import { compileCli } from '../e2e/support/crash-child';
import { Relay } from './support/relay';
import { REDIS_URL, describeWithRedis, uniqueName } from './support/services';

/**
 * Lets the idle clock's time pass while a test waits on Redis (whose answers the clock cannot see): a step of
 * virtual time whenever the loopback is idle, until stopped.
 */
function driveClock(clock: IdleClock): { stop(): Promise<void> } {
  let running = true;
  const loop = (async () => {
    while (running) {
      await clock.advance(100);
      await new Promise((resolve) => setImmediate(resolve));
    }
  })();
  return {
    stop: async () => {
      running = false;
      await loop;
    },
  };
}

/**
 * `kraken-rx run --bus` in-process against a paper exchange on 127.0.0.1 (`--url`, credentials in the environment)
 * and the real Redis, with a SQLite journal in a temporary directory: inputs from the account's stream, reports to
 * its reports stream, every entry acknowledged once journaled, nothing handled twice across a restart.
 */

const market = (signalId: string): string => JSON.stringify({ signalId, pair: 'BTC/USD', side: 'buy', orderType: 'market', quantity: '0.001' });
const HALT_ON = '{"type":"halt","halted":true}';
const HALT_OFF = '{"type":"halt","halted":false}';

/** A report entry as a consumer of the reports stream reads it. */
interface ReportEntry {
  readonly reportId: string;
  readonly signalId: string | undefined;
  readonly status: string | undefined;
  readonly clientOrderId: string | null | undefined;
  readonly reason: string | null | undefined;
  readonly skipped: { readonly entryId: string; readonly reason: string; readonly halted: boolean } | undefined;
}

const FINAL = new Set(['FILLED', 'REJECTED', 'CANCELED', 'EXPIRED', 'ERROR']);

/** Polls (not a fixed sleep) until `condition` holds; fails naming `what` after `ms` of real time. */
async function until(condition: () => Promise<boolean>, what: string, io?: CapturedIo, ms = 10_000): Promise<void> {
  const start = Date.now();
  while (!(await condition())) {
    if (Date.now() - start > ms) throw new Error(`gave up waiting for ${what}${io ? `; the run said:\n${io.err()}` : ''}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

describeWithRedis('kraken-rx run --bus', () => {
  let admin: RedisClient;
  let account: string;
  let dir: string;
  let paper: PaperExchange;
  let publisher: RedisBus;
  let clock: IdleClock;
  let driver: { stop(): Promise<void> };
  let config: string;

  beforeAll(async () => {
    admin = createClient({ url: REDIS_URL });
    admin.on('error', () => undefined);
    await admin.connect();
  });
  afterAll(async () => {
    await admin.close();
  });
  beforeEach(async () => {
    account = uniqueName('run-bus');
    dir = mkdtempSync(join(tmpdir(), 'kraken-rx-run-bus-'));
    clock = new IdleClock();
    driver = driveClock(clock);
    paper = await startPaperExchange({ tier: 'unlimited', seed: 7, clock: () => clock.now(), timers: clock.waitTimers });
    config = join(dir, 'config.json');
    writeFileSync(config, JSON.stringify({ exchange: { tier: 'unlimited' } }));
    publisher = await openRedisBus({ url: REDIS_URL, account, consumer: 'publisher' });
  });
  afterEach(async () => {
    await lastValueFrom(publisher.close(), { defaultValue: undefined });
    await paper.close();
    await driver.stop();
    const keys = busKeys(account);
    await admin.del([keys.inputs, keys.reports]);
    rmSync(dir, { recursive: true, force: true });
  });

  const publish = (lines: string[]): Promise<string[]> => lastValueFrom(publishLines(publisher, lines).pipe(toArray()));

  /** A run of `kraken-rx run --bus` on this test's account and journal, stopped with `stop()` (SIGINT). */
  const start = (journal = join(dir, 'journal.db'), bus = REDIS_URL): { readonly io: CapturedIo; readonly done: Promise<number>; stop(): void } => {
    const stops = new Subject<string>();
    const io: CapturedIo = { ...captureIo({ env: { KRAKEN_API_KEY: paper.apiKey, KRAKEN_API_SECRET: paper.apiSecret }, clock }), stopRequests: stops };
    const done = main(['run', '--config', config, '--url', paper.url, '--journal', journal, '--bus', bus, '--account', account, '--json'], io);
    return { io, done, stop: () => stops.next('SIGINT') };
  };

  const reports = async (): Promise<ReportEntry[]> =>
    ((await admin.xRange(busKeys(account).reports, '-', '+')) ?? []).map((entry) => {
      const fields = entry.message;
      const report = fields['report'] === undefined ? undefined : (JSON.parse(String(fields['report'])) as Record<string, string | null>);
      const skipped = fields['skipped'] === undefined ? undefined : (JSON.parse(String(fields['skipped'])) as ReportEntry['skipped']);
      return {
        reportId: String(fields['reportId']),
        signalId: report?.['signalId'] ?? undefined,
        status: report?.['status'] ?? undefined,
        clientOrderId: report?.['clientOrderId'],
        reason: report?.['reason'],
        skipped,
      };
    });
  const finals = async (): Promise<ReportEntry[]> => (await reports()).filter((report) => report.status !== undefined && FINAL.has(report.status));
  const pendingCount = async (): Promise<number> => Number((await admin.xPending(busKeys(account).inputs, 'krx-handlers')).pending);
  const connectionsOf = async (consumer: string): Promise<string[]> => {
    const names = [readerName({ account, consumer }), commandsName({ account, consumer })];
    return (await admin.clientList()).filter((client) => names.includes(client.name)).map((client) => client.name);
  };

  it('turns 20 published signals into 20 FILLED reports on the reports stream, acknowledges every entry, and ends on SIGINT', async () => {
    const ids = Array.from({ length: 20 }, (_, index) => `s${index + 1}`);
    await publish(ids.map(market));
    const run = start();
    await until(async () => (await finals()).length >= 20, '20 final reports', run.io);
    run.stop();
    await expect(run.done).resolves.toBe(0);

    const all = await reports();
    expect(new Set(all.map((report) => report.reportId)).size).toBe(all.length);
    const final = await finals();
    expect(final.map((report) => report.signalId).sort()).toEqual([...ids].sort());
    expect(final.every((report) => report.status === 'FILLED')).toBe(true);
    expect(all.filter((report) => report.status === 'NEW').map((report) => report.signalId).sort()).toEqual([...ids].sort());
    expect(await pendingCount()).toBe(0);
    // Nothing left open: the read and command connections are gone once the run has returned.
    expect(await connectionsOf(runConsumerName())).toEqual([]);
    expect(run.io.err()).toContain('bus: 20 entries acknowledged');
    expect(run.io.out()).toContain('"status":"FILLED"');
  });

  /** A reader of the group that reads `count` entries as `consumer` and dies before acknowledging any. */
  const readAndDie = async (consumer: string, count: number): Promise<void> => {
    // One read of `count` entries: a larger batch would make the rest pending with it too.
    const reader = await openRedisBus({ url: REDIS_URL, account, consumer, batchSize: count });
    try {
      await lastValueFrom(busInputs$(reader, parseInputLine).pipe(take(count), toArray()));
    } finally {
      await lastValueFrom(reader.close(), { defaultValue: undefined });
    }
  };
  /** Makes entries pending with `consumer` again (as if their acknowledgements had been lost), idle for `idleMs`. */
  const unacknowledge = async (consumer: string, ids: readonly string[], idleMs: number): Promise<void> => {
    await admin.sendCommand(['XCLAIM', busKeys(account).inputs, 'krx-handlers', consumer, '0', ...ids, 'IDLE', String(idleMs), 'FORCE', 'JUSTID']);
  };
  const finalsBySignal = async (): Promise<Record<string, string[]>> => {
    const bySignal: Record<string, string[]> = {};
    for (const report of await finals()) (bySignal[report.signalId ?? ''] ??= []).push(report.status ?? '');
    return bySignal;
  };

  it('re-delivers what a run read and did not journal, and drops what it journaled and did not acknowledge: one final report and one cl_ord_id each', async () => {
    const ids = await publish(['s1', 's2', 's3', 's4'].map(market));
    // Read and lost before journaling: s1 s2 by this host's run (pending at its next start), s3 s4 by a dead
    // consumer elsewhere, idle for a minute (claimed).
    await readAndDie(runConsumerName(), 2);
    await readAndDie('dead', 2);
    await unacknowledge('dead', ids.slice(2), 60_000);

    const first = start();
    await until(async () => (await finals()).length >= 4 && (await pendingCount()) === 0, 'four final reports, all acknowledged', first.io);
    first.stop();
    await expect(first.done).resolves.toBe(0);
    expect(await finalsBySignal()).toEqual({ s1: ['FILLED'], s2: ['FILLED'], s3: ['FILLED'], s4: ['FILLED'] });
    const written = (await reports()).length;

    // A crash after journaling and before the acknowledgements: every entry pending again, two of them with a dead consumer.
    await unacknowledge(runConsumerName(), ids.slice(0, 2), 0);
    await unacknowledge('dead', ids.slice(2), 60_000);
    expect(await pendingCount()).toBe(4);
    const second = start();
    await until(async () => (await pendingCount()) === 0, 'the re-delivered entries to be acknowledged', second.io);
    second.stop();
    await expect(second.done).resolves.toBe(0);

    // Acknowledged without being handled again: no report, no order.
    expect((await reports()).length).toBe(written);
    expect(await finalsBySignal()).toEqual({ s1: ['FILLED'], s2: ['FILLED'], s3: ['FILLED'], s4: ['FILLED'] });
    const orders = paper.inspect.orders();
    expect(orders).toHaveLength(4);
    for (const order of orders) expect(paper.inspect.acceptedCount(order.clOrdId ?? '')).toBe(1);
    expect(second.io.err().match(/is journaled already: acknowledged, not handled again/g)).toHaveLength(4);
    expect(second.io.err()).toContain(`entry ${ids[0] ?? ''} (signal s1, pending) is journaled already`);
    expect(second.io.err()).toContain(`entry ${ids[3] ?? ''} (signal s4, claimed) is journaled already`);
    expect(second.io.err()).toContain('bus: 4 entries acknowledged (4 journaled before, not handled again)');
  });

  it('carries on when Redis is gone mid-run and comes back: one final report, one acknowledgement and one accepted cl_ord_id per signal', async () => {
    const relay = new Relay(REDIS_URL);
    await relay.start();
    const ids = Array.from({ length: 20 }, (_, index) => `g${index + 1}`);
    const run = start(join(dir, 'journal.db'), relay.url);
    try {
      await publish(ids.slice(0, 10).map(market));
      await until(async () => (await finals()).length >= 1, 'a first final report', run.io);
      await relay.stop();
      await until(async () => (await connectionsOf(runConsumerName())).length === 0, "Redis to lose the run's connections", run.io);
      // Published while the run cannot see Redis; its reads, writes and acknowledgements are retried with the
      // backoff, whose delays pass on the idle clock.
      await publish(ids.slice(10).map(market));
      const cutAt = clock.now();
      await until(async () => clock.now() - cutAt >= 10_000, '10 s of virtual time without Redis', run.io);
      const late = new Set(ids.slice(10));
      expect((await reports()).filter((report) => late.has(report.signalId ?? ''))).toEqual([]);
      await relay.start();
      await until(async () => (await finals()).length >= 20 && (await pendingCount()) === 0, '20 final reports, everything acknowledged', run.io);
    } finally {
      run.stop();
      await relay.stop();
    }
    await expect(run.done).resolves.toBe(0);

    // A report written as Redis went away may land twice (at least once): a consumer drops the repeat by its reportId.
    const finalIds: Record<string, Set<string>> = {};
    for (const report of await finals()) (finalIds[report.signalId ?? ''] ??= new Set()).add(report.reportId);
    expect(Object.keys(finalIds).sort()).toEqual([...ids].sort());
    for (const signalId of ids) expect(finalIds[signalId]?.size).toBe(1);
    expect((await finals()).every((report) => report.status === 'FILLED')).toBe(true);
    expect(await pendingCount()).toBe(0);
    const orders = paper.inspect.orders();
    expect(orders).toHaveLength(20);
    for (const order of orders) expect(paper.inspect.acceptedCount(order.clOrdId ?? '')).toBe(1);
  });

  it("writes a malformed entry's skip report and acknowledges it; a new entry repeating a signalId is REJECTED as a duplicate", async () => {
    const [bad] = await publish(['{"signalId": "d0", oops', market('d1'), market('d1')]);
    const run = start();
    await until(async () => (await finals()).length >= 2 && (await pendingCount()) === 0, 'the two d1 final reports, everything acknowledged', run.io);
    run.stop();
    await expect(run.done).resolves.toBe(0);

    const all = await reports();
    const skip = all.find((report) => report.skipped !== undefined);
    expect(skip?.reportId).toBe(`skipped:${bad}`);
    expect(skip?.skipped).toMatchObject({ entryId: bad, halted: false, reason: expect.stringContaining('not valid JSON') });
    const d1 = (await finals()).filter((report) => report.signalId === 'd1');
    expect(d1.map((report) => report.status).sort()).toEqual(['FILLED', 'REJECTED']);
    expect(d1.find((report) => report.status === 'REJECTED')?.reason).toMatch(/^signalId: duplicate signalId: already journaled/);
    expect(paper.inspect.orders()).toHaveLength(1);
    expect(run.io.out()).toContain('"type":"skipped"');
  });

  it('acknowledges a close command once journaled, and one refused before journaling once its REJECTED is written', async () => {
    await publish([market('k1')]);
    const run = start();
    await until(async () => (await finals()).length >= 1, 'k1 filled', run.io);
    await publish(['{"type":"close","commandId":"c1","pair":"BTC/USD"}', '{"type":"close","commandId":"c2","pair":"NOPE/USD"}']);
    await until(async () => (await finals()).length >= 3 && (await pendingCount()) === 0, 'both closes final, everything acknowledged', run.io);
    run.stop();
    await expect(run.done).resolves.toBe(0);
    const closes = (await finals()).filter((report) => report.signalId === 'c1' || report.signalId === 'c2');
    expect(closes.map((report) => [report.signalId, report.status]).sort()).toEqual([
      ['c1', 'FILLED'],
      ['c2', 'REJECTED'],
    ]);
    expect(paper.inspect.orders().map((order) => order.side)).toEqual(['buy', 'sell']);
  });

  it('rejects the entry after a HALT line, and keeps HALT on across a restart until a HALT off line', async () => {
    await publish([HALT_ON, market('h1')]);
    const first = start();
    await until(async () => (await finals()).length >= 1 && (await pendingCount()) === 0, 'h1 rejected, everything acknowledged', first.io);
    first.stop();
    await expect(first.done).resolves.toBe(0);
    expect((await finals()).map((report) => [report.signalId, report.status, report.reason])).toEqual([['h1', 'REJECTED', 'halted: HALT is on: new entries are rejected']]);

    // The HALT line was acknowledged once journaled: the next start is halted by the journal, not by a re-delivery.
    const second = start();
    await publish([market('h2'), HALT_OFF, market('h3')]);
    await until(async () => (await finals()).length >= 3 && (await pendingCount()) === 0, 'h2 and h3 final, everything acknowledged', second.io);
    second.stop();
    await expect(second.done).resolves.toBe(0);
    expect((await finals()).map((report) => [report.signalId, report.status])).toEqual([
      ['h1', 'REJECTED'],
      ['h2', 'REJECTED'],
      ['h3', 'FILLED'],
    ]);
    expect(second.io.err()).toContain('bus: HALT is on, as the journal last recorded it');
    expect(paper.inspect.orders()).toHaveLength(1);
  });

  it('says what is wrong with --account before starting, and names an unreachable Redis without its password', async () => {
    const io = captureIo({ env: { KRAKEN_API_KEY: paper.apiKey, KRAKEN_API_SECRET: paper.apiSecret }, clock });
    const run = (argv: string[]): Promise<number> => main(['run', '--config', config, '--url', paper.url, '--journal', join(dir, 'j.db'), ...argv], io);
    await expect(run(['--bus', REDIS_URL, '--account', 'no spaces'])).resolves.toBe(2);
    expect(io.err()).toContain('kraken-rx: --account must be 1 to 128 letters, digits or _ . : -, got "no spaces"');
    await expect(run(['--bus', 'redis://user:hunter2@127.0.0.1:1', '--account', account])).resolves.toBe(1);
    expect(io.err()).toContain('kraken-rx: cannot reach Redis at redis://127.0.0.1:1');
    expect(io.err()).not.toContain('hunter2');
    expect(paper.inspect.orders()).toHaveLength(0);
  });

  it('as a process: SIGINT stops it, and it exits by itself with everything acknowledged', async () => {
    const cli = compileCli();
    try {
      await publish(['p1', 'p2', 'p3'].map(market));
      // Real time in the child: the client's REST polling is its own, the paper exchange here answers at once.
      const child = spawn(process.execPath, [cli.entry, 'run', '--config', config, '--url', paper.url, '--journal', join(dir, 'child.db'), '--bus', REDIS_URL, '--account', account], {
        env: { ...process.env, KRAKEN_API_KEY: paper.apiKey, KRAKEN_API_SECRET: paper.apiSecret },
        stdio: ['ignore', 'ignore', 'pipe'],
      });
      let err = '';
      child.stderr.on('data', (chunk: Buffer) => (err += chunk.toString()));
      const exited = new Promise<number | null>((resolve) => child.on('close', (code) => resolve(code)));
      await until(async () => (await finals()).length >= 3, 'three final reports from the child');
      child.kill('SIGINT');
      // No timer, socket or connection left open: the event loop empties and the process ends on its own.
      expect(await exited).toBe(0);
      expect(await pendingCount()).toBe(0);
      expect(err).toContain('bus: 3 entries acknowledged');
    } finally {
      cli.remove();
    }
  }, 60_000);

  it('stops with exit code 1 when reading the stream fails for good (an error reply, not a lost connection)', async () => {
    await publish([market('w1')]);
    const run = start();
    await until(async () => (await finals()).length >= 1 && (await pendingCount()) === 0, 'w1 final and acknowledged', run.io);
    await until(async () => (await admin.clientList()).some((client) => client.name === readerName({ account, consumer: runConsumerName() }) && client.cmd === 'xreadgroup'), 'the reader to block', run.io);
    // The input stream replaced by a string: no retry can cure that.
    await admin.multi().del(busKeys(account).inputs).set(busKeys(account).inputs, 'not a stream').exec();
    await expect(run.done).resolves.toBe(1);
    expect(run.io.err()).toMatch(/ERROR bus: reading krx:\S+:in failed: .*; stopping/);
    expect(run.io.err()).toContain('the bus failed: stopping gracefully');
    expect(await connectionsOf(runConsumerName())).toEqual([]);
  });

  it('closes within its timeout when Redis is gone with an acknowledgement in flight, leaving that entry pending', async () => {
    const relay = new Relay(REDIS_URL);
    await relay.start();
    const url = relay.url;
    const warnings: string[] = [];
    const log = { debug: () => undefined, info: () => undefined, warn: (...parts: unknown[]) => warnings.push(parts.join(' ')), error: () => undefined };
    const journal = openMemoryJournal({ account: 'bus-close-spec' });
    const busRun = await openBusRun({ url, account, journal, log, consumer: 'closing', closeTimeoutMs: 300, bus: { backoff: { initialDelayMs: 10, maxDelayMs: 50, multiplier: 2, jitter: 0 } } });
    try {
      const signal = firstValueFrom(busRun.input.signals$);
      const reading = busRun.input.connect();
      await publish([market('gone1')]);
      const { signalId } = await signal;
      reading.unsubscribe();
      await relay.stop();
      // Journaled while Redis is away: its acknowledgement cannot land.
      await firstValueFrom(
        busRun.journal.recordSignal({ signalId, receivedAt: 0, pair: 'XXBTZUSD', side: 'buy', orderType: 'market', quantity: new Decimal('0.001'), limitPrice: null, stopLoss: null, takeProfit: null, timeoutMs: null }),
      );
      const end = await busRun.close();
      expect(end).toMatchObject({ acknowledged: 0, unacknowledged: 1, failed: false });
      expect(warnings.join('\n')).toContain('still in flight after 300 ms');
      expect(await pendingCount()).toBe(1);
    } finally {
      await busRun.close();
      await relay.stop();
    }
  });
});
