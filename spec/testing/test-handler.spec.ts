import { filter, map } from 'rxjs';
import { TestScheduler } from 'rxjs/testing';
import { type TradeSignal } from '../../src/model/signal';
import { createTestHandler, statusLetters } from '../../src/testing';

const marketBuy: TradeSignal = { signalId: 's1', pair: 'BTC/USD', side: 'buy', orderType: 'market', quantity: '0.01', stopLoss: '58000' };

const newScheduler = (): TestScheduler => new TestScheduler((actual, expected) => expect(actual).toEqual(expected));

describe('createTestHandler', () => {
  it('runs a market entry to a resting stop in virtual time, against the paper engine', () => {
    const scheduler = newScheduler();
    scheduler.run(({ cold, expectObservable }) => {
      const kit = createTestHandler({ scheduler, pairs: ['BTC/USD'], prices: { 'BTC/USD': '60000' }, signals$: cold('-s', { s: marketBuy }) });
      // s at 1; the pair rules (10 ms) then the ticker (10 ms) before P; N 10 ms after; the fill is known once
      // the order has been missing from OpenOrders for the 2 s lag; the stop follows at once, rests 10 ms later.
      const window = '^ 4999ms !';
      expectObservable(statusLetters(kit.reports$, { signalId: 's1', role: 'entry' }), window).toBe('21ms P 9ms N 2029ms F');
      expectObservable(statusLetters(kit.reports$, { signalId: 's1', role: 'stop-loss' }), window).toBe('2061ms P 9ms N');
      scheduler.schedule(() => {
        const [entry, stop] = kit.inspect.orders();
        expect([entry?.orderType, entry?.status, entry?.volumeExecuted.toFixed()]).toEqual(['market', 'closed', '0.01']);
        expect([stop?.orderType, stop?.status, stop?.volume.toFixed(), stop?.price?.toFixed()]).toEqual(['stop-loss', 'open', '0.01', '58000']);
        expect(kit.inspect.balance('XBT').hold.toFixed()).toBe('0.01');
      }, 4_000);
    });
  });

  it('repeats exactly: the same seed gives the same client order ids and the same requests', () => {
    const runOnce = (seed: number): string[] => {
      const scheduler = newScheduler();
      let trace: string[] = [];
      scheduler.run(({ cold, expectObservable }) => {
        const kit = createTestHandler({ scheduler, seed, signals$: cold('-s', { s: marketBuy }) });
        expectObservable(kit.reports$, '^ 3s !');
        scheduler.schedule(() => {
          trace = [
            ...kit.inspect.orders().map((o) => `${o.clOrdId ?? ''} ${o.txid} ${o.openedAt}`),
            ...[...kit.inspect.requestCounts()].map(([method, n]) => `${method} ${n}`),
          ];
        }, 2_999);
      });
      return trace;
    };
    const first = runOnce(3);
    expect(first.length).toBeGreaterThan(2);
    expect(runOnce(3)).toEqual(first);
    expect(runOnce(4)[0]).not.toEqual(first[0]);
  });

  it('takes HALT from the caller\'s halted$: an entry while halted is rejected, and the run ends with its last subscriber', () => {
    const scheduler = newScheduler();
    scheduler.run(({ cold, hot, expectObservable, expectSubscriptions }) => {
      const signals$ = hot('-a 99ms b', { a: { ...marketBuy, signalId: 'a' }, b: { ...marketBuy, signalId: 'b' } });
      const kit = createTestHandler({ scheduler, signals$, halted$: cold('50ms t', { t: true }) });
      expectObservable(statusLetters(kit.reports$, { signalId: 'b' }), '^ 200ms !').toBe('101ms R');
      expectObservable(statusLetters(kit.reports$, { signalId: 'a', role: 'entry' }), '^ 200ms !').toBe('21ms P 9ms N');
      expectSubscriptions(signals$.subscriptions).toBe('^ 200ms !');
    });
  });
});

describe('createTestHandler: a run nobody ends', () => {
  it('fails at runLimitMs instead of polling forever', () => {
    const scheduler = newScheduler();
    scheduler.run(({ cold, expectObservable }) => {
      const limitBuy: TradeSignal = { signalId: 'open', pair: 'BTC/USD', side: 'buy', orderType: 'limit', quantity: '0.01', limitPrice: '50000' };
      const kit = createTestHandler({ scheduler, runLimitMs: 20_000, signals$: cold('-s', { s: limitBuy }) });
      expectObservable(statusLetters(kit.reports$, { signalId: 'open' })).toBe(
        '11ms P 9ms N 19978ms #',
        undefined,
        new Error('test handler: the run is still going after 20000 virtual ms; end it with stopAt(frame) or an unsubscription marble'),
      );
    });
  });

  it('stamps reports in the exchange\'s dates: the entry placed at frame 21 (after AssetPairs) reads 09:00:00.021Z', () => {
    const scheduler = newScheduler();
    scheduler.run(({ cold, expectObservable }) => {
      const kit = createTestHandler({ scheduler, signals$: cold('-s', { s: marketBuy }) });
      const stamps = kit.reports$.pipe(
        filter((r) => r.role === 'entry' && r.status === 'PENDING_NEW'),
        map((r) => new Date(r.timestamp).toISOString()),
      );
      expectObservable(stamps, '^ 3s !').toBe('21ms a', { a: '2026-01-05T09:00:00.021Z' });
    });
  });
});
