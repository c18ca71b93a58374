import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createClient } from 'redis';
import { Subject, lastValueFrom, toArray } from 'rxjs';
import { publishLines } from '../src/bus/publish';
import { type RedisBus, type RedisClient, busKeys, openRedisBus, readerName } from '../src/bus/redis-bus';
import { runConsumerName } from '../src/cli/bus-run';
import { type CliIo } from '../src/cli/io';
import { main } from '../src/cli/main';
import { startPaperExchange } from '../src/paper';
import { type Table, count, fixed, printTable } from './table';

/** Where the bench looks for Redis (as the cluster specs do): loopback only. */
export const BUS_BENCH_REDIS = process.env['KRX_TEST_REDIS'] ?? 'redis://127.0.0.1:6379';

/** One measured way of publishing. */
export interface BusFigures {
  readonly mode: string;
  readonly signals: number;
  /** Signals per second, first publish → the last entry journaled and acknowledged; `null` without the bus. */
  readonly journaledPerSecond: number | null;
  /** Signals per second, first publish (without the bus: the first report) → the last NEW report. */
  readonly newPerSecond: number;
  /** Published (input entry's Redis time) → NEW report on the reports stream (its entry's Redis time), ms. */
  readonly p50Ms: number;
  readonly p99Ms: number;
  readonly maxMs: number;
}

const market = (signalId: string): string => JSON.stringify({ signalId, pair: 'BTC/USD', side: 'buy', orderType: 'market', quantity: '0.0001' });

/** A stream entry id's time: Redis's own clock when it appended the entry, ms. */
const entryTime = (id: string): number => Number(id.split('-')[0]);

const percentile = (sorted: readonly number[], p: number): number => sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * p))] ?? 0;

const pause = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * `kraken-rx run --bus` in this process (real time) against a paper exchange on the unlimited tier with a SQLite
 * journal: `signals` market buys published by `publish`, then read back from Redis — when every entry was
 * acknowledged (the ack follows the journal write), and each NEW report's entry time against its input entry's.
 */
async function measureOnce(admin: RedisClient, mode: string, signals: number, publish: (publisher: RedisBus, lines: string[]) => Promise<string[]>): Promise<BusFigures> {
  const account = `bench-bus-${process.pid}-${Date.now().toString(36)}`;
  const keys = busKeys(account);
  const dir = mkdtempSync(join(tmpdir(), 'kraken-rx-bench-bus-'));
  const paper = await startPaperExchange({ tier: 'unlimited', seed: 11, balances: { ZUSD: '1000000000', XXBT: '0' } });
  const publisher = await openRedisBus({ url: BUS_BENCH_REDIS, account, consumer: 'bench-publisher' });
  const config = join(dir, 'config.json');
  writeFileSync(config, JSON.stringify({ exchange: { tier: 'unlimited' }, entry: { maxConcurrentPlacements: 16 } }));
  const stops = new Subject<string>();
  const io: CliIo = {
    stdout: { write: () => undefined },
    stderr: { write: (text: string) => (process.env['BENCH_BUS_LOG'] === '1' ? process.stderr.write(text) : true) },
    stdin: process.stdin,
    // The paper exchange's WebSocket, as the CLI uses Kraken's by default: placements over the socket, fills pushed.
    env: { KRAKEN_API_KEY: paper.apiKey, KRAKEN_API_SECRET: paper.apiSecret, ...(process.env['BENCH_BUS_REST'] === '1' ? {} : { KRAKEN_WS_URL: paper.wsUrl }) },
    stopRequests: stops,
    now: Date.now,
  };
  const run = main(['run', '--config', config, '--url', paper.url, '--journal', join(dir, 'journal.db'), '--bus', BUS_BENCH_REDIS, '--account', account, '--json', '--log-level', process.env['BENCH_BUS_LOG'] === '1' ? 'info' : 'warn'], io);
  try {
    const reader = readerName({ account, consumer: runConsumerName() });
    // Started once its read connection is blocked on the stream: start-up is not counted as latency.
    while (!(await admin.clientList()).some((client) => client.name === reader && client.cmd === 'xreadgroup')) await pause(5);

    const lines = Array.from({ length: signals }, (_, index) => market(`b${index + 1}`));
    const started = Date.now();
    const ids = await publish(publisher, lines);
    const publishedAt = new Map(ids.map((id, index) => [`b${index + 1}`, entryTime(id)]));
    let acknowledgedAt = 0;
    for (;;) {
      const group = (await admin.xInfoGroups(keys.inputs)).find((info) => info.name === 'krx-handlers');
      if (group !== undefined && Number(group.pending) === 0 && Number(group['entries-read']) >= signals) {
        acknowledgedAt = Date.now();
        break;
      }
      await pause(5);
    }
    const newAt = new Map<string, number>();
    while (newAt.size < signals) {
      for (const entry of (await admin.xRange(keys.reports, '-', '+')) ?? []) {
        const report = JSON.parse(String(entry.message['report'] ?? '{}')) as { readonly status?: string; readonly signalId?: string };
        if (report.status === 'NEW' && report.signalId !== undefined && !newAt.has(report.signalId)) newAt.set(report.signalId, entryTime(String(entry.id)));
      }
      if (newAt.size < signals) await pause(20);
    }
    const latencies = [...newAt].map(([signalId, at]) => at - (publishedAt.get(signalId) ?? at)).sort((a, b) => a - b);
    const firstPublished = Math.min(...publishedAt.values());
    return {
      mode,
      signals,
      journaledPerSecond: signals / Math.max(0.001, (acknowledgedAt - started) / 1000),
      newPerSecond: signals / Math.max(0.001, (Math.max(...newAt.values()) - firstPublished) / 1000),
      p50Ms: percentile(latencies, 0.5),
      p99Ms: percentile(latencies, 0.99),
      maxMs: latencies[latencies.length - 1] ?? 0,
    };
  } finally {
    stops.next('SIGINT');
    await run;
    await lastValueFrom(publisher.close(), { defaultValue: undefined });
    await paper.close();
    await admin.del([keys.inputs, keys.reports]);
    rmSync(dir, { recursive: true, force: true });
  }
}

