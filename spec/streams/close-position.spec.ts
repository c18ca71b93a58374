import { describe, expect, it } from '@jest/globals';
import { type TestScheduler } from 'rxjs/testing';
import { type RunHelpers } from 'rxjs/internal/testing/TestScheduler';
import { type ExecutionConfig } from '../../src/model/config';
import { type TradeSignal } from '../../src/model/signal';
import { type VirtualExchange } from '../../src/testing';
import { config as baseConfig, marbles } from './fake-exchange';
import { type Inputs, type Run, type RunOptions, ordersOfType, run as runOn, sentAt } from './scenario';

/**
 * Issue 10, items 1–3, and issue 11's untracked sell: what a close owns is the snapshot of lots and stops it
 * found when it started, and nothing that arrived after it.
 */

// A breaker that does not open on the few unavailable answers these scenarios script.
const config: ExecutionConfig = { ...baseConfig, breaker: { failureThreshold: 100, cooldownMs: 60_000 } };

/** The scenario handler, with that breaker, on XBTUSD at 60000 unless told otherwise. */
const run = (scheduler: TestScheduler, inputs: Inputs, options: RunOptions = {}): Run => runOn(scheduler, inputs, { config, price: '60000', ...options });

/** `method` answers EService:Unavailable (the paper's service-unavailable fault) from frame `from` until `until`. */
function unavailable(scheduler: TestScheduler, exchange: VirtualExchange, method: string, from: number, until: number): void {
  scheduler.schedule(() => exchange.faults.setRates(method, { 'service-unavailable': 1 }), from);
  scheduler.schedule(() => exchange.faults.setRates(method, {}), until);
}

/** Resting stops on the exchange, as `side volume @ trigger`. */
const restingStops = (exchange: VirtualExchange): string[] =>
  ordersOfType(exchange, 'stop-loss')
    .filter((order) => order.status === 'open')
    .map((order) => `${order.side} ${order.volume.toFixed()} @ ${order.price?.toFixed() ?? '?'}`);

const marketOrders = (exchange: VirtualExchange): string[] => ordersOfType(exchange, 'market').map((order) => `${order.side} ${order.volume.toFixed()}`);

const first: TradeSignal = { signalId: 'first', pair: 'XBTUSD', side: 'buy', orderType: 'market', quantity: '0.05', stopLoss: '57000' };
const later: TradeSignal = { signalId: 'later', pair: 'XBTUSD', side: 'buy', orderType: 'market', quantity: '0.03', stopLoss: '56000' };

