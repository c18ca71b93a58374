import { afterEach, describe, expect, it } from '@jest/globals';
import { cancelPenaltyUnits } from '../../src/kraken/budget';
import { type TradeSignal } from '../../src/model/signal';
import { E2eRun, closeAllRuns } from './support/harness';

/**
 * Kraken's starter tier (REST counter 15, decay 0.33/s; trading counter 60 per pair, decay 1/s) against many
 * open orders: one shared monitor and the client-side budget keep every call inside both limits (design.md §3.2,
 * §3.3). The paper exchange enforces the same limits and counts every rate-limit error it returns.
 */

afterEach(closeAllRuns);

const resting = (i: number): TradeSignal =>
  i % 5 < 3
    ? { signalId: `r${i}`, pair: 'XBTUSD', side: 'buy', orderType: 'limit', quantity: '0.01', limitPrice: `${50000 + i * 10}`, timeoutMs: 3_600_000 }
    : { signalId: `r${i}`, pair: 'ETHUSD', side: 'buy', orderType: 'limit', quantity: '0.1', limitPrice: `${2500 + i}`, timeoutMs: 3_600_000 };

describe('e2e: many open orders at starter tier', () => {
  it('25 working orders watched for a minute, then all cancelled at stop(): no rate-limit error, one OpenOrders call per tick', async () => {
    const run = await E2eRun.start();
    const count = 25;
    for (let i = 0; i < count; i++) run.signals.next(resting(i));
    await run.until('every entry accepted', () => run.reports.filter((r) => r.status === 'NEW').length === count);
    const watchFrom = run.clock.now();
    const openOrdersBefore = run.paper.inspect.requestCount('OpenOrders');

    await run.pass(60_000);
    const watchedMs = run.clock.now() - watchFrom;
    const ticks = run.paper.inspect.requestCount('OpenOrders') - openOrdersBefore;
    // One call per tick covers all 25 orders: at most what starter's counter allows, and never per order.
    expect(ticks).toBeGreaterThanOrEqual(5);
    expect(ticks).toBeLessThanOrEqual(Math.ceil(15 + (0.33 * watchedMs) / 1000));
    expect(run.paper.inspect.requestCount('QueryOrders')).toBe(0);
    expect(run.paper.inspect.openOrders()).toHaveLength(count);

    // stop(): every working entry is cancelled. Young orders make dear cancels (up to 8 units on a 60-unit pair
    // counter), so the client must pace them.
    await run.stop();
    for (let i = 0; i < count; i++) expect(run.finals(`r${i}`).map((r) => r.status)).toEqual(['CANCELED']);
    expect(run.paper.inspect.openOrders()).toEqual([]);
    expect(run.paper.inspect.rateLimitErrors()).toEqual({ rest: 0, trading: 0 });
    expect(run.wire.filter((w) => w.body.includes('Rate limit exceeded'))).toEqual([]);
    expect(run.problems).toEqual([]);
  });

  it('a burst of cancels of just-placed orders on one pair is paced to the trading counter', async () => {
    const run = await E2eRun.start();
    const count = 12;
    for (let i = 0; i < count; i++) {
      run.signals.next({ signalId: `b${i}`, pair: 'XBTUSD', side: 'buy', orderType: 'limit', quantity: '0.01', limitPrice: `${50000 + i * 10}`, timeoutMs: 1_000 });
    }
    // 12 AddOrders (+12) and 12 cancels at under 5 s of age (+8 each = 96) cannot all fit under 60 at once.
    await run.until('every entry final', () => Array.from({ length: count }, (_, i) => run.finals(`b${i}`).length === 1).every(Boolean));
    const finals = Array.from({ length: count }, (_, i) => run.finals(`b${i}`)[0]);
    expect(finals.map((r) => [r?.signalId, r?.status])).toEqual(Array.from({ length: count }, (_, i) => [`b${i}`, 'CANCELED']));
    // What Kraken's pair counter was charged, from the exchange's own record: it must have needed pacing.
    const orders = run.paper.inspect.orders();
    const charged = orders.reduce((units, o) => units + 1 + cancelPenaltyUnits((o.closedAt ?? 0) - o.openedAt), 0);
    const elapsed = (Math.max(...orders.map((o) => o.closedAt ?? 0)) - Math.min(...orders.map((o) => o.openedAt))) / 1000;
    expect(charged).toBeGreaterThan(60);
    // A counter that never exceeded 60 and decays 1/s: the calls had to be spread over charged - 60 seconds.
    expect(elapsed).toBeGreaterThanOrEqual(charged - 60);
    expect(run.paper.inspect.rateLimitErrors()).toEqual({ rest: 0, trading: 0 });
    expect(run.wire.filter((w) => w.body.includes('Rate limit exceeded'))).toEqual([]);
  });
});
