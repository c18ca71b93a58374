import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Decimal } from 'decimal.js';
import { firstValueFrom } from 'rxjs';
import { journalStatus } from '../../../src/cli/journal-status';
import { openSqliteJournal, readJournalAccount } from '../../../src/journal/sqlite';
import { type JournaledOrder } from '../../../src/model/journal';
import { type InspectedOrder, type InspectedTrade, type PaperExchange, startPaperExchange } from '../../../src/paper';
import { type ChildExit, type CompiledCli } from './crash-child';
import { CrashRun, type KillPlan, type KillRecord, StallError } from './crash-run';

/**
 * The scripted scenario of the crash test, and what is checked against the exchange after it. The paper exchange runs
 * in the test's own process (its HTTP server on 127.0.0.1, its prices moved and its orders read directly), the handler
 * in a child process (`kraken-rx run --url`) with a SQLite journal in a temporary directory. Each signal has its
 * own quantity and stop price, so its orders are told apart on the exchange without asking the journal. The entries
 * are limits that rest and are then filled by moving the price (the paper exchange's `setPrice`): a fill is seen at the
 * next OpenOrders poll, where an order that fills on arrival waits out the handler's 2 s OpenOrders lag first.
 *
 * 1. s1: limit buy 0.011 @ 29950, stop-loss 29100     → the price comes down to it: filled, protected by a
 *                                                         resting stop of 0.011
 * 2. s2: limit buy 0.012 @ 29900, timeout 2 s, stop 29200 → 0.005 fills, the rest is cancelled at its timeout,
 *                                                         the 0.005 protected
 * 3. s3: limit buy 0.013 @ 29980, stop 29300, take-profit 30400 → filled, protected; the price goes to 30500:
 *                                                         the stop is cancelled and the 0.013 sold (market)
 * 4. c1: close BTC/USD                                  → both stops cancelled, the rest sold: flat, nothing open
 * 5. end of input                                       → the run ends on its own, exit code 0
 */

export const PAIR = 'XXBTZUSD';
export const S2_TIMEOUT_MS = 2000;
/**
 * How late a timeout cancel may be without any crash: the monitor's pace (100 ms) and a CancelOrder round trip, with
 * room for a loaded CI machine. A crash may add its downtime on top, and nothing more.
 */
export const NORMAL_LATENESS_MS = 1500;

const SIGNALS = {
  s1: { signalId: 's1', pair: 'BTC/USD', side: 'buy', orderType: 'limit', quantity: '0.011', limitPrice: '29950', stopLoss: '29100' },
  s2: { signalId: 's2', pair: 'BTC/USD', side: 'buy', orderType: 'limit', quantity: '0.012', limitPrice: '29900', stopLoss: '29200', timeoutMs: S2_TIMEOUT_MS },
  s3: { signalId: 's3', pair: 'BTC/USD', side: 'buy', orderType: 'limit', quantity: '0.013', limitPrice: '29980', stopLoss: '29300', takeProfit: '30400' },
  c1: { type: 'close', commandId: 'c1', pair: 'BTC/USD' },
} as const;

/** What the child is told beyond the defaults: everything fast, on the paper exchange's unlimited tier, REST polling. */
const CONFIG = {
  mode: 'live',
  logLevel: 'info',
  exchange: { tier: 'unlimited', requestTimeoutMs: 3000 },
  entry: { deadlineMs: 3000 },
  protection: { mode: 'stop-resting', takeProfitPollMs: 100 },
  monitor: { minIntervalMs: 100, maxIntervalMs: 1000 },
  // Polling only, whatever KRAKEN_WS_URL the environment has: the scenario paces itself by OpenOrders polls.
  feed: { mode: 'rest', auditIntervalMs: 1000 },
  lookup: { attempts: 10, intervalMs: 200 },
  retry: { maxAttempts: 5, initialDelayMs: 100, maxDelayMs: 1000, multiplier: 2, jitter: 0.2 },
};

