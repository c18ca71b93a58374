import { afterEach, describe, expect, it } from '@jest/globals';
import { Decimal } from 'decimal.js';
import { type ExecutionReport, isFinalStatus } from '../../src/model/report';
import { type TradeSignal } from '../../src/model/signal';
import { type FaultRates, type InspectedOrder, NETWORK_FAULT_KINDS, evenFaultRates } from '../../src/paper';
import { E2eRun, closeAllRuns } from './support/harness';
import { SOCKET_FAULTS, WsSoakRun } from './support/ws-soak';

/**
 * Issue 5's soak: a stream of signals against the paper exchange with 20 % of private calls faulted (seeded,
 * every fault kind), over real loopback HTTP at starter tier. What must hold whatever the faults did:
 * - every signal ends in exactly one final report for its entry;
 * - no cl_ord_id is ever accepted twice (the paper exchange counts AddOrders accepted per cl_ord_id);
 * - every entry that filled is protected: a stop-loss resting for what it filled, or a dust report;
 * - no `Rate limit exceeded` is ever received.
 */

afterEach(closeAllRuns);

const wsRuns: WsSoakRun[] = [];
afterEach(async () => {
  for (const run of wsRuns.splice(0)) await run.close();
});

const FAULT_RATE = 0.2;
/**
 * The paper exchange's network and service faults. Its injected rate-limit and lockout answers are left out on
 * purpose: this soak asserts that the client's own pacing never earns a rate-limit error, which an injected one
 * would contradict by construction. `invalid-nonce` stands for another process racing the key's nonce.
 */
const faultRates: FaultRates = evenFaultRates(NETWORK_FAULT_KINDS, FAULT_RATE);

interface PairPlan {
  readonly name: string;
  readonly key: string;
  readonly price: Decimal;
  readonly quantity: string;
}

const PAIRS: readonly PairPlan[] = [
  { name: 'BTC/USD', key: 'XXBTZUSD', price: new Decimal('60000'), quantity: '0.02' },
  { name: 'ETH/USD', key: 'XETHZUSD', price: new Decimal('3000'), quantity: '0.4' },
  { name: 'SOL/USD', key: 'SOLUSD', price: new Decimal('150'), quantity: '60' },
];

/**
 * Three kinds of entry, round robin over three pairs: market (fills at once), marketable limit (fills on
 * arrival), and resting limit below the market with a short timeout (SOL ones are then partly filled by the
 * test: SOL offers 100 per matching run to orders in time priority, so 60 + 40 of two 60s).
 */
function signalOf(i: number): TradeSignal {
  const pair = PAIRS[i % PAIRS.length] as PairPlan;
  const stopLoss = pair.price.mul('0.9').toFixed(0);
  const common = { signalId: `soak-${i}`, pair: pair.name, side: 'buy' as const, quantity: pair.quantity, stopLoss };
  switch (Math.floor(i / PAIRS.length) % 3) {
    case 0:
      return { ...common, orderType: 'market' };
    case 1:
      return { ...common, orderType: 'limit', limitPrice: pair.price.mul('1.01').toFixed(0) };
    default:
      return { ...common, orderType: 'limit', limitPrice: pair.price.mul('0.99').toFixed(0), timeoutMs: 20_000 };
  }
}

/** E2E_DEBUG=1: what the faults hit, how the reports ended, and the client's wire trace (shared-clock ms). */
function diagnose(run: E2eRun): void {
  const tally = (items: readonly string[]): Array<[string, number]> => {
    const counts = new Map<string, number>();
    for (const item of items) counts.set(item, (counts.get(item) ?? 0) + 1);
    return [...counts];
  };
  const t0 = run.wire[0]?.sentAt ?? 0;
  console.log(
    tally(run.paper.faults.applied().map((f) => `${f.endpoint}:${f.kind}`)),
    tally(run.reports.map((r) => `${r.role}:${r.status}`)),
    [...run.paper.inspect.requestCounts()],
    run.wire.map((w) => `${w.sentAt - t0}..${w.answeredAt - t0} ${w.method} ${w.status} ${w.body.slice(0, 60)}`).join('\n'),
  );
}

const SEEDS: readonly number[] = (process.env['E2E_SOAK_SEEDS'] ?? '2024,31,1,2,3,4,5,6').split(',').map(Number);
const SIGNALS = 30;