describe('close-position owns the snapshot it started with', () => {
  it('a close whose stop cancel is unavailable for 4 s, with a new entry meanwhile, sells only its own lots and leaves the new entry protected', () => {
    marbles(({ hot, scheduler, flush }) => {
      const { handler, reports, exchange } = run(scheduler, {
        signals$: hot('a 5999ms b', { a: first, b: later }),
        commands$: hot('5000ms c', { c: { commandId: 'close-1', pair: 'XBTUSD' } }),
      });
      // The close's cancel of the first stop is answered EService:Unavailable until 9 s.
      unavailable(scheduler, exchange, 'CancelOrder', 0, 9_000);
      scheduler.schedule(() => void handler.stop(), 60_000);
      flush();
      const close = reports.filter((r) => r.role === 'close');
      expect(close.map((r) => [r.status, r.quantityFilled.toFixed()])).toEqual([
        ['PENDING_NEW', '0'],
        ['NEW', '0'],
        ['FILLED', '0.05'],
      ]);
      // Never the manual-attention ERROR: the close waited for its own stop only.
      expect(reports.filter((r) => r.status === 'ERROR')).toEqual([]);
      expect(marketOrders(exchange)).toEqual(['buy 0.05', 'buy 0.03', 'sell 0.05']);
      // The later entry keeps its own stop, and the exposure matches it.
      expect(restingStops(exchange)).toEqual(['sell 0.03 @ 56000']);
      expect(handler.positions().map((p) => [p.side, p.quantity.toFixed(), p.protectiveOrders.map((o) => o.quantity.toFixed())])).toEqual([
        ['buy', '0.03', ['0.03']],
      ]);
    });
  });

  it('confirms its stop cancel from the cancel\'s own answer: the sell goes out without waiting for a slow monitor', () => {
    marbles(({ hot, scheduler, flush }) => {
      const { handler, reports, exchange } = run(scheduler, {
        signals$: hot('a', { a: first }),
        commands$: hot('5000ms c', { c: { commandId: 'close-1', pair: 'XBTUSD' } }),
      });
      // From the close on, the monitor's QueryOrders fail: only the cancel's answer can tell the stop is gone.
      unavailable(scheduler, exchange, 'QueryOrders', 5_000, 40_000);
      scheduler.schedule(() => void handler.stop(), 60_000);
      flush();
      const cancelAnsweredAt = (sentAt(exchange, 'CancelOrder')[0] ?? 0) + 10;
      const closeSent = reports.find((r) => r.role === 'close' && r.status === 'PENDING_NEW');
      // Right after the answer: one ticker read (10 ms) for the cost minimum, then the sell.
      expect(sentAt(exchange, 'Ticker').filter((frame) => frame >= 5_000)).toEqual([cancelAnsweredAt]);
      expect(closeSent?.timestamp).toBe(cancelAnsweredAt + 10);
      expect(reports.filter((r) => r.status === 'ERROR')).toEqual([]);
      expect(marketOrders(exchange)).toEqual(['buy 0.05', 'sell 0.05']);
    });
  });

  it('a partial close puts back the snapshot held minus sold, on the snapshot\'s side, whatever later entries did', () => {
    marbles(({ hot, scheduler, flush }) => {
      const short: TradeSignal = { signalId: 'short', pair: 'XBTUSD', side: 'sell', orderType: 'market', quantity: '0.04', stopLoss: '63000' };
      // Holdings the handler did not buy (1 XBT) cover the later short entry (a spot sell).
      const { handler, reports, exchange } = run(
        scheduler,
        {
          signals$: hot('a 5999ms b', { a: first, b: short }),
          commands$: hot('5000ms c', { c: { commandId: 'close-1', pair: 'XBTUSD', quantity: '0.02' } }),
        },
        { xbt: '1' },
      );
      unavailable(scheduler, exchange, 'CancelOrder', 0, 9_000);
      scheduler.schedule(() => void handler.stop(), 60_000);
      flush();
      expect(marketOrders(exchange)).toEqual(['buy 0.05', 'sell 0.04', 'sell 0.02']);
      // The first lot's 0.03 is protected by a sell stop at its trigger; the short keeps its own buy stop.
      expect(restingStops(exchange).sort()).toEqual(['buy 0.04 @ 63000', 'sell 0.03 @ 57000']);
      const putBack = reports.filter((r) => r.signalId === 'close-1' && r.role === 'stop-loss');
      expect(putBack.map((r) => [r.side, r.status, r.quantityOrdered?.toFixed()])).toEqual([
        ['sell', 'PENDING_NEW', '0.03'],
        ['sell', 'NEW', '0.03'],
      ]);
    });
  });

  it('lots arriving after a close belong to their own entry: the close does not sell them, and their take-profit sells them once', () => {
    marbles(({ hot, scheduler, flush }) => {
      const withTakeProfit: TradeSignal = { signalId: 'tp', pair: 'XBTUSD', side: 'buy', orderType: 'market', quantity: '0.03', takeProfit: '61000' };
      const { handler, reports, exchange } = run(scheduler, {
        signals$: hot('a 5999ms b', { a: first, b: withTakeProfit }),
        commands$: hot('5000ms c', { c: { commandId: 'close-1', pair: 'XBTUSD' } }),
      });
      unavailable(scheduler, exchange, 'CancelOrder', 0, 9_000);
      exchange.setPriceAt(20_000, 'XBTUSD', '61500');
      scheduler.schedule(() => void handler.stop(), 60_000);
      flush();
      expect(marketOrders(exchange)).toEqual(['buy 0.05', 'buy 0.03', 'sell 0.05', 'sell 0.03']);
      expect(reports.filter((r) => r.role === 'take-profit' && r.status === 'FILLED').map((r) => r.quantityFilled.toFixed())).toEqual(['0.03']);
      // Flat, never short.
      expect(exchange.inspect.balance('XBT').balance.toFixed()).toBe('0');
      expect(handler.positions()).toEqual([]);
    });
  });

  it('a close that cannot sell puts its cancelled stop back for what it held, and says so', () => {
    marbles(({ hot, scheduler, flush }) => {
      const { handler, reports, exchange } = run(scheduler, {
        signals$: hot('a', { a: first }),
        commands$: hot('5000ms c', { c: { commandId: 'close-1', pair: 'XBTUSD' } }),
      });
      // The close's market sell is refused for good.
      exchange.refuse('AddOrder', 'EOrder:Trading agreement required', { when: (params) => params['ordertype'] === 'market' && params['type'] === 'sell' });
      scheduler.schedule(() => void handler.stop(), 60_000);
      flush();
      expect(reports.filter((r) => r.role === 'close').map((r) => r.status)).toEqual(['PENDING_NEW', 'ERROR']);
      expect(restingStops(exchange)).toEqual(['sell 0.05 @ 57000']);
      const restored = reports.filter((r) => r.signalId === 'close-1' && r.role === 'stop-loss');
      expect(restored.map((r) => r.status)).toEqual(['PENDING_NEW', 'NEW']);
      expect(restored[0]?.reason).toBe('protection restored: the close sold 0 of 0.05');
      expect(handler.positions().map((p) => [p.quantity.toFixed(), p.protectiveOrders.map((o) => o.quantity.toFixed())])).toEqual([['0.05', ['0.05']]]);
    });
  });

  /**
   * Two stops (0.02 @ 57000, 0.03 @ 56000); a close at 5 s whose cancel of the second never gets an answer that
   * proves anything (EGeneral:Internal error: a cancel that may have happened), so it stays resting; stop() at 120 s
   * unless told otherwise.
   */
  const stuckSecondStop = (
    scheduler: TestScheduler,
    hot: RunHelpers['hot'],
    { stopAt = 120_000, ...options }: RunOptions & { stopAt?: number },
  ): { run: Run; stuck: () => string | undefined } => {
    const small: TradeSignal = { ...first, signalId: 'small', quantity: '0.02' };
    const stuckRun = run(scheduler, { signals$: hot('a b', { a: small, b: later }), commands$: hot('5000ms c', { c: { commandId: 'close-1', pair: 'XBTUSD' } }) }, options);
    const stuck = (): string | undefined => ordersOfType(stuckRun.exchange, 'stop-loss')[1]?.txid;
    stuckRun.exchange.refuse('CancelOrder', 'EGeneral:Internal error', { when: (params) => params['txid'] !== undefined && params['txid'] === stuck() });
    scheduler.schedule(() => void stuckRun.handler.stop(), stopAt);
    return { run: stuckRun, stuck };
  };

  it('a close that times out waiting for a stop that will not go puts back protection for what the cancelled stops covered', () => {
    marbles(({ hot, scheduler, flush }) => {
      // Left at 130 s: this run does not end by itself (see the next case).
      const { run: { reports, exchange }, stuck } = stuckSecondStop(scheduler, hot, { endAt: 130_000 });
      flush();
      const error = reports.find((r) => r.role === 'close' && r.status === 'ERROR');
      expect(error?.reason).toMatch(/^close not sent: protective orders or entries not confirmed gone \(.+\).*; protection restored for 0\.02; needs manual attention$/);
      expect(error?.reason).toContain(`(${stuck() ?? 'no second stop'})`);
      expect(marketOrders(exchange)).toEqual(['buy 0.02', 'buy 0.03']);
      // The stuck stop still covers its 0.03; the cancelled one's 0.02 is covered again at its trigger.
      expect(restingStops(exchange).sort()).toEqual(['sell 0.02 @ 57000', 'sell 0.03 @ 56000']);
    });
  });

  // Until the close gives up (37 s) and after, the stuck stop's cancel keeps being retried: the stop was cancelled
  // for a reason. At stop() (120 s) the stop is left resting like any protective order: the cancel attempt under
  // way (its backoff ends at 120.68 s) is the last, its follower ends, and so does the run.
  it('…and after stop() that run ends: no cancel after the one under way, nothing sent after it, reports$ completes', () => {
    marbles(({ hot, scheduler, flush }) => {
      const { run: { exchange, completedAt, handler }, stuck } = stuckSecondStop(scheduler, hot, { endAt: 250_000 });
      flush();
      const cancels = exchange.sent('CancelOrder').filter((request) => request.frame > 100_000).map((request) => request.frame);
      // Retried about every second while the run goes on, up to stop().
      expect(cancels.filter((frame) => frame < 120_000).length).toBeGreaterThan(15);
      expect(cancels.filter((frame) => frame >= 120_000)).toEqual([120_680]);
      expect(exchange.sent().filter((request) => request.frame > 120_690)).toEqual([]);
      expect(completedAt()).toBe(120_690);
      // Left resting, and still listed: it protects its 0.03, and the stop put back covers the other 0.02.
      expect(restingStops(exchange).sort()).toEqual(['sell 0.02 @ 57000', 'sell 0.03 @ 56000']);
      expect(handler.positions().flatMap((p) => p.protectiveOrders.map((o) => o.txid)).sort()).toContain(stuck());
    });
  });

  it('stop() while the close waits for the stuck stop: the close still ends at its time limit, puts protection back, and the run ends', () => {
    marbles(({ hot, scheduler, flush }) => {
      const { run: { reports, exchange, completedAt }, stuck } = stuckSecondStop(scheduler, hot, { endAt: 250_000, stopAt: 10_000 });
      flush();
      // The stuck stop's cancel: retried until stop(), then only the attempt under way (due at 10.59 s).
      const stuckCancels = exchange.sent('CancelOrder').filter((request) => request.params['txid'] === stuck()).map((request) => request.frame);
      expect(stuckCancels.filter((frame) => frame > 10_000)).toEqual([10_590]);
      // The close under way at stop() goes on: at its time limit (32 s after 5 s) ERROR, and the 0.02 covered again.
      const error = reports.find((r) => r.role === 'close' && r.status === 'ERROR');
      expect(error?.timestamp).toBe(37_000);
      expect(error?.reason).toContain('protection restored for 0.02');
      expect(restingStops(exchange).sort()).toEqual(['sell 0.02 @ 57000', 'sell 0.03 @ 56000']);
      expect(marketOrders(exchange)).toEqual(['buy 0.02', 'buy 0.03']);
      // The stop put back is accepted and left resting: nothing is sent after it, and reports$ completes then.
      expect(exchange.sent().filter((request) => request.frame > 37_010)).toEqual([]);
      expect(completedAt()).toBe(37_010);
    });
  });
});

