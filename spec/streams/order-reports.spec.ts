import { describe, expect, it } from '@jest/globals';
import { Decimal } from 'decimal.js';
import { TestScheduler } from 'rxjs/testing';
import { type ExecutionReport, type ReportStatus } from '../../src/model/report';
import { oneFinalPerOrder } from '../../src/streams/order-reports';

const d = (value: string): Decimal => new Decimal(value);

/** A report of a 1.0 limit buy `cid`; `filled` its cumulative executed volume. */
function report(status: ReportStatus, filled = '0', fields: Partial<ExecutionReport> = {}): ExecutionReport {
  const quantityFilled = d(filled);
  return {
    reportId: `${status}-${filled}`,
    timestamp: 0,
    signalId: 's1',
    clientOrderId: 'cid-1',
    exchangeOrderId: status === 'PENDING_NEW' ? null : 'OTX-1',
    pair: 'XXBTZUSD',
    role: 'entry',
    side: 'buy',
    orderType: 'limit',
    status,
    quantityOrdered: d('1'),
    quantityFilled,
    lastFillQuantity: null,
    lastFillPrice: quantityFilled.gt(0) ? d('100') : null,
    averageFillPrice: quantityFilled.gt(0) ? d('100') : null,
    limitPrice: d('100'),
    stopPrice: null,
    commission: d('0'),
    commissionAsset: 'ZUSD',
    reason: null,
    ...fields,
  };
}

const R = {
  p: report('PENDING_NEW'),
  n: report('NEW'),
  h: report('PARTIALLY_FILLED', '0.4'),
  f: report('FILLED', '1'),
  x: report('PENDING_CANCEL', '0', { reason: 'cancel: timeout' }),
  y: report('PENDING_CANCEL', '0.4', { reason: 'cancel: timeout' }),
  c: report('CANCELED', '0.4', { reason: 'cancelled: timeout' }),
  u: report('UNKNOWN', '0', { exchangeOrderId: null }),
  r: report('REJECTED', '0', { exchangeOrderId: null, clientOrderId: null, quantityOrdered: null }),
  e: report('ERROR', '0', { exchangeOrderId: null, reason: 'order state unknown, needs manual attention' }),
};

interface Logged {
  readonly errors: string[];
  readonly debugs: string[];
}

function run(body: (helpers: Parameters<Parameters<TestScheduler['run']>[0]>[0], logged: Logged, log: { debug: (...a: unknown[]) => void; error: (...a: unknown[]) => void }) => void): Logged {
  const logged: Logged = { errors: [], debugs: [] };
  const log = { debug: (...a: unknown[]) => void logged.debugs.push(a.map(String).join(' ')), error: (...a: unknown[]) => void logged.errors.push(a.map(String).join(' ')) };
  new TestScheduler((actual, expected) => expect(actual).toEqual(expected)).run((helpers) => body(helpers, logged, log));
  return logged;
}

