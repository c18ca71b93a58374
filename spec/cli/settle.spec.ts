import { Decimal } from 'decimal.js';
import { tap } from 'rxjs';
import { TestScheduler } from 'rxjs/testing';
import { RunTracker, runSettled } from '../../src/cli/settle';
import { type ExecutionReport } from '../../src/model/report';
import { type TradeSignal } from '../../src/model/signal';

const newScheduler = (): TestScheduler => new TestScheduler((actual, expected) => expect(actual).toEqual(expected));

let count = 0;
const report = (fields: Partial<ExecutionReport>): ExecutionReport => {
  count += 1;
  return {
    reportId: `r${count}`,
    timestamp: 0,
    signalId: 's1',
    clientOrderId: 'e1',
    exchangeOrderId: 'O1',
    pair: 'BTC/USD',
    role: 'entry',
    side: 'buy',
    orderType: 'market',
    status: 'NEW',
    quantityOrdered: new Decimal('0.01'),
    quantityFilled: new Decimal(0),
    lastFillQuantity: null,
    lastFillPrice: null,
    averageFillPrice: null,
    limitPrice: null,
    stopPrice: null,
    commission: new Decimal(0),
    commissionAsset: null,
    reason: null,
    ...fields,
  };
};

const signal: TradeSignal = { signalId: 's1', pair: 'BTC/USD', side: 'buy', orderType: 'market', quantity: '0.01', stopLoss: '29000' };

describe('RunTracker', () => {
  it('waits for every signal to be answered', () => {
    const tracker = new RunTracker('stop-resting');
    tracker.expectSignal(signal);
    expect(tracker.waitingFor()).toEqual(['signal s1: no report yet']);
    tracker.add(report({ status: 'REJECTED', clientOrderId: null, exchangeOrderId: null }));
    expect(tracker.isSettled()).toBe(true);
  });

  it('does not wait for protection of an entry a close cancelled after it had filled: the close took its fill (issue 10.6)', () => {
    const tracker = new RunTracker('stop-resting');
    tracker.expectSignal(signal);
    tracker.expectSignal({ ...signal, signalId: 's2' });
    tracker.expectCommand({ commandId: 'c1', pair: 'BTC/USD' });
    // Another order is still followed meanwhile: s2's entry, then its stop resting.
    tracker.add(report({ signalId: 's2', clientOrderId: 'e2', exchangeOrderId: 'O5', status: 'NEW' }));
    tracker.add(report({ status: 'NEW' }));
    tracker.add(report({ status: 'PENDING_CANCEL', reason: 'cancel: close-position' }));
    // The entry had filled before the cancel reached it.
    tracker.add(report({ status: 'FILLED', quantityFilled: new Decimal('0.01') }));
    tracker.add(report({ signalId: 'c1', role: 'close', clientOrderId: 'x1', exchangeOrderId: 'O3', side: 'sell', status: 'PENDING_NEW' }));
    tracker.add(report({ signalId: 'c1', role: 'close', clientOrderId: 'x1', exchangeOrderId: 'O3', side: 'sell', status: 'FILLED', quantityFilled: new Decimal('0.01') }));
    tracker.add(report({ signalId: 's2', clientOrderId: 'e2', exchangeOrderId: 'O5', status: 'FILLED', quantityFilled: new Decimal('0.01') }));
    tracker.add(report({ signalId: 's2', role: 'stop-loss', clientOrderId: 'p2', exchangeOrderId: 'O6', side: 'sell', orderType: 'stop-loss', status: 'NEW' }));
    expect(tracker.waitingFor()).toEqual([]);
  });

  it('waits for an open entry, then for the stop-loss its fill asked for, then lets the stop rest', () => {
    const tracker = new RunTracker('stop-resting');
    tracker.expectSignal(signal);
    tracker.add(report({ status: 'NEW' }));
    expect(tracker.waitingFor()).toEqual(['s1 entry NEW (O1)']);
    tracker.add(report({ status: 'FILLED', quantityFilled: new Decimal('0.01') }));
    expect(tracker.waitingFor()).toEqual(['s1 protection: not placed yet']);
    tracker.add(report({ role: 'stop-loss', clientOrderId: 'p1', exchangeOrderId: 'O2', side: 'sell', orderType: 'stop-loss', status: 'PENDING_NEW' }));
    expect(tracker.waitingFor()).toEqual(['s1 stop-loss PENDING_NEW (O2)']);
    tracker.add(report({ role: 'stop-loss', clientOrderId: 'p1', exchangeOrderId: 'O2', side: 'sell', orderType: 'stop-loss', status: 'NEW' }));
    expect(tracker.isSettled()).toBe(true);
  });

  it('expects no protection for an entry that filled nothing', () => {
    const tracker = new RunTracker('stop-resting');
    tracker.expectSignal({ ...signal, orderType: 'limit', limitPrice: '1' });
    tracker.add(report({ status: 'CANCELED', reason: 'timeout' }));
    expect(tracker.isSettled()).toBe(true);
  });

  it('expects nothing resting for a take-profit alone in stop-resting mode, but does in both-resting mode', () => {
    const takeProfitOnly: TradeSignal = { signalId: 's1', pair: 'BTC/USD', side: 'buy', orderType: 'market', quantity: '0.01', takeProfit: '40000' };
    const filled = report({ status: 'FILLED', quantityFilled: new Decimal('0.01') });
    const stopResting = new RunTracker('stop-resting');
    stopResting.expectSignal(takeProfitOnly);
    stopResting.add(filled);
    expect(stopResting.isSettled()).toBe(true);
    const bothResting = new RunTracker('both-resting');
    bothResting.expectSignal(takeProfitOnly);
    bothResting.add(filled);
    expect(bothResting.waitingFor()).toEqual(['s1 protection: not placed yet']);
  });

  it('waits for a close command to be answered and its order to finish', () => {
    const tracker = new RunTracker('stop-resting');
    tracker.expectCommand({ commandId: 'c1', pair: 'BTC/USD' });
    expect(tracker.waitingFor()).toEqual(['close c1: no report yet']);
    tracker.add(report({ signalId: 'c1', role: 'close', side: 'sell', clientOrderId: 'x1', exchangeOrderId: 'O9', status: 'NEW' }));
    expect(tracker.waitingFor()).toEqual(['c1 close NEW (O9)']);
    tracker.add(report({ signalId: 'c1', role: 'close', side: 'sell', clientOrderId: 'x1', exchangeOrderId: 'O9', status: 'FILLED' }));
    expect(tracker.isSettled()).toBe(true);
  });
});

