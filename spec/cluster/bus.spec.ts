import { Readable } from 'node:stream';
import { afterAll, afterEach, beforeAll, beforeEach, expect, it } from '@jest/globals';
import { Decimal } from 'decimal.js';
import { createClient } from 'redis';
import { EMPTY, type Subscription, concatMap, firstValueFrom, from, lastValueFrom, of, take, toArray } from 'rxjs';
import { type BusInput, busInputs$ } from '../../src/bus/bus-inputs';
import { publishLines } from '../../src/bus/publish';
import { type RedisBus, type RedisBusOptions, type RedisClient, commandsName, openRedisBus, readerName } from '../../src/bus/redis-bus';
import { writeReports } from '../../src/bus/write-reports';
import { type CliIo } from '../../src/cli/io';
import { type InputLine, parseInputLine } from '../../src/cli/input';
import { main } from '../../src/cli/main';
import { type ExecutionReport } from '../../src/model/report';
import { Relay } from './support/relay';
import { REDIS_URL, describeWithRedis, uniqueName } from './support/services';

const signalLine = (signalId: string): string =>
  JSON.stringify({ signalId, pair: 'BTC/USD', side: 'buy', orderType: 'limit', quantity: '0.01', limitPrice: '30000' });
const HALT_ON = '{"type":"halt","halted":true}';

const report = (reportId: string, status: ExecutionReport['status'], filled: string): ExecutionReport => ({
  reportId,
  timestamp: 1_700_000_000_000,
  signalId: 's1',
  clientOrderId: 'c1',
  exchangeOrderId: 'OABC-1',
  pair: 'BTC/USD',
  role: 'entry',
  side: 'buy',
  orderType: 'limit',
  status,
  quantityOrdered: new Decimal('0.00000003'),
  quantityFilled: new Decimal(filled),
  lastFillQuantity: new Decimal(filled),
  lastFillPrice: new Decimal('30000.1'),
  averageFillPrice: new Decimal('30000.1'),
  limitPrice: new Decimal('30000.1'),
  stopPrice: null,
  commission: new Decimal('0.0000000000000000000001'),
  commissionAsset: 'USD',
  reason: null,
});
const signalReport = (reportId: string): ExecutionReport => report(reportId, 'NEW', '0');

/** What a test needs to see of an input: which entry, how it came, which signal or command. */
const seen = (input: BusInput<InputLine>): [string, string, string] => {
  const value = input.value;
  const what = value.kind === 'signal' ? value.signal.signalId : value.kind === 'halt' ? `halt ${String(value.halted)}` : value.kind;
  return [input.entryId, input.delivery, what];
};