/** The duties the scenario checks: in `CrashOutcome.met` once met, absent when not reached (the run stalled before). */
export type Duty = 'protect-s1' | 'timeout-s2' | 'protect-s2' | 'protect-s3' | 'take-profit-s3' | 'close-c1' | 'end';

/** Everything a finished (or stalled) run leaves to check. */
export interface CrashOutcome {
  readonly plan: KillPlan;
  readonly met: ReadonlySet<Duty>;
  /** Signals whose entry a restart proved never reached the exchange (killed before its AddOrder left): no duties. */
  readonly absent: ReadonlySet<string>;
  /** The wait that ran out, if one did. */
  readonly stall: string | null;
  readonly exit: ChildExit | null;
  readonly kills: readonly KillRecord[];
  readonly starts: number;
  readonly downtimeMs: number;
  readonly orders: readonly InspectedOrder[];
  readonly trades: readonly InspectedTrade[];
  readonly journal: readonly JournaledOrder[];
  readonly elapsedMs: number;
}

const is = (value: Decimal, expected: string): boolean => value.eq(expected);
const entryOf = (orders: readonly InspectedOrder[], volume: string): InspectedOrder[] =>
  orders.filter((order) => order.side === 'buy' && is(order.volume, volume));
const stopsAt = (orders: readonly InspectedOrder[], price: string): InspectedOrder[] =>
  orders.filter((order) => order.side === 'sell' && order.orderType === 'stop-loss' && order.price !== null && is(order.price, price));
const isOpen = (order: InspectedOrder): boolean => order.status === 'open' || order.status === 'pending';

/** Net base bought on the exchange (buys − sells) of the pair. */
export function exchangeNet(trades: CrashOutcome['trades']): Decimal {
  return trades.filter((trade) => trade.pair === PAIR).reduce((sum, trade) => (trade.side === 'buy' ? sum.add(trade.volume) : sum.sub(trade.volume)), new Decimal(0));
}

/** The one order of `list`, or a reason why not. */
function single(list: readonly InspectedOrder[], name: string): InspectedOrder | string {
  if (list.length === 0) return `no ${name} on the exchange`;
  if (list.length > 1) return `${list.length} ${name}s on the exchange`;
  return list[0] as InspectedOrder;
}

/** Null when `name` (one order of `list`) is closed with `filled` executed. */
function filled(list: readonly InspectedOrder[], name: string, executed: string): string | null {
  const order = single(list, name);
  if (typeof order === 'string') return order;
  return order.status === 'closed' && is(order.volumeExecuted, executed) ? null : `${name} is ${order.status} with ${order.volumeExecuted.toFixed()} executed`;
}

/** Null when one open stop-loss at `price` guards exactly `volume`. */
function guarded(orders: readonly InspectedOrder[], price: string, volume: string): string | null {
  const open = stopsAt(orders, price).filter(isOpen);
  if (open.length !== 1) return `${open.length} open stop-losses at ${price} (want one of ${volume})`;
  const stop = open[0] as InspectedOrder;
  return is(stop.volume, volume) ? null : `the stop-loss at ${price} is for ${stop.volume.toFixed()}, want ${volume}`;
}

/**
 * Waits until the handler has polled OpenOrders twice more (so one poll began after the order rested): it knows the
 * order is open, and sees its fill at the next poll instead of after its OpenOrders lag. If the child is down
 * meanwhile, the restarted one polls too.
 */
function seenOpen(run: CrashRun, exchange: PaperExchange): Promise<void> {
  const polled = exchange.inspect.requestCount('OpenOrders');
  return run.until('the handler to poll OpenOrders', () => (exchange.inspect.requestCount('OpenOrders') >= polled + 2 ? null : 'not polled yet'));
}

const FINAL = new Set(['FILLED', 'CANCELED', 'EXPIRED', 'REJECTED', 'ERROR']);