describe('close-position and untracked holdings (issue 11)', () => {
  it('a close with a quantity but no tracked position is rejected: it never sells from the account by accident', () => {
    marbles(({ hot, scheduler, flush }) => {
      const { handler, reports, exchange } = run(
        scheduler,
        { signals$: hot('-'), commands$: hot('100ms c', { c: { commandId: 'close-1', pair: 'XBTUSD', quantity: '0.5' } }) },
        { xbt: '2' },
      );
      scheduler.schedule(() => void handler.stop(), 10_000);
      flush();
      expect(reports.map((r) => [r.role, r.status, r.reason])).toEqual([
        ['close', 'REJECTED', 'nothing to close on BTC/USD: no tracked position (sellUntracked: true sells 0.5 from the account\'s holdings)'],
      ]);
      expect(ordersOfType(exchange, 'market')).toEqual([]);
    });
  });

  it('with sellUntracked the close sells the quantity from the account, and its reports say it was untracked', () => {
    marbles(({ hot, scheduler, flush }) => {
      const { handler, reports, exchange } = run(
        scheduler,
        { signals$: hot('-'), commands$: hot('100ms c', { c: { commandId: 'close-1', pair: 'XBTUSD', quantity: '0.5', sellUntracked: true } }) },
        { xbt: '2' },
      );
      scheduler.schedule(() => void handler.stop(), 10_000);
      flush();
      expect(marketOrders(exchange)).toEqual(['sell 0.5']);
      const close = reports.filter((r) => r.role === 'close');
      expect(close.map((r) => r.status)).toEqual(['PENDING_NEW', 'NEW', 'FILLED']);
      expect(close[0]?.reason).toBe('untracked: selling 0.5 from the account\'s holdings (sellUntracked)');
    });
  });
});