/** One soak run: every signal sent at once, the SOL market moved down onto the resting entries, driven until settled. */
async function runSoak(seed: number): Promise<{ run: E2eRun; signals: readonly TradeSignal[] }> {
  const run = await E2eRun.start({
    seed,
    paper: {
      balances: { ZUSD: '1000000', XXBT: '0', XETH: '0', SOL: '0' },
      prices: Object.fromEntries(PAIRS.map((p) => [p.key, p.price.toFixed()])),
      faults: { seed, rates: { '*': faultRates } },
    },
  });
  const signals = Array.from({ length: SIGNALS }, (_, i) => signalOf(i));
  for (const signal of signals) run.signals.next(signal);

  // Once the resting SOL entries are in, the market comes down to them: partial fills, then their timeouts.
  await run.until('resting SOL entries placed or final', () =>
    signals.filter((s) => s.pair === 'SOL/USD' && s.timeoutMs).every((s) => run.of(s.signalId, 'entry').some((r) => r.status === 'NEW' || isFinalStatus(r.status))),
  );
  run.paper.setPrice('SOLUSD', '148.5');

  const protectionSettled = (signalId: string): boolean =>
    run.of(signalId, 'stop-loss').some((r) => r.status === 'NEW' || isFinalStatus(r.status));
  await run.until('every entry final and every fill protected', () =>
    signals.every((s) => {
      const final = run.finals(s.signalId, 'entry')[0];
      return final !== undefined && (final.quantityFilled.isZero() || protectionSettled(s.signalId));
    }),
  );
  return { run, signals };
}

describe('e2e soak: 20 % faults on private calls, starter tier', () => {
  it.each(SEEDS)(`seed %i, ${SIGNALS} signals: one final report per entry, no cl_ord_id placed twice, every fill protected, no rate-limit error`, async (seed) => {
    const { run, signals } = await runSoak(seed);
    const entryFinal = (signalId: string): ExecutionReport | undefined => run.finals(signalId, 'entry')[0];

    if (process.env['E2E_DEBUG']) diagnose(run);
    // Faults really happened, of every kind that matters here.
    const applied = run.paper.faults.applied();
    expect(applied.length).toBeGreaterThanOrEqual(5);
    expect(applied.some((f) => f.endpoint === 'AddOrder')).toBe(true);
    expect(run.reports.some((r) => r.status === 'UNKNOWN')).toBe(true);

    // 1. Exactly one final report per signal's entry, and nothing about the entry after it.
    for (const s of signals) {
      const entry = run.of(s.signalId, 'entry');
      expect([s.signalId, entry.filter((r) => isFinalStatus(r.status)).length]).toEqual([s.signalId, 1]);
      expect([s.signalId, isFinalStatus(entry[entry.length - 1]?.status ?? 'NEW')]).toEqual([s.signalId, true]);
    }

    // 2. No cl_ord_id accepted twice; nothing on the exchange the handler did not report.
    const orders = run.paper.inspect.orders();
    const reportedIds = new Set(run.reports.map((r) => r.clientOrderId).filter((id): id is string => id !== null));
    for (const order of orders) {
      expect(order.clOrdId).not.toBeNull();
      expect([order.clOrdId, run.paper.inspect.acceptedCount(order.clOrdId ?? '')]).toEqual([order.clOrdId, 1]);
      expect(reportedIds.has(order.clOrdId ?? '')).toBe(true);
    }
    for (const id of reportedIds) expect(run.paper.inspect.acceptedCount(id)).toBeLessThanOrEqual(1);

    // 3. What each entry's final report says matches the exchange; whatever filled is protected.
    const byClOrdId = new Map<string, InspectedOrder>(orders.map((o) => [o.clOrdId ?? '', o]));
    let filledEntries = 0;
    for (const s of signals) {
      const final = entryFinal(s.signalId) as ExecutionReport;
      const onExchange = final.clientOrderId ? byClOrdId.get(final.clientOrderId) : undefined;
      if (final.status === 'REJECTED') {
        // Never reported rejected when it may be live.
        expect([s.signalId, onExchange]).toEqual([s.signalId, undefined]);
        continue;
      }
      expect([s.signalId, final.quantityFilled.toFixed()]).toEqual([s.signalId, (onExchange?.volumeExecuted ?? new Decimal(0)).toFixed()]);
      if (final.quantityFilled.isZero()) continue;
      filledEntries += 1;
      const stops = run.of(s.signalId, 'stop-loss');
      const dust = stops.find((r) => r.status === 'REJECTED' && r.reason?.startsWith('dust:'));
      if (dust) continue;
      const resting = stops.find((r) => r.status === 'NEW');
      const stopOrder = resting?.clientOrderId ? byClOrdId.get(resting.clientOrderId) : undefined;
      // The stop's reports ride along so that a failure says what became of it.
      const story = stops.map((r) => `${r.status}${r.reason ? ` (${r.reason})` : ''}`);
      expect([s.signalId, stopOrder?.orderType, stopOrder?.status, stopOrder?.volume.toFixed(), story]).toEqual([
        s.signalId,
        'stop-loss',
        'open',
        final.quantityFilled.toFixed(),
        story,
      ]);
    }
    expect(filledEntries).toBeGreaterThanOrEqual(20);

    // 4. Never a rate-limit error, at starter tier, through all the lookups and retries.
    expect(run.paper.inspect.rateLimitErrors()).toEqual({ rest: 0, trading: 0 });
    expect(run.wire.filter((w) => w.body.includes('Rate limit exceeded'))).toEqual([]);
    expect(run.problems).toEqual([]);

    // And it stops cleanly: reports$ completes, every protective stop stays resting on the exchange.
    const resting = run.paper.inspect.openOrders().filter((o) => o.orderType === 'stop-loss').length;
    await run.stop();
    expect(run.completed).toBe(true);
    expect(run.paper.inspect.openOrders().filter((o) => o.orderType === 'stop-loss')).toHaveLength(resting);
    expect(run.paper.inspect.openOrders().filter((o) => o.orderType !== 'stop-loss')).toEqual([]);
  });

  it('is deterministic: the same seed gives the same wire trace twice, another seed another one', async () => {
    const seed = SEEDS[0] ?? 2024;
    const traces: string[] = [];
    for (const s of [seed, seed, seed + 1]) {
      const { run } = await runSoak(s);
      traces.push(run.traceHash());
      await run.close();
    }
    expect(traces[1]).toBe(traces[0]);
    expect(traces[2]).not.toBe(traces[0]);
  });
});