/**
 * The same 1,000 signals from a file instead of the bus, for reference: the handler's own pace on this machine,
 * from the first report to the last NEW (start-up left out, as the bus runs leave it out).
 */
async function measureFromFile(signals: number): Promise<BusFigures> {
  const dir = mkdtempSync(join(tmpdir(), 'kraken-rx-bench-file-'));
  const paper = await startPaperExchange({ tier: 'unlimited', seed: 11, balances: { ZUSD: '1000000000', XXBT: '0' } });
  try {
    const config = join(dir, 'config.json');
    writeFileSync(config, JSON.stringify({ exchange: { tier: 'unlimited' }, entry: { maxConcurrentPlacements: 16 } }));
    const file = join(dir, 'signals.jsonl');
    writeFileSync(file, Array.from({ length: signals }, (_, index) => `${market(`b${index + 1}`)}\n`).join(''));
    let first = 0;
    let lastNew = 0;
    const io: CliIo = {
      stdout: {
        write: (text: string) => {
          first ||= Date.now();
          if (text.includes('"status":"NEW"')) lastNew = Date.now();
          return true;
        },
      },
      stderr: { write: () => true },
      stdin: process.stdin,
      env: { KRAKEN_API_KEY: paper.apiKey, KRAKEN_API_SECRET: paper.apiSecret, ...(process.env['BENCH_BUS_REST'] === '1' ? {} : { KRAKEN_WS_URL: paper.wsUrl }) },
      stopRequests: new Subject<string>(),
      now: Date.now,
    };
    await main(['run', '--config', config, '--url', paper.url, '--journal', join(dir, 'journal.db'), '--signals', file, '--json', '--log-level', 'warn'], io);
    return { mode: 'from a file, no bus (reference)', signals, journaledPerSecond: null, newPerSecond: signals / Math.max(0.001, (lastNew - first) / 1000), p50Ms: Number.NaN, p99Ms: Number.NaN, maxMs: Number.NaN };
  } finally {
    await paper.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

/**
 * The bus bench: a burst of 1,000 signals published at once (throughput), and 200 paced one every 20 ms
 * (latency with no queue). `null` when Redis is not reachable (the caller prints one skip line).
 */
export async function measureBus(): Promise<BusFigures[] | null> {
  const admin: RedisClient = createClient({ url: BUS_BENCH_REDIS, socket: { reconnectStrategy: false } });
  admin.on('error', () => undefined);
  try {
    await admin.connect();
  } catch {
    return null;
  }
  try {
    const burst = (publisher: RedisBus, lines: string[]): Promise<string[]> => lastValueFrom(publishLines(publisher, lines).pipe(toArray()));
    const paced = async (publisher: RedisBus, lines: string[]): Promise<string[]> => {
      const ids: string[] = [];
      for (const line of lines) {
        ids.push(...(await lastValueFrom(publishLines(publisher, [line]).pipe(toArray()))));
        await pause(20);
      }
      return ids;
    };
    return [
      await measureOnce(admin, 'burst of 1,000 at once', 1_000, burst),
      await measureFromFile(1_000),
      await measureOnce(admin, 'paced, one every 20 ms', 200, paced),
    ];
  } finally {
    await admin.close();
  }
}

export function busTable(figures: readonly BusFigures[]): Table {
  return {
    title: 'The bus: signals through Redis into the journal (`run --bus`, SQLite, paper exchange on the unlimited tier)',
    columns: ['published', 'signals', 'journaled + acked per s', 'NEW per s', 'published → NEW p50 ms', 'p99 ms', 'max ms'],
    rows: figures.map((row) => [
      row.mode,
      count(row.signals),
      row.journaledPerSecond === null ? '—' : fixed(row.journaledPerSecond, 0),
      fixed(row.newPerSecond, 0),
      ...[row.p50Ms, row.p99Ms, row.maxMs].map((ms) => (Number.isNaN(ms) ? '—' : count(ms))),
    ]),
    notes: [
      'The whole `kraken-rx run --bus` in one process with a paper exchange on loopback (its WebSocket, as the CLI uses',
      "Kraken's; `BENCH_BUS_REST=1` for REST only): each market buy read from the stream, journaled (SQLite,",
      'synchronous=FULL) and acknowledged, placed; per s: from the first publish to the last entry acknowledged, and to',
      "the last NEW report. Latency: Redis's own time from the input entry to its NEW report's entry (1 ms resolution).",
      'The file row is the same signals without the bus: the handler, not the bus, sets the pace of a burst.',
    ],
  };
}

/** The skip line when Redis is not there. */
export const busSkipLine = (): string => `skipped: the bus bench (Redis not reachable at ${new URL(BUS_BENCH_REDIS).host})`;

if (require.main === module) {
  void (async () => {
    const figures = await measureBus();
    if (figures === null) process.stdout.write(`${busSkipLine()}\n`);
    else printTable(busTable(figures));
  })();
}