/** Polls Redis (not a fixed sleep) until `condition` holds; fails naming `what` after `ms`. */
async function until(condition: () => Promise<boolean>, what: string, ms = 3_000): Promise<void> {
  const start = Date.now();
  while (!(await condition())) {
    if (Date.now() - start > ms) throw new Error(`gave up waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

describeWithRedis('Redis Streams bus', () => {
  let admin: RedisClient;
  let account: string;
  const opened: RedisBus[] = [];
  const subscriptions: Subscription[] = [];
  const FAST = { initialDelayMs: 10, maxDelayMs: 100, multiplier: 2, jitter: 0 };

  const openBus = async (consumer: string, extra: Partial<RedisBusOptions> = {}): Promise<RedisBus> => {
    const bus = await openRedisBus({ url: REDIS_URL, account, consumer, blockMs: 100, backoff: FAST, ...extra });
    opened.push(bus);
    return bus;
  };
  const inputs = (bus: RedisBus, count: number): Promise<BusInput<InputLine>[]> => firstValueFrom(busInputs$(bus, parseInputLine).pipe(take(count), toArray()));
  const publish = (bus: RedisBus, lines: string[]): Promise<string[]> => lastValueFrom(publishLines(bus, lines).pipe(toArray()));
  const ackAll = async (batch: BusInput<InputLine>[]): Promise<void> => {
    for (const input of batch) await lastValueFrom(input.ack(), { defaultValue: undefined });
  };
  /** Who holds each pending entry of the input stream, by entry id. */
  const owners = async (bus: RedisBus): Promise<Record<string, string>> => {
    const pending = await admin.xPendingRange(bus.keys.inputs, bus.group, '-', '+', 100);
    return Object.fromEntries(pending.map((entry) => [String(entry.id), String(entry.consumer)]));
  };
  /** The connections named `name`, with the command each is in. */
  const connections = async (name: string): Promise<string[]> => (await admin.clientList()).filter((client) => client.name === name).map((client) => client.cmd);
  /** The connections named as `consumer`'s read connection. */
  const readers = (consumer: string): Promise<string[]> => connections(readerName({ account, consumer }));
  const kill = async (name: string): Promise<void> => {
    const victim = (await admin.clientList()).find((client) => client.name === name);
    if (victim === undefined) throw new Error(`no connection named ${name}`);
    await admin.sendCommand(['CLIENT', 'KILL', 'ID', String(victim.id)]);
  };

  beforeAll(async () => {
    admin = createClient({ url: REDIS_URL });
    admin.on('error', () => undefined);
    await admin.connect();
  });
  afterAll(async () => {
    await admin.close();
  });
  beforeEach(() => {
    account = uniqueName('bus-test');
  });
  afterEach(async () => {
    for (const subscription of subscriptions.splice(0)) subscription.unsubscribe();
    for (const bus of opened.splice(0)) await lastValueFrom(bus.close(), { defaultValue: undefined });
    await admin.del([`krx:${account}:in`, `krx:${account}:reports`]);
  });

  it('names the streams per account and reads published lines through the group, pending until acknowledged', async () => {
    const bus = await openBus('handler-a');
    expect(bus.keys).toEqual({ inputs: `krx:${account}:in`, reports: `krx:${account}:reports` });
    const ids = await publish(bus, [signalLine('s1'), HALT_ON]);
    const batch = await inputs(bus, 2);
    expect(batch.map(seen)).toEqual([
      [ids[0], 'new', 's1'],
      [ids[1], 'new', 'halt true'],
    ]);
    const first = batch[0]?.value;
    expect(first?.kind === 'signal' ? first.signal : null).toMatchObject({ pair: 'BTC/USD', quantity: '0.01', limitPrice: '30000' });
    // Read is not done: both stay pending until the caller says they are journaled.
    expect(await owners(bus)).toEqual({ [ids[0] ?? '']: 'handler-a', [ids[1] ?? '']: 'handler-a' });
    await ackAll(batch);
    expect(await owners(bus)).toEqual({});
  });

  it('re-delivers an entry read but not acknowledged when the same consumer subscribes again, and only that one', async () => {
    const bus = await openBus('handler-a');
    const ids = await publish(bus, [signalLine('s1'), signalLine('s2')]);
    const firstRun = await inputs(bus, 2);
    await ackAll(firstRun.slice(0, 1));
    // The run "crashed" after reading s2 and before journaling it.
    const again = await inputs(bus, 1);
    expect(again.map(seen)).toEqual([[ids[1], 'pending', 's2']]);
    await ackAll(again);
    const [s3] = await publish(bus, [signalLine('s3')]);
    expect((await inputs(bus, 1)).map(seen)).toEqual([[s3, 'new', 's3']]);
  });

  it("claims a dead consumer's pending entries idle longer than claimIdleMs, and leaves a live consumer's fresh one", async () => {
    const dead = await openBus('dead');
    const [s1, s2] = await publish(dead, [signalLine('s1'), signalLine('s2')]);
    await inputs(dead, 2);
    const alive = await openBus('alive');
    const [s3] = await publish(alive, [signalLine('s3')]);
    await inputs(alive, 1);
    const [s4] = await publish(alive, [signalLine('s4')]);
    // Redis's own idle clock, set back instead of waited out: the dead consumer last touched them a minute ago.
    await admin.sendCommand(['XCLAIM', dead.keys.inputs, dead.group, 'dead', '0', s1 ?? '', s2 ?? '', 'IDLE', '60000', 'JUSTID']);
    const next = await openBus('next', { claimIdleMs: 30_000 });
    const batch = await inputs(next, 3);
    expect(batch.map(seen)).toEqual([
      [s1, 'claimed', 's1'],
      [s2, 'claimed', 's2'],
      [s4, 'new', 's4'],
    ]);
    expect(await owners(next)).toEqual({ [s1 ?? '']: 'next', [s2 ?? '']: 'next', [s3 ?? '']: 'alive', [s4 ?? '']: 'next' });
  });

  it('claims an entry that goes idle while it is already reading new ones', async () => {
    const dead = await openBus('dead');
    const [s1] = await publish(dead, [signalLine('s1')]);
    await inputs(dead, 1);
    const next = await openBus('next', { claimIdleMs: 30_000, blockMs: 50 });
    const claimed = firstValueFrom(busInputs$(next, parseInputLine));
    // Its start-up claim found nothing idle; it is blocked reading new entries when s1 goes idle.
    await until(async () => (await readers('next')).includes('xreadgroup'), 'the reader to block');
    await admin.sendCommand(['XCLAIM', dead.keys.inputs, dead.group, 'dead', '0', s1 ?? '', 'IDLE', '60000', 'JUSTID']);
    expect(seen(await claimed)).toEqual([s1, 'claimed', 's1']);
  });

  it('reconnects after its read connection is killed, delivering what came meanwhile and nothing twice', async () => {
    const bus = await openBus('handler-a');
    const delivered: [string, string, string][] = [];
    subscriptions.push(busInputs$(bus, parseInputLine).subscribe((input) => delivered.push(seen(input))));
    const [s1] = await publish(bus, [signalLine('s1')]);
    await until(async () => delivered.length === 1, 's1');
    await until(async () => (await readers('handler-a')).includes('xreadgroup'), 'the reader to block');
    await kill(readerName({ account, consumer: 'handler-a' }));
    const [s2] = await publish(bus, [signalLine('s2')]);
    await until(async () => delivered.length >= 2, 's2 after the reconnection');
    // s1 is read again from the pending list on reconnecting, but it is still out with the caller: not twice.
    expect(delivered).toEqual([
      [s1, 'new', 's1'],
      [s2, 'new', 's2'],
    ]);
    expect(await readers('handler-a')).toHaveLength(1);
  });

  it('waits out Redis being unreachable and, once it is back, delivers what was published meanwhile, acks and writes', async () => {
    const relay = new Relay(REDIS_URL);
    await relay.start();
    try {
      const bus = await openBus('handler-a', { url: relay.url });
      const direct = await openBus('publisher');
      const delivered: BusInput<InputLine>[] = [];
      subscriptions.push(busInputs$(bus, parseInputLine).subscribe((input) => delivered.push(input)));
      const [s1] = await publish(direct, [signalLine('s1')]);
      await until(async () => delivered.length === 1, 's1');
      await relay.stop();
      // While Redis is away: an ack, a report and a new line are in flight; none may be lost.
      const acked = lastValueFrom(delivered[0]?.ack() ?? EMPTY, { defaultValue: undefined });
      const written = lastValueFrom(of(signalReport('r1')).pipe(writeReports(bus)));
      const [s2] = await publish(direct, [signalLine('s2')]);
      await relay.start();
      await until(async () => delivered.length === 2, 's2 once Redis is back');
      expect(delivered.map(seen)).toEqual([
        [s1, 'new', 's1'],
        [s2, 'new', 's2'],
      ]);
      await acked;
      expect((await written).reportId).toBe('r1');
      expect(await owners(bus)).toEqual({ [s2 ?? '']: 'handler-a' });
      expect(await admin.xLen(bus.keys.reports)).toBeGreaterThanOrEqual(1);
    } finally {
      for (const subscription of subscriptions.splice(0)) subscription.unsubscribe();
      await relay.stop();
    }
  });

  it('acknowledges and writes across a killed command connection, which comes back by itself', async () => {
    const bus = await openBus('handler-a');
    await publish(bus, [signalLine('s1')]);
    const [s1] = await inputs(bus, 1);
    await kill(commandsName({ account, consumer: 'handler-a' }));
    await ackAll(s1 === undefined ? [] : [s1]);
    expect(await owners(bus)).toEqual({});
    const [s2] = await publish(bus, [signalLine('s2')]);
    expect((await inputs(bus, 1)).map(seen)).toEqual([[s2, 'new', 's2']]);
    expect(await connections(commandsName({ account, consumer: 'handler-a' }))).toHaveLength(1);
  });

  it('acknowledges an entry deleted while pending, and goes on with the rest', async () => {
    const bus = await openBus('handler-a');
    const [s1, s2] = await publish(bus, [signalLine('s1'), signalLine('s2')]);
    await inputs(bus, 2);
    await admin.xDel(bus.keys.inputs, s1 ?? '');
    expect((await inputs(bus, 1)).map(seen)).toEqual([[s2, 'pending', 's2']]);
    await until(async () => !((s1 ?? '') in (await owners(bus))), 'the deleted entry to be acknowledged');
    expect(Object.keys(await owners(bus))).toEqual([s2]);
  });

  it('closes its read connection when unsubscribed, and the bus its command connection when closed', async () => {
    const bus = await openBus('handler-a');
    const subscription = busInputs$(bus, parseInputLine).subscribe();
    subscriptions.push(subscription);
    await until(async () => (await readers('handler-a')).includes('xreadgroup'), 'the reader to block');
    subscription.unsubscribe();
    await until(async () => (await readers('handler-a')).length === 0, 'the read connection to close');
    expect(bus.commands.isOpen).toBe(true);
    await lastValueFrom(bus.close(), { defaultValue: undefined });
    expect(bus.commands.isOpen).toBe(false);
  });

  it('writes each report with its id and Decimals as strings, and passes it on after the write', async () => {
    const bus = await openBus('handler-a');
    const reports = [report('r1', 'PARTIALLY_FILLED', '0.00000001'), report('r2', 'FILLED', '0.00000003')];
    // Each report comes out only once it is on the stream: the length counted then includes it.
    const lengths = await lastValueFrom(
      from(reports).pipe(
        writeReports(bus),
        concatMap((written) => from(admin.xLen(bus.keys.reports)).pipe(concatMap((length) => of([written.reportId, length])))),
        toArray(),
      ),
    );
    expect(lengths).toEqual([
      ['r1', 1],
      ['r2', 2],
    ]);
    const entries = (await admin.xRange(bus.keys.reports, '-', '+')) ?? [];
    expect(entries.map((entry) => entry.message['reportId'])).toEqual(['r1', 'r2']);
    const first: unknown = JSON.parse(String(entries[0]?.message['report']));
    expect(first).toMatchObject({ reportId: 'r1', status: 'PARTIALLY_FILLED', quantityFilled: '0.00000001', lastFillPrice: '30000.1', commission: '0.0000000000000000000001', stopPrice: null });
    expect(await lastValueFrom(EMPTY.pipe(writeReports(bus)), { defaultValue: 'completed empty' })).toBe('completed empty');
  });

  it('`kraken-rx publish` publishes the good lines and rejects a bad one naming its line number and field', async () => {
    let out = '';
    let err = '';
    const unreadableHalt = '{"type":"halt","halted":"yes"}';
    const lines = [signalLine('s1'), '{"signalId":"s2","pair":"BTC/USD","side":"hold","orderType":"limit","quantity":"0.01"}', '', '# a comment', HALT_ON, unreadableHalt];
    const io: CliIo = {
      stdout: { write: (text: string) => (out += text) },
      stderr: { write: (text: string) => (err += text) },
      stdin: Readable.from(lines.map((line) => `${line}\n`)),
      env: {},
      stopRequests: EMPTY,
      now: Date.now,
    };
    expect(await main(['publish', '--bus', REDIS_URL, '--account', account], io)).toBe(1);
    expect(out).toBe(`published 3 lines to krx:${account}:in, rejected 1\n`);
    expect(err.split('\n')).toEqual([
      'kraken-rx: line 2 not published: "side" must be "buy" or "sell", got "hold"',
      expect.stringMatching(/^kraken-rx: line 6 published anyway: "halted" must be true or false, got "yes"; HALT is on/),
      '',
    ]);
    // The halt line that cannot be read goes out all the same: a handler reading it halts (HALT fails closed).
    const entries = (await admin.xRange(`krx:${account}:in`, '-', '+')) ?? [];
    expect(entries.map((entry) => entry.message['line'])).toEqual([signalLine('s1'), HALT_ON, unreadableHalt]);
  });

  it('`kraken-rx publish` says what is missing or unreachable before publishing anything', async () => {
    let err = '';
    const io: CliIo = { stdout: { write: () => undefined }, stderr: { write: (text: string) => (err += text) }, stdin: Readable.from([]), env: {}, stopRequests: EMPTY, now: Date.now };
    expect(await main(['publish', '--bus', REDIS_URL], io)).toBe(2);
    expect(err).toContain('--account is required');
    err = '';
    expect(await main(['publish', '--bus', 'redis://user:hunter2@127.0.0.1:1', '--account', account], io)).toBe(1);
    expect(err).toContain('cannot reach Redis at redis://127.0.0.1:1');
    expect(err).not.toContain('hunter2');
  });
});