/** Whether some start reported `signalId`'s entry final without an exchange order, other than as a duplicate signal. */
function reportedAbsent(run: CrashRun, signalId: string): boolean {
  return run.starts.some((child) =>
    child.lines.some(
      (line) =>
        line['signalId'] === signalId &&
        line['role'] === 'entry' &&
        FINAL.has(String(line['status'])) &&
        line['exchangeOrderId'] === null &&
        !/duplicate/.test(String(line['reason'] ?? '')),
    ),
  );
}

/**
 * Waits until the entry of `volume` rests on the exchange (true), or — when the child was killed before its AddOrder
 * reached the exchange — a restart proved it absent and said so (false, and `signalId` joins `absent`).
 */
async function rests(run: CrashRun, exchange: PaperExchange, signalId: string, volume: string, absent: Set<string>): Promise<boolean> {
  const placed = (): boolean => entryOf(exchange.inspect.orders(), volume).length > 0;
  await run.until(`the ${signalId} limit entry to rest (or be proven never placed)`, () => {
    if (entryOf(exchange.inspect.orders(), volume).some(isOpen)) return null;
    if (!placed() && reportedAbsent(run, signalId)) return null;
    return placed() ? `the ${signalId} entry is not open` : `no ${signalId} entry on the exchange`;
  });
  if (placed()) return true;
  absent.add(signalId);
  return false;
}

export interface ScenarioOptions {
  readonly cli: CompiledCli;
  readonly plan: KillPlan;
  readonly deadlineMs: number;
  /** The paper exchange's seed (ids, credentials); prices are set by the scenario. */
  readonly seed: number;
}

