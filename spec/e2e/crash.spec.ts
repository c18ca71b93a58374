import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { Decimal } from 'decimal.js';
import { type InspectedOrder } from '../../src/paper';
import { type CompiledCli, compileCli } from './support/crash-child';
import { namedPlans, randomPlans } from './support/crash-plans';
import { type KillPlan } from './support/crash-run';
import { type CrashOutcome, type Duty, NORMAL_LATENESS_MS, S2_TIMEOUT_MS, exchangeNet, journalNet, runScenario } from './support/crash-scenario';

/**
 * Issue 13 item 5: `kraken-rx run` as a child process against a paper exchange in this process, killed with SIGKILL
 * at named and seeded random points of a scripted scenario (support/crash-scenario.ts), started again with the same
 * input each time, and checked against the exchange. Every run: the scenario without a crash (the checks hold
 * without one), the named points in four runs of successive kills, and one seeded random point. Opt-in:
 * KRX_CRASH_POINTS=N runs N seeded random points instead of one, and each named point alone as well;
 * KRX_CRASH_SEED=S picks the seed (each random run's name repeats it).
 */

/** A whole number ≥ 0 from the environment, or `fallback` when unset; anything else stops the suite naming the variable. */
function wholeFromEnv(name: string, fallback: number): number {
  const raw = process.env[name];
  if (raw === undefined) return fallback;
  if (!/^\d+$/.test(raw) || !Number.isSafeInteger(Number(raw))) throw new Error(`${name} must be a whole number ≥ 0, got ${JSON.stringify(raw)}`);
  return Number(raw);
}

const EXTRA = process.env['KRX_CRASH_POINTS'] !== undefined;
const RANDOM_POINTS = wholeFromEnv('KRX_CRASH_POINTS', 1);
const SEED = wholeFromEnv('KRX_CRASH_SEED', 13);
/** Real ms one wait of the scenario may take: the longest (a 2 s timeout, a restart, its reconciliation) with room. */
const DEADLINE_MS = 8000;
/** A whole run: its steps' waits at most, and the child's starts. */
const RUN_TIMEOUT_MS = 12 * DEADLINE_MS;

const plans: KillPlan[] = [
  { name: 'no crash', kills: [] },
  ...namedPlans(EXTRA),
  ...randomPlans(SEED, RANDOM_POINTS),
];

let cli: CompiledCli;
beforeAll(() => {
  cli = compileCli();
}, 60000);
afterAll(() => cli.remove());

/** What happened in a run, for failure messages: its kills, its starts, where it stalled. */
const story = (outcome: CrashOutcome): string =>
  `kills: [${outcome.kills.map((kill) => `${kill.label} (start ${kill.start}, down ${kill.downtimeMs ?? '?'} ms)`).join('; ')}], ` +
  `${outcome.starts} starts, ${outcome.stall === null ? 'no stall' : outcome.stall}`;

const duty = (outcome: CrashOutcome, ...duties: Duty[]): string[] => duties.filter((d) => !outcome.met.has(d)).map((d) => `${d} not met (${story(outcome)})`);

const intentsByClOrdId = (outcome: CrashOutcome): Map<string, CrashOutcome['journal'][number]> =>
  new Map(outcome.journal.map((order) => [order.intent.clientOrderId, order]));

