import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it, jest } from '@jest/globals';
import { type CliIo } from '../../src/cli/io';
import { type CapturedIo, captureIo } from './support/capture-io';
import { main } from '../../src/cli/main';
import * as paperModule from '../../src/paper';
import { type PaperExchange } from '../../src/paper';
import { IdleClock } from '../../src/time/idle-clock';

/**
 * `kraken-rx run --paper` with the WebSocket feed (the default) and with `feed.mode: rest`, in-process on an
 * idle clock: the embedded paper exchange is the real one, watched through a spy on its start to count what
 * the run asked of it.
 */

const dir = mkdtempSync(join(tmpdir(), 'kraken-rx-run-feed-'));
const writeFile = (name: string, content: string): string => {
  const path = join(dir, name);
  writeFileSync(path, content);
  return path;
};

/**
 * A market buy that fills at once and gets its stop, and a limit far below the market that rests for 20 s and
 * is then cancelled: 20 s of following an open order, which polling pays for in OpenOrders ticks.
 */
const signals = writeFile(
  'signals.jsonl',
  [
    '{"signalId":"m1","pair":"BTC/USD","side":"buy","orderType":"market","quantity":"0.01","stopLoss":"30000"}',
    '{"signalId":"l1","pair":"BTC/USD","side":"buy","orderType":"limit","quantity":"0.01","limitPrice":"20000","timeoutMs":20000}',
  ].join('\n') + '\n',
);

const configWith = (name: string, extra: Record<string, unknown>): string =>
  writeFile(name, JSON.stringify({ entry: { maxPriceDeviation: null }, ...extra }));

interface Run {
  readonly code: number;
  readonly io: CapturedIo;
  readonly paper: PaperExchange;
}

async function runPaper(config: string): Promise<Run> {
  const started: PaperExchange[] = [];
  const original = paperModule.startPaperExchange;
  const spy = jest.spyOn(paperModule, 'startPaperExchange').mockImplementation(async (options) => {
    const paper = await original(options);
    started.push(paper);
    return paper;
  });
  try {
    const clock = new IdleClock();
    const io = captureIo({ clock });
    const code = await clock.drive(main(['run', '--paper', '--config', config, '--signals', signals], io), 3_600_000);
    const paper = started[0];
    if (paper === undefined) throw new Error(`the run started no paper exchange: ${io.err()}`);
    return { code, io, paper };
  } finally {
    spy.mockRestore();
  }
}

const lines = (out: string, signalId: string): string[] => out.split('\n').filter((line) => line.includes(`[${signalId}]`));

afterEach(() => {
  jest.restoreAllMocks();
});

describe('kraken-rx run --paper: the feed', () => {
  it('uses the WebSocket feed by default: the fill and the cancel come from the socket, REST polls far less', async () => {
    const ws = await runPaper(configWith('ws.json', {}));
    const rest = await runPaper(configWith('rest.json', { feed: { mode: 'rest', auditIntervalMs: 60_000 } }));
    for (const run of [ws, rest]) {
      expect(run.code).toBe(0);
      expect(lines(run.io.out(), 'm1').join('\n')).toMatch(/entry +BTC\/USD +buy +market +FILLED/);
      expect(lines(run.io.out(), 'm1').join('\n')).toMatch(/stop-loss .*NEW/);
      expect(lines(run.io.out(), 'l1').join('\n')).toMatch(/CANCELED/);
    }
    expect(ws.io.err()).toContain('feed: WebSocket v2 ws://127.0.0.1:');
    expect(ws.paper.inspect.requestCount('GetWebSocketsToken')).toBeGreaterThanOrEqual(1);
    const polls = (run: Run): number => run.paper.inspect.requestCount('OpenOrders');
    // Polling follows the resting limit with a tick every couple of seconds; the feed needs none in 20 s (the
    // audit is a minute), and no QueryOrders to learn of the fill or the cancel.
    expect(polls(rest)).toBeGreaterThanOrEqual(5);
    expect(polls(ws)).toBeLessThan(polls(rest));
    expect(polls(ws)).toBeLessThanOrEqual(1);
    expect(ws.paper.inspect.requestCount('QueryOrders')).toBeLessThan(rest.paper.inspect.requestCount('QueryOrders'));
  });

  it('with feed.mode rest opens no WebSocket: no token is asked for, and the start-up line says so', async () => {
    const rest = await runPaper(configWith('rest-only.json', { feed: { mode: 'rest', auditIntervalMs: 60_000 } }));
    expect(rest.code).toBe(0);
    expect(rest.paper.inspect.requestCount('GetWebSocketsToken')).toBe(0);
    expect(rest.io.err()).toContain('feed: REST polling (config feed.mode is rest)');
    expect(rest.io.err()).not.toContain('feed: WebSocket');
  });
});

describe('kraken-rx run --url: the feed', () => {
  let clock: IdleClock;
  let paper: PaperExchange;
  beforeEach(async () => {
    clock = new IdleClock();
    paper = await paperModule.startPaperExchange({ seed: 9, clock: () => clock.now(), timers: clock.waitTimers, wsTimers: clock.timers, links: clock.links });
  });
  afterEach(async () => {
    await clock.settle();
    await paper.close();
  });
  const keys = (): Record<string, string> => ({ KRAKEN_API_KEY: paper.apiKey, KRAKEN_API_SECRET: paper.apiSecret });
  const run = (io: CliIo): Promise<number> =>
    clock.drive(main(['run', '--url', paper.url, '--no-journal', '--config', configWith('url.json', {}), '--signals', signals], io), 3_600_000);

  it('uses the WebSocket at KRAKEN_WS_URL (a standalone paper exchange): the token is asked for, the polling is gone', async () => {
    const io = captureIo({ clock, env: { ...keys(), KRAKEN_WS_URL: paper.wsUrl } });
    await expect(run(io)).resolves.toBe(0);
    expect(io.err()).toContain(`feed: WebSocket v2 ${paper.wsUrl}`);
    expect(lines(io.out(), 'm1').join('\n')).toMatch(/FILLED/);
    expect(paper.inspect.requestCount('GetWebSocketsToken')).toBeGreaterThanOrEqual(1);
    expect(paper.inspect.requestCount('OpenOrders')).toBeLessThanOrEqual(1);
  });

  it('polls REST for another exchange URL without KRAKEN_WS_URL, and says why', async () => {
    const io = captureIo({ clock, env: keys() });
    await expect(run(io)).resolves.toBe(0);
    expect(io.err()).toContain(`feed: REST polling (no WebSocket URL known for ${paper.url}; set KRAKEN_WS_URL to use one)`);
    expect(paper.inspect.requestCount('GetWebSocketsToken')).toBe(0);
  });

  it('names the variable of a WebSocket URL it cannot use', async () => {
    const io = captureIo({ clock, env: { ...keys(), KRAKEN_WS_URL: 'http://127.0.0.1:1/v2' } });
    await expect(run(io)).resolves.toBe(1);
    expect(io.err()).toContain('KRAKEN_WS_URL: expected a ws:// or wss:// URL without user name or password');
    expect(io.err()).not.toContain(paper.apiSecret);
  });
});
