import { describe, expect, it } from '@jest/globals';
import { merge, take } from 'rxjs';
import { Decimal } from 'decimal.js';
import { KrakenRateBudget } from '../../src/kraken/budget';
import { type RateBudget, type RateCost } from '../../src/model/budget';
import { type OrderSnapshot } from '../../src/model/order';
import { FakePort, exchangeError, marbles, ordersOf, snapshot } from './fake-exchange';
import { exchangeDeps } from './stream-deps';
import { createOrderMonitor } from '../../src/streams/order-monitor';

const open = (txid: string): OrderSnapshot => snapshot({ txid, status: 'open' });
const closed = (txid: string): OrderSnapshot => snapshot({ txid, status: 'closed', volumeExecuted: '1', price: '100' });

describe('order monitor', () => {
  it('batches orders gone from the open set into QueryOrders of 50, 50 and 20, with one OpenOrders per tick', () => {
    marbles(({ cold, expectObservable, scheduler, flush }) => {
      const txids = Array.from({ length: 120 }, (_, i) => `O-${i + 1}`);
      const port = new FakePort(
        {
          openOrders: () => cold('10ms (a|)', { a: ordersOf() }),
          queryOrders: (batch) => cold('10ms (a|)', { a: ordersOf(...batch.map(closed)) }),
        },
        scheduler,
      );
      const monitor = createOrderMonitor(exchangeDeps(port, scheduler));
      const all$ = merge(...txids.map((txid) => monitor.track(txid).pipe(take(1))));
      // Tick 1 at 1000 ms: all 120 are younger than the 2 s OpenOrders lag, so nothing is queried yet.
      // Tick 2 at 2010 ms: OpenOrders answers at 2020; then 3 QueryOrders one after the other, done at 2050.
      expectObservable(all$.pipe(take(1))).toBe('2050ms (a|)', { a: closed('O-1') });
      flush();
      expect(port.callsOf('openOrders').map((call) => call.at)).toEqual([1000, 2010]);
      expect(port.callsOf('queryOrders').map((call) => [call.at, (call.args as readonly string[]).length])).toEqual([
        [2020, 50],
        [2030, 50],
        [2040, 20],
      ]);
      expect(new Set(port.callsOf('queryOrders').flatMap((call) => call.args as readonly string[])).size).toBe(120);
    });
  });

  it('derives each order stream from the one poll: open orders cost nothing beyond the OpenOrders call', () => {
    marbles(({ cold, expectObservable, scheduler, flush }) => {
      const port = new FakePort({ openOrders: () => cold('(a|)', { a: ordersOf(open('A'), open('B'), open('C')) }) }, scheduler);
      const monitor = createOrderMonitor(exchangeDeps(port, scheduler));
      // The first reading is news; the same status and executed volume again is not delivered.
      expectObservable(monitor.track('A'), '^ 3500ms !').toBe('1000ms a', { a: open('A') });
      expectObservable(monitor.track('B'), '^ 3500ms !').toBe('1000ms b', { b: open('B') });
      flush();
      expect(port.callsOf('openOrders').map((call) => call.at)).toEqual([1000, 2000, 3000]);
      expect(port.callsOf('queryOrders')).toEqual([]);
    });
  });

  it('delivers an order only on the ticks that change its status or executed volume, to each follower', () => {
    marbles(({ cold, expectObservable, scheduler, flush }) => {
      const a0 = open('A');
      const a1 = { ...open('A'), volumeExecuted: new Decimal('0.5') };
      const answers = [ordersOf(a0, open('B')), ordersOf(a0, open('B')), ordersOf(a1, open('B')), ordersOf(a1, open('B'))];
      const port = new FakePort({ openOrders: (_, call) => cold('(a|)', { a: answers[Math.min(call, answers.length) - 1] ?? ordersOf() }) }, scheduler);
      const monitor = createOrderMonitor(exchangeDeps(port, scheduler));
      expectObservable(monitor.track('A'), '^ 4500ms !').toBe('1000ms a 1999ms b', { a: a0, b: a1 });
      // A second follower of the same order, arriving late, still hears the state it has not heard yet.
      expectObservable(monitor.track('A'), '3500ms ^ 1000ms !').toBe('4000ms b', { b: a1 });
      expectObservable(monitor.track('B'), '^ 4500ms !').toBe('1000ms b', { b: open('B') });
      flush();
      expect(port.callsOf('openOrders').map((call) => call.at)).toEqual([1000, 2000, 3000, 4000]);
    });
  });

  it('queries an order as soon as it leaves the open set once it was seen open', () => {
    marbles(({ cold, expectObservable, scheduler, flush }) => {
      const port = new FakePort(
        {
          openOrders: (_, call) => cold('(a|)', { a: call === 1 ? ordersOf(open('A')) : ordersOf() }),
          queryOrders: (batch) => cold('(a|)', { a: ordersOf(...batch.map(closed)) }),
        },
        scheduler,
      );
      const monitor = createOrderMonitor(exchangeDeps(port, scheduler));
      expectObservable(monitor.track('A').pipe(take(2))).toBe('1000ms a 999ms (c|)', { a: open('A'), c: closed('A') });
      flush();
      expect(port.callsOf('queryOrders').map((call) => [call.at, call.args])).toEqual([[2000, ['A']]]);
    });
  });

  it('polls only while something is tracked, and starts again for the next order', () => {
    marbles(({ cold, expectObservable, scheduler, flush }) => {
      const port = new FakePort({ openOrders: () => cold('(a|)', { a: ordersOf(open('A'), open('B')) }) }, scheduler);
      const monitor = createOrderMonitor(exchangeDeps(port, scheduler));
      expectObservable(monitor.track('A'), '^ 1500ms !').toBe('1000ms a', { a: open('A') });
      expectObservable(monitor.track('B'), '5000ms ^ 2500ms !').toBe('6000ms b', { b: open('B') });
      flush();
      expect(port.callsOf('openOrders').map((call) => call.at)).toEqual([1000, 6000, 7000]);
      expect(monitor.trackedCount).toBe(0);
    });
  });

  it('slows its tick while the REST budget is low, never below the minimum nor above the maximum', () => {
    marbles(({ cold, expectObservable, scheduler, flush }) => {
      const asked: RateCost[] = [];
      // Low until 10 s (4.5 s to wait), then plenty; from 20 s it can never fit (capped at the 8 s maximum).
      const budget: RateBudget = {
        // Only the monitor's pacing question (its tick plus the reserve) is scripted; single calls always fit.
        waitMs: (cost, now) => {
          if (cost.rest < 3) return 0;
          asked.push(cost);
          return now < 10_000 ? 4_500 : now < 20_000 ? 0 : Number.POSITIVE_INFINITY;
        },
        record: () => undefined,
        snap: () => undefined,
      };
      const port = new FakePort({ openOrders: () => cold('(a|)', { a: ordersOf(open('A')) }) }, scheduler);
      const monitor = createOrderMonitor(exchangeDeps(port, scheduler, { budget }));
      expectObservable(monitor.track('A'), '^ 30000ms !');
      flush();
      expect(port.callsOf('openOrders').map((call) => call.at)).toEqual([
        4_500, 9_000, 13_500, 14_500, 15_500, 16_500, 17_500, 18_500, 19_500, 20_500, 28_500,
      ]);
      // The pace is read for one OpenOrders plus the reserve for lookups and closes.
      expect(asked[0]).toEqual({ rest: 3 });
    });
  });

  it('keeps polling after a failed tick', () => {
    marbles(({ cold, expectObservable, scheduler, flush }) => {
      const port = new FakePort(
        {
          openOrders: (_, call) =>
            call <= 4 ? cold('#', {}, exchangeError('refused', 'EGeneral:Invalid arguments', 'OpenOrders')) : cold('(a|)', { a: ordersOf(open('A')) }),
        },
        scheduler,
      );
      const monitor = createOrderMonitor(exchangeDeps(port, scheduler));
      expectObservable(monitor.track('A').pipe(take(1))).toBe('5000ms (a|)', { a: open('A') });
      flush();
      expect(port.callsOf('openOrders').map((call) => call.at)).toEqual([1000, 2000, 3000, 4000, 5000]);
    });
  });

  it('many open orders at Starter tier: ticks pace themselves and no rate-limit error comes back', () => {
    marbles(({ cold, expectObservable, scheduler, flush }) => {
      const txids = Array.from({ length: 1000 }, (_, i) => `O-${i + 1}`);
      const openSet = ordersOf(...txids.map(open));
      const exchangeSide = new KrakenRateBudget('starter');
      let rateLimited = 0;
      const port = new FakePort(
        {
          openOrders: () => {
            if (exchangeSide.tryCharge({ rest: 1 }, scheduler.now())) return cold('50ms (a|)', { a: openSet });
            rateLimited += 1;
            return cold('50ms #', {}, exchangeError('rate-limited', 'EAPI:Rate limit exceeded', 'OpenOrders'));
          },
        },
        scheduler,
      );
      const monitor = createOrderMonitor(exchangeDeps(port, scheduler, { budget: new KrakenRateBudget('starter') }));
      expectObservable(merge(...txids.map((txid) => monitor.track(txid))).pipe(take(1)), '^ 600000ms !').toBe('1050ms (a|)', {
        a: open('O-1'),
      });
      expectObservable(monitor.track('O-1'), '^ 600000ms !');
      flush();
      const ticks = port.callsOf('openOrders').map((call) => call.at);
      expect(rateLimited).toBe(0);
      // 13 quick ticks use up the counter down to the reserve, then about one tick per 1 / 0.33 s.
      const lastGap = (ticks.at(-1) ?? 0) - (ticks.at(-2) ?? 0);
      expect(lastGap).toBeGreaterThanOrEqual(3000);
      expect(lastGap).toBeLessThanOrEqual(3100);
      expect(port.callsOf('queryOrders')).toEqual([]);
    });
  });
});