describe.each(plans)('crash: $name', (plan) => {
  let outcome: CrashOutcome;
  beforeAll(async () => {
    outcome = await runScenario({ cli, plan, deadlineMs: DEADLINE_MS, seed: 7 });
  }, RUN_TIMEOUT_MS);

  it('places no cl_ord_id twice', () => {
    const ids = outcome.orders.map((order) => order.clOrdId);
    expect(ids.filter((id) => id === null)).toEqual([]);
    const twice = ids.filter((id, index) => ids.indexOf(id) !== index);
    expect({ twice, story: story(outcome) }).toEqual({ twice: [], story: story(outcome) });
  });

  it('places no signalId twice: one entry on the exchange per signal, one take-profit sell, one close', () => {
    const journaled = intentsByClOrdId(outcome);
    const placed = new Map<string, number>();
    for (const order of outcome.orders) {
      const intent = order.clOrdId === null ? undefined : journaled.get(order.clOrdId)?.intent;
      if (intent === undefined || (intent.role !== 'entry' && intent.role !== 'take-profit' && intent.role !== 'close')) continue;
      const key = `${intent.signalId} ${intent.role}`;
      placed.set(key, (placed.get(key) ?? 0) + 1);
    }
    // Told apart by their quantities too, so an order the journal does not know is counted all the same.
    for (const volume of ['0.011', '0.012', '0.013']) {
      const entries = outcome.orders.filter((order) => order.side === 'buy' && order.volume.eq(volume));
      if (entries.length > 1) placed.set(`entry of ${volume}`, entries.length);
    }
    const twice = [...placed].filter(([, count]) => count > 1);
    expect({ twice, story: story(outcome) }).toEqual({ twice: [], story: story(outcome) });
  });

  it('leaves no order on the exchange unknown to the journal', () => {
    const journaled = intentsByClOrdId(outcome);
    const unknown = outcome.orders.filter((order) => order.clOrdId === null || !journaled.has(order.clOrdId)).map(describeOrder);
    expect({ unknown, story: story(outcome) }).toEqual({ unknown: [], story: story(outcome) });
  });

  it('protects every filled quantity with a resting stop', () => {
    expect(duty(outcome, 'protect-s1', 'protect-s2', 'protect-s3')).toEqual([]);
  });

  it('closes what the close asked for: flat, nothing open at the end', () => {
    expect(duty(outcome, 'close-c1')).toEqual([]);
    expect(outcome.orders.filter((order) => order.status === 'open' || order.status === 'pending').map(describeOrder)).toEqual([]);
    expect(exchangeNet(outcome.trades).toFixed()).toBe('0');
  });

  it('cancels every limit entry at its timeout, late by at most the downtime', () => {
    expect(duty(outcome, 'timeout-s2')).toEqual([]);
    // Killed before its AddOrder left, and proven so by the restart: nothing to time out.
    if (outcome.absent.has('s2')) return;
    const entry = outcome.orders.find((order) => order.side === 'buy' && order.volume.eq('0.012'));
    expect(entry?.status).toBe('canceled');
    const openedAt = entry?.openedAt ?? 0;
    const closedAt = entry?.closedAt ?? Number.POSITIVE_INFINITY;
    const lateMs = closedAt - openedAt - S2_TIMEOUT_MS;
    expect(lateMs).toBeGreaterThanOrEqual(0);
    // Only the downtime while the entry was working may excuse lateness.
    const downtimeMs = outcome.kills.reduce((sum, kill) => sum + overlapMs(kill.at, kill.at + (kill.downtimeMs ?? Number.POSITIVE_INFINITY), openedAt, closedAt), 0);
    expect({ lateMs, within: lateMs <= NORMAL_LATENESS_MS + downtimeMs, downtimeMs }).toEqual({ lateMs, within: true, downtimeMs });
  });

  it('acts on every take-profit: the stop-loss cancelled and the position sold once', () => {
    expect(duty(outcome, 'take-profit-s3')).toEqual([]);
    if (outcome.absent.has('s3')) return;
    const sells = outcome.orders.filter((order) => order.side === 'sell' && order.orderType !== 'stop-loss' && order.volume.eq('0.013'));
    expect(sells.map((order) => `${order.status} ${order.volumeExecuted.toFixed()}`)).toEqual(['closed 0.013']);
  });

  it("keeps the journal's positions equal to the exchange's fills, order by order", () => {
    expect(journalNet(outcome.journal).toFixed()).toBe(exchangeNet(outcome.trades).toFixed());
    const byClOrdId = new Map(outcome.orders.map((order) => [order.clOrdId, order]));
    const differ = outcome.journal.flatMap((order) => {
      const onExchange = byClOrdId.get(order.intent.clientOrderId);
      const executed = onExchange?.volumeExecuted ?? new Decimal(0);
      const txid = onExchange?.txid ?? null;
      return order.state.filled.eq(executed) && order.state.txid === txid
        ? []
        : [`${order.intent.signalId} ${order.intent.role}: journal ${order.state.filled.toFixed()} (${order.state.txid ?? 'no txid'}), exchange ${executed.toFixed()} (${txid ?? 'absent'})`];
    });
    expect({ differ, story: story(outcome) }).toEqual({ differ: [], story: story(outcome) });
  });

  if (plan.name.startsWith('named')) {
    it('kills at every point the plan names (each after a restart needs the restarted run to get there)', () => {
      const missed = plan.kills.slice(outcome.kills.length).map((kill) => kill.label);
      expect({ missed, story: story(outcome) }).toEqual({ missed: [], story: story(outcome) });
    });
  }

  it('ends on its own with exit code 0 once the input is over', () => {
    expect(duty(outcome, 'end')).toEqual([]);
    expect(outcome.exit).toEqual({ code: 0, signal: null });
  });
});

/** How long [from, to) and [start, end) overlap, in ms. */
function overlapMs(from: number, to: number, start: number, end: number): number {
  return Math.max(0, Math.min(to, end) - Math.max(from, start));
}

function describeOrder(order: InspectedOrder): string {
  return `${order.side} ${order.orderType} ${order.volume.toFixed()} ${order.status} (cl_ord_id ${order.clOrdId ?? 'none'})`;
}
