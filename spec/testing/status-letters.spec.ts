import { Decimal } from 'decimal.js';
import { TestScheduler } from 'rxjs/testing';
import { type ExecutionReport, type OrderRole, type ReportStatus } from '../../src/model/report';
import { STATUS_LETTERS, statusLetters } from '../../src/testing';

const report = (status: ReportStatus, signalId = 's1', role: OrderRole = 'entry'): ExecutionReport => ({
  reportId: `${signalId}-${role}-${status}`,
  timestamp: 0,
  signalId,
  clientOrderId: null,
  exchangeOrderId: null,
  pair: 'XXBTZUSD',
  role,
  side: 'buy',
  orderType: 'market',
  status,
  quantityOrdered: new Decimal('0.1'),
  quantityFilled: new Decimal(0),
  lastFillQuantity: null,
  lastFillPrice: null,
  averageFillPrice: null,
  limitPrice: null,
  stopPrice: null,
  commission: new Decimal(0),
  commissionAsset: null,
  reason: null,
});

const marbles = (body: (helpers: Parameters<Parameters<TestScheduler['run']>[0]>[0]) => void): void => {
  new TestScheduler((actual, expected) => expect(actual).toEqual(expected)).run(body);
};

describe('statusLetters', () => {
  it('maps every status to the README diagram letter', () => {
    expect(STATUS_LETTERS).toEqual({
      PENDING_NEW: 'P',
      NEW: 'N',
      PARTIALLY_FILLED: 'p',
      FILLED: 'F',
      PENDING_CANCEL: 'X',
      CANCELED: 'C',
      EXPIRED: 'E',
      REJECTED: 'R',
      UNKNOWN: 'U',
      ERROR: '*',
    });
  });

  it('letters one signal\'s reports as they come, in their frames', () => {
    marbles(({ cold, expectObservable, expectSubscriptions }) => {
      const statuses: ReportStatus[] = ['PENDING_NEW', 'NEW', 'PARTIALLY_FILLED', 'FILLED', 'PENDING_CANCEL', 'CANCELED', 'EXPIRED', 'REJECTED', 'UNKNOWN', 'ERROR'];
      const values = Object.fromEntries(statuses.map((s, i) => [String.fromCharCode(97 + i), report(s)]));
      const reports$ = cold('-a-b-c-d-e-f-g-h-i-j|', values);
      expectObservable(statusLetters(reports$, { signalId: 's1' })).toBe('-P-N-p-F-X-C-E-R-U-*|');
      expectSubscriptions(reports$.subscriptions).toBe('^-------------------!');
    });
  });

  it('keeps only the signal and role asked for', () => {
    marbles(({ cold, expectObservable }) => {
      const reports$ = cold('-a-b-c-d|', {
        a: report('PENDING_NEW', 's1', 'entry'),
        b: report('PENDING_NEW', 's2', 'entry'),
        c: report('NEW', 's1', 'stop-loss'),
        d: report('FILLED', 's1', 'entry'),
      });
      expectObservable(statusLetters(reports$, { signalId: 's1', role: 'entry' })).toBe('-P-----F|');
      expectObservable(statusLetters(reports$, { signalId: 's1' })).toBe('-P---N-F|');
    });
  });

  it('passes an error on and lets go when unsubscribed early', () => {
    marbles(({ cold, expectObservable, expectSubscriptions }) => {
      const failing = cold('-a-#', { a: report('NEW') }, new Error('boom'));
      expectObservable(statusLetters(failing, { signalId: 's1' })).toBe('-N-#', undefined, new Error('boom'));
      const endless = cold('-a----', { a: report('NEW') });
      expectObservable(statusLetters(endless, { signalId: 's1' }), '^--!').toBe('-N--');
      expectSubscriptions(endless.subscriptions).toBe('^--!');
    });
  });
});