/**
 * Issue 10's campaign shape: entries with closes (full and partial, some sent right behind an entry on the same
 * pair that is still being placed) and HALT episodes, under the same faults. What must hold at the end, per pair:
 * the position on the exchange is exactly what resting stops protect, on the right side (no bare position, no
 * stop selling what is not held), and no close gave up needing manual attention.
 */
describe('e2e soak campaign: closes and HALT among the signals, exposure checked per pair', () => {
  const CAMPAIGN_SIGNALS = 24;

  /** Market and marketable-limit buys (they fill on arrival), round robin over the pairs. */
  const entryOf = (i: number): TradeSignal => {
    const pair = PAIRS[i % PAIRS.length] as PairPlan;
    const common = { signalId: `camp-${i}`, pair: pair.name, side: 'buy' as const, quantity: pair.quantity, stopLoss: pair.price.mul('0.9').toFixed(0) };
    return i % 2 === 0 ? { ...common, orderType: 'market' } : { ...common, orderType: 'limit', limitPrice: pair.price.mul('1.01').toFixed(0) };
  };

  it.each(SEEDS)('seed %i: every pair ends with its position exactly under resting stops, both sides', async (seed) => {
    const run = await E2eRun.start({
      seed,
      paper: {
        balances: { ZUSD: '1000000', XXBT: '0', XETH: '0', SOL: '0' },
        prices: Object.fromEntries(PAIRS.map((p) => [p.key, p.price.toFixed()])),
        faults: { seed, rates: { '*': faultRates }, timeoutHoldMs: 3_000 },
      },
    });
    const commandIds: string[] = [];
    const entries: TradeSignal[] = [];
    for (let i = 0; i < CAMPAIGN_SIGNALS; i += 1) {
      const signal = entryOf(i);
      // HALT episodes: on for signals 8..10 (they are rejected), off again after.
      if (i === 8) run.halted.next(true);
      if (i === 11) run.halted.next(false);
      entries.push(signal);
      run.signals.next(signal);
      // Every fifth signal is followed at once by a close of its pair, while that entry is still being placed:
      // full and partial (half an entry's quantity) in turn.
      if (i % 5 === 4) {
        const pair = PAIRS[i % PAIRS.length] as PairPlan;
        const partial = commandIds.length % 2 === 1;
        const commandId = `close-${i}`;
        commandIds.push(commandId);
        run.commands.next({ commandId, pair: pair.name, ...(partial ? { quantity: new Decimal(pair.quantity).div(2).toFixed() } : {}) });
      }
      await run.pass(1_000);
    }

    const closeEnded = (commandId: string): boolean => run.reports.some((r) => r.signalId === commandId && r.role === 'close' && isFinalStatus(r.status));
    const ordersSettled = (): boolean => {
      const latest = new Map<string, ExecutionReport>();
      for (const r of run.reports) if (r.clientOrderId) latest.set(r.clientOrderId, r);
      return [...latest.values()].every((r) => isFinalStatus(r.status) || (r.role === 'stop-loss' && r.status === 'NEW'));
    };
    await run.until(
      'every entry final, every close ended, every order final or a resting stop',
      () => entries.every((s) => run.finals(s.signalId, 'entry').length > 0) && commandIds.every(closeEnded) && ordersSettled(),
      300_000,
    );
    await run.handler.stop();
    if (process.env['E2E_DEBUG']) diagnose(run);

    // The campaign happened: closes sold, HALT rejected, faults were applied.
    expect(run.paper.faults.applied().length).toBeGreaterThanOrEqual(5);
    expect(run.reports.some((r) => r.role === 'close' && r.status === 'FILLED')).toBe(true);
    expect(run.reports.some((r) => r.role === 'entry' && r.status === 'REJECTED' && r.reason?.startsWith('halted'))).toBe(true);
    // No cl_ord_id accepted twice; no close gave up.
    for (const order of run.paper.inspect.orders()) expect([order.clOrdId, run.paper.inspect.acceptedCount(order.clOrdId ?? '')]).toEqual([order.clOrdId, 1]);
    expect(run.reports.filter((r) => r.status === 'ERROR').map((r) => `${r.signalId} ${r.role}: ${r.reason}`)).toEqual([]);

    // Exposure, per pair: the net position from the exchange's own trades, against the resting stops' volume.
    const trades = run.paper.inspect.trades();
    const open = run.paper.inspect.openOrders();
    for (const pair of PAIRS) {
      const net = trades.filter((t) => t.pair === pair.key).reduce((sum, t) => (t.side === 'buy' ? sum.add(t.volume) : sum.sub(t.volume)), new Decimal(0));
      const stopsOf = (side: 'buy' | 'sell'): Decimal =>
        open
          .filter((o) => o.pair === pair.key && o.orderType === 'stop-loss' && o.side === side)
          .reduce((sum, o) => sum.add(o.volume.sub(o.volumeExecuted)), new Decimal(0));
      // Long (or flat) only in this campaign: sell stops cover exactly the position, no buy stop anywhere.
      expect([pair.name, net.toFixed(), stopsOf('sell').toFixed(), stopsOf('buy').toFixed()]).toEqual([pair.name, net.toFixed(), net.toFixed(), '0']);
      const tracked = run.handler.positions().find((p) => p.pair === pair.key)?.quantity ?? new Decimal(0);
      expect([pair.name, tracked.toFixed()]).toEqual([pair.name, net.toFixed()]);
    }
    expect(run.paper.inspect.openOrders().filter((o) => o.orderType !== 'stop-loss')).toEqual([]);
    expect(run.problems).toEqual([]);
  }, 120_000);
});