describe('oneFinalPerOrder', () => {
  it('drops a duplicate FILLED, logged at error: one final status per order', () => {
    const logged = run(({ cold, expectObservable, expectSubscriptions }, _, log) => {
      const reports = cold('-p-n-f-f-|', R);
      const subs = '        ^--------!';
      expectObservable(reports.pipe(oneFinalPerOrder(log))).toBe('-p-n-f---|', R);
      expectSubscriptions(reports.subscriptions).toBe(subs);
    });
    expect(logged.errors).toEqual([expect.stringMatching(/^s1: FILLED of order cid-1 not reported: the order is already filled/)]);
  });

  it('keeps a fill that comes after the cancel was sent (the fill won the race), and its CANCELED', () => {
    const logged = run(({ cold, expectObservable }, _, log) => {
      expectObservable(cold('-p-n-x-h-c-|', R).pipe(oneFinalPerOrder(log))).toBe('-p-n-x-h-c-|', R);
    });
    expect(logged.errors).toEqual([]);
  });

  it('keeps a FILLED after the cancel was sent: the fill won for all of it', () => {
    run(({ cold, expectObservable }, _, log) => {
      expectObservable(cold('-p-n-x-f-|', R).pipe(oneFinalPerOrder(log))).toBe('-p-n-x-f-|', R);
    });
  });

  it('drops any report after the final one, logged at error', () => {
    const logged = run(({ cold, expectObservable }, _, log) => {
      expectObservable(cold('-p-n-h-c-f-y-|', R).pipe(oneFinalPerOrder(log))).toBe('-p-n-h-c-----|', R);
    });
    expect(logged.errors).toHaveLength(2);
    expect(logged.errors[0]).toContain('FILLED of order cid-1 not reported: the order is already canceled');
  });

  it('drops a report the machine calls invalid (a second txid for one client order id), logged at error', () => {
    const logged = run(({ cold, expectObservable }, _, log) => {
      const other = { ...R, z: report('NEW', '0', { exchangeOrderId: 'OTX-9' }) };
      expectObservable(cold('-p-n-z-f-|', other).pipe(oneFinalPerOrder(log))).toBe('-p-n---f-|', other);
    });
    expect(logged.errors).toEqual([expect.stringContaining('NEW of order cid-1 not reported: cid-1 is OTX-1 on the exchange, not OTX-9')]);
  });

  it('drops a repeated partial fill at debug level only', () => {
    const logged = run(({ cold, expectObservable }, _, log) => {
      expectObservable(cold('-p-n-h-h-f-|', R).pipe(oneFinalPerOrder(log))).toBe('-p-n-h---f-|', R);
    });
    expect(logged.errors).toEqual([]);
    expect(logged.debugs).toHaveLength(1);
  });

  it('passes a report with no client order id, and folds each order on its own', () => {
    const other = { ...R, q: report('PENDING_NEW', '0', { clientOrderId: 'cid-2' }), w: report('NEW', '0', { clientOrderId: 'cid-2', exchangeOrderId: 'OTX-2' }) };
    run(({ cold, expectObservable }, _, log) => {
      expectObservable(cold('-p-r-q-n-w-f-r-|', other).pipe(oneFinalPerOrder(log))).toBe('-p-r-q-n-w-f-r-|', other);
    });
  });

  it('lets an ambiguous placement end in ERROR, or be resent after a proven absence (UNKNOWN again), once', () => {
    run(({ cold, expectObservable }, _, log) => {
      expectObservable(cold('-p-u-u-n-f-|', R).pipe(oneFinalPerOrder(log))).toBe('-p-u-u-n-f-|', R);
      expectObservable(cold('-p-u-e-e-|', R).pipe(oneFinalPerOrder(log))).toBe('-p-u-e---|', R);
    });
  });

  it('folds an order first seen past PENDING_NEW (restored at start) from where its first report puts it', () => {
    run(({ cold, expectObservable }, _, log) => {
      expectObservable(cold('-h-y-c-f-|', R).pipe(oneFinalPerOrder(log))).toBe('-h-y-c---|', R);
    });
  });

  it('a second PENDING_CANCEL (a new cancel after a withdrawn one) is reported', () => {
    run(({ cold, expectObservable }, _, log) => {
      expectObservable(cold('-p-n-x-x-c-|', { ...R, c: report('CANCELED', '0') }).pipe(oneFinalPerOrder(log))).toBe('-p-n-x-x-c-|', { ...R, c: report('CANCELED', '0') });
    });
  });

  it('errors with the source, completes with it, and ends nothing on an empty or never-ending one', () => {
    run(({ cold, expectObservable, expectSubscriptions }, _, log) => {
      const failing = cold('-p-#', R, new Error('boom'));
      expectObservable(failing.pipe(oneFinalPerOrder(log))).toBe('-p-#', R, new Error('boom'));
      expectObservable(cold<ExecutionReport>('|').pipe(oneFinalPerOrder(log))).toBe('|');
      const never = cold<ExecutionReport>('-');
      expectObservable(never.pipe(oneFinalPerOrder(log)), '^--!').toBe('-');
      expectSubscriptions(never.subscriptions).toBe('^--!');
    });
  });

  it('keeps a fold per subscription: a second subscriber sees the whole story again', () => {
    run(({ cold, expectObservable }, _, log) => {
      const folded = cold('-p-n-f-|', R).pipe(oneFinalPerOrder(log));
      expectObservable(folded).toBe('-p-n-f-|', R);
      expectObservable(folded).toBe('-p-n-f-|', R);
    });
  });
});