/** Runs the scenario under `plan` against a fresh paper exchange and journal, and collects what is left to check. */
export async function runScenario(options: ScenarioOptions): Promise<CrashOutcome> {
  const began = Date.now();
  const dir = mkdtempSync(join(tmpdir(), 'krx-crash-'));
  const exchange = await startPaperExchange({ tier: 'unlimited', seed: options.seed, pairs: ['XBTUSD'], prices: { XBTUSD: '30000' }, publicRateLimit: false });
  const journalPath = join(dir, 'journal.db');
  const configPath = join(dir, 'config.json');
  writeFileSync(configPath, JSON.stringify(CONFIG));
  const run = new CrashRun({
    entry: options.cli.entry,
    args: ['run', '--config', configPath, '--url', exchange.url, '--journal', journalPath, '--json'],
    env: { KRAKEN_API_KEY: exchange.apiKey, KRAKEN_API_SECRET: exchange.apiSecret },
    plan: options.plan,
    deadlineMs: options.deadlineMs,
    inspect: exchange.inspect,
  });
  const met = new Set<Duty>();
  const absent = new Set<string>();
  let stall: string | null = null;
  const orders = (): readonly InspectedOrder[] => exchange.inspect.orders();
  try {
    run.start();
    run.send(JSON.stringify(SIGNALS.s1));
    if (await rests(run, exchange, 's1', '0.011', absent)) {
      await seenOpen(run, exchange);
      exchange.setPrice('XBTUSD', '29950', { liquidity: '0.011' });
      exchange.setPrice('XBTUSD', '30000');
      await run.until('the s1 entry to fill', () => filled(entryOf(orders(), '0.011'), 's1 entry', '0.011'));
      await run.until('a stop-loss guarding s1', () => guarded(orders(), '29100', '0.011'));
    }
    met.add('protect-s1');

    run.send(JSON.stringify(SIGNALS.s2));
    if (await rests(run, exchange, 's2', '0.012', absent)) await s2(run, exchange, met);
    else met.add('timeout-s2').add('protect-s2');

    run.send(JSON.stringify(SIGNALS.s3));
    if (await rests(run, exchange, 's3', '0.013', absent)) await s3(run, exchange, met);
    else met.add('protect-s3').add('take-profit-s3');

    run.send(JSON.stringify(SIGNALS.c1));
    await run.until('the close to leave the account flat with nothing open', () => {
      const open = exchange.inspect.openOrders();
      const net = exchangeNet(exchange.inspect.trades());
      return open.length === 0 && net.isZero() ? null : `${open.length} open orders, net position ${net.toFixed()}`;
    });
    met.add('close-c1');

    run.endInput();
    const exit = await run.finished();
    if (exit.code === 0) met.add('end');
    else stall = `the run ended with ${exit.signal ?? `exit code ${String(exit.code)}`} ${run.tail()}`;
  } catch (error: unknown) {
    if (!(error instanceof StallError)) throw error;
    stall = error.message;
  } finally {
    await run.stop();
  }
  try {
    return {
      plan: options.plan,
      met,
      absent,
      stall,
      exit: run.exit,
      kills: run.kills,
      starts: run.starts.length,
      downtimeMs: run.totalDowntimeMs(),
      orders: exchange.inspect.orders(),
      trades: exchange.inspect.trades(),
      journal: await readJournal(journalPath),
      elapsedMs: Date.now() - began,
    };
  } finally {
    await exchange.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

/** s2 once it rests: 0.005 fills, the rest is cancelled at its timeout, the 0.005 protected. */
async function s2(run: CrashRun, exchange: PaperExchange, met: Set<Duty>): Promise<void> {
  const orders = (): readonly InspectedOrder[] => exchange.inspect.orders();
  // Still open after the partial fill: no need to wait for the handler to have seen it open.
  exchange.setPrice('XBTUSD', '29900', { liquidity: '0.005' });
  exchange.setPrice('XBTUSD', '30000');
  await run.until('the s2 entry to be cancelled at its timeout', () => {
    const entry = single(entryOf(orders(), '0.012'), 's2 entry');
    if (typeof entry === 'string') return entry;
    return entry.status === 'canceled' && is(entry.volumeExecuted, '0.005') ? null : `s2 entry is ${entry.status}, ${entry.volumeExecuted.toFixed()} executed`;
  });
  met.add('timeout-s2');
  await run.until('a stop-loss guarding the 0.005 of s2', () => guarded(orders(), '29200', '0.005'));
  met.add('protect-s2');
}

/** s3 once it rests: filled, protected, then the price passes its take-profit: the stop cancelled, the 0.013 sold. */
async function s3(run: CrashRun, exchange: PaperExchange, met: Set<Duty>): Promise<void> {
  const orders = (): readonly InspectedOrder[] => exchange.inspect.orders();
  await seenOpen(run, exchange);
  exchange.setPrice('XBTUSD', '29980', { liquidity: '0.013' });
  exchange.setPrice('XBTUSD', '30000');
  await run.until('the s3 entry to fill', () => filled(entryOf(orders(), '0.013'), 's3 entry', '0.013'));
  await run.until('a stop-loss guarding s3', () => guarded(orders(), '29300', '0.013'));
  met.add('protect-s3');
  exchange.setPrice('XBTUSD', '30500');
  await run.until('the s3 take-profit to be acted on', () => {
    if (stopsAt(orders(), '29300').some(isOpen)) return 's3 stop-loss still open';
    const sold = orders().filter((order) => order.side === 'sell' && order.orderType !== 'stop-loss' && is(order.volume, '0.013'));
    return filled(sold, 's3 take-profit sell', '0.013');
  });
  met.add('take-profit-s3');
}

/** Every journaled order, read after the last start is dead (as `kraken-rx status` reads it). */
async function readJournal(path: string): Promise<readonly JournaledOrder[]> {
  const journal = openSqliteJournal({ path, account: readJournalAccount(path) });
  try {
    return await firstValueFrom(journal.orders());
  } finally {
    await firstValueFrom(journal.close());
  }
}

/** The journal's net position of the pair, as `kraken-rx status` folds it. */
export function journalNet(journal: readonly JournaledOrder[]): Decimal {
  return journalStatus(journal).positions.find((line) => line.pair === PAIR)?.quantity ?? new Decimal(0);
}