describe('runSettled', () => {
  it('ends a quiet period after the input ended and everything settled', () => {
    newScheduler().run(({ hot, expectObservable }) => {
      let settled = false;
      const inputEnded = hot(' ----e-----------');
      const reports = hot('   -a----b---c-----').pipe(tap((r) => (settled = r === 'c')));
      const expected = '      -------------(x|)';
      expectObservable(runSettled(reports, inputEnded, () => settled, 3)).toBe(expected, { x: undefined });
    });
  });

  it('restarts the quiet wait on each report, and waits while not settled', () => {
    newScheduler().run(({ hot, expectObservable }) => {
      let settled = true;
      const inputEnded = hot(' e---------------');
      const reports = hot('   --a-b---c-------').pipe(tap((r) => (settled = r !== 'b')));
      const expected = '      -----------(x|)';
      expectObservable(runSettled(reports, inputEnded, () => settled, 3)).toBe(expected, { x: undefined });
    });
  });

  it('never ends before the input has ended', () => {
    newScheduler().run(({ hot, expectObservable }) => {
      const inputEnded = hot('  --------');
      const reports = hot('     -a------');
      expectObservable(runSettled(reports, inputEnded, () => true, 1)).toBe('--------');
    });
  });

  it('ends after the quiet period when the input ends with nothing in flight', () => {
    newScheduler().run(({ hot, expectObservable, expectSubscriptions }) => {
      const inputEnded = hot('  --e------');
      const reports = hot('     ---------');
      expectObservable(runSettled(reports, inputEnded, () => true, 2)).toBe('----(x|)', { x: undefined });
      expectSubscriptions(reports.subscriptions).toBe('--^-!');
    });
  });
});