/**
 * The same soak with the handler as the CLI runs it by default: the WebSocket feed (fills, orders) with placements
 * and cancels over the socket while it is up, REST for reads and as the safety net; signals two a clock second. On
 * top of the REST faults (GetWebSocketsToken among them),
 * the socket suffers one of the paper exchange's socket faults every 1.5 s of clock time, drawn from the seed:
 * dropped, stalled (found by the watchdog), a sequence number skipped (a resync), every frame 250 ms late, the
 * token refused on the next subscribe or order. The invariants are the soak's.
 */
describe('e2e soak over the WebSocket: socket faults too, orders over the socket, starter tier', () => {
  const WS_SEEDS: readonly number[] = (process.env['E2E_WS_SOAK_SEEDS'] ?? '2024,31').split(',').map(Number);

  it.each(WS_SEEDS)(`seed %i, ${SIGNALS} signals: one final report per entry, no cl_ord_id placed twice, every fill protected, no rate-limit error`, async (seed) => {
    const run = await WsSoakRun.start({
      seed,
      paper: {
        balances: { ZUSD: '1000000', XXBT: '0', XETH: '0', SOL: '0' },
        prices: Object.fromEntries(PAIRS.map((p) => [p.key, p.price.toFixed()])),
        faults: { seed, rates: { '*': faultRates }, timeoutHoldMs: 120_000 },
      },
      faultEveryMs: 1_500,
      delayMs: 250,
    });
    wsRuns.push(run);
    const signals = Array.from({ length: SIGNALS }, (_, i) => signalOf(i));
    // Two a second, so that most find the socket up (the first ones go over REST while it connects).
    for (const signal of signals) {
      run.signals.next(signal);
      await run.pass(500);
    }
    await run.until('resting SOL entries placed or final', () =>
      signals.filter((s) => s.pair === 'SOL/USD' && s.timeoutMs).every((s) => run.of(s.signalId, 'entry').some((r) => r.status === 'NEW' || isFinalStatus(r.status))),
    );
    run.paper.setPrice('SOLUSD', '148.5');
    const protectionSettled = (signalId: string): boolean => run.of(signalId, 'stop-loss').some((r) => r.status === 'NEW' || isFinalStatus(r.status));
    await run.until('every entry final and every fill protected', () =>
      signals.every((s) => {
        const final = run.finals(s.signalId, 'entry')[0];
        return final !== undefined && (final.quantityFilled.isZero() || protectionSettled(s.signalId));
      }),
    );
    run.calm();

    // The socket really suffered, every kind of fault, and the orders really went over it.
    expect(new Set(run.socketFaults.map((f) => f.fault))).toEqual(new Set(SOCKET_FAULTS));
    expect(run.feedEvents.filter((e) => e.kind === 'down').length).toBeGreaterThanOrEqual(1);
    expect(run.counts.socketPlacements).toBeGreaterThanOrEqual(SIGNALS / 3);
    const orders = run.paper.inspect.orders();

    // 1. Exactly one final report per signal's entry, and nothing about the entry after it.
    for (const s of signals) {
      const entry = run.of(s.signalId, 'entry');
      expect([s.signalId, entry.filter((r) => isFinalStatus(r.status)).length]).toEqual([s.signalId, 1]);
      expect([s.signalId, isFinalStatus(entry[entry.length - 1]?.status ?? 'NEW')]).toEqual([s.signalId, true]);
    }

    // 2. No cl_ord_id accepted twice; nothing on the exchange the handler did not report.
    const reportedIds = new Set(run.reports.map((r) => r.clientOrderId).filter((id): id is string => id !== null));
    for (const order of orders) {
      expect(order.clOrdId).not.toBeNull();
      expect([order.clOrdId, run.paper.inspect.acceptedCount(order.clOrdId ?? '')]).toEqual([order.clOrdId, 1]);
      expect(reportedIds.has(order.clOrdId ?? '')).toBe(true);
    }

    // 3. What each entry's final report says matches the exchange; whatever filled is protected.
    const byClOrdId = new Map<string, InspectedOrder>(orders.map((o) => [o.clOrdId ?? '', o]));
    let filledEntries = 0;
    for (const s of signals) {
      const final = run.finals(s.signalId, 'entry')[0] as ExecutionReport;
      const onExchange = final.clientOrderId ? byClOrdId.get(final.clientOrderId) : undefined;
      if (final.status === 'REJECTED') {
        expect([s.signalId, onExchange]).toEqual([s.signalId, undefined]);
        continue;
      }
      expect([s.signalId, final.quantityFilled.toFixed()]).toEqual([s.signalId, (onExchange?.volumeExecuted ?? new Decimal(0)).toFixed()]);
      if (final.quantityFilled.isZero()) continue;
      filledEntries += 1;
      const stops = run.of(s.signalId, 'stop-loss');
      if (stops.some((r) => r.status === 'REJECTED' && r.reason?.startsWith('dust:'))) continue;
      const resting = stops.find((r) => r.status === 'NEW');
      const stopOrder = resting?.clientOrderId ? byClOrdId.get(resting.clientOrderId) : undefined;
      const story = stops.map((r) => `${r.status}${r.reason ? ` (${r.reason})` : ''}`);
      expect([s.signalId, stopOrder?.orderType, stopOrder?.status, stopOrder?.volume.toFixed(), story]).toEqual([
        s.signalId,
        'stop-loss',
        'open',
        final.quantityFilled.toFixed(),
        story,
      ]);
    }
    expect(filledEntries).toBeGreaterThanOrEqual(20);

    // 4. Never a rate-limit error (REST and the trading counter the socket's orders share).
    expect(run.paper.inspect.rateLimitErrors()).toEqual({ rest: 0, trading: 0 });
    expect(run.problems).toEqual([]);

    // And it stops cleanly, leaving the protective stops resting.
    const restingStops = run.paper.inspect.openOrders().filter((o) => o.orderType === 'stop-loss').length;
    await run.stop();
    expect(run.completed).toBe(true);
    expect(run.paper.inspect.openOrders().filter((o) => o.orderType === 'stop-loss')).toHaveLength(restingStops);
    expect(run.paper.inspect.openOrders().filter((o) => o.orderType !== 'stop-loss')).toEqual([]);
  }, 60_000);
});
