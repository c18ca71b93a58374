import { describe, expect, it } from '@jest/globals';
import { Decimal } from 'decimal.js';
import { type Observable, type OperatorFunction, map } from 'rxjs';
import { type ExchangeOrderStatus, type OrderSnapshot } from '../../src/model/order';
import { type OrderEvent, fillDeltas } from '../../src/operators/fill-deltas';
import { marbles } from './support';

/** A snapshot of one 1.0 XBTUSD buy order, with what has executed so far. */
const snapshot = (status: ExchangeOrderStatus, volumeExecuted: string, cost = '0', fee = '0'): OrderSnapshot => ({
  txid: 'OABCDE-FGHIJ-KLMNOP',
  clientOrderId: 'c0ffee00-0000-4000-8000-000000000001',
  pair: 'XBTUSD',
  side: 'buy',
  orderType: 'limit',
  status,
  volume: new Decimal('1.0'),
  volumeExecuted: new Decimal(volumeExecuted),
  cost: new Decimal(cost),
  fee: new Decimal(fee),
  averagePrice: new Decimal(volumeExecuted).isZero() ? new Decimal(0) : new Decimal(cost).div(volumeExecuted),
  limitPrice: new Decimal('50010'),
  stopPrice: null,
  openedAt: 1_700_000_000,
  closedAt: status === 'open' || status === 'pending' ? null : 1_700_000_100,
  reason: null,
});

/** Events as short readable strings, so marble values compare exactly and read well. */
const described: OperatorFunction<OrderEvent, string> = map((event) =>
  event.kind === 'fill'
    ? `fill ${event.quantity.toFixed()} @ ${event.price.toFixed()} fee ${event.fee.toFixed()}`
    : `${event.snapshot.status} ${event.snapshot.volumeExecuted.toFixed()}`,
);

const deltas = (source: Observable<OrderSnapshot>): Observable<string> => source.pipe(fillDeltas(), described);

describe('fillDeltas', () => {
  it('never emits and stays subscribed when no snapshot comes', () => {
    marbles(({ cold, expectObservable, expectSubscriptions }) => {
      const source = cold<OrderSnapshot>('-');
      const subs =                       '^';
      const expected =                   '-';
      expectObservable(deltas(source)).toBe(expected);
      expectSubscriptions(source.subscriptions).toBe(subs);
    });
  });

  it('completes at once when the snapshots are empty', () => {
    marbles(({ cold, expectObservable, expectSubscriptions }) => {
      const source = cold<OrderSnapshot>('|');
      const subs =                       '(^!)';
      const expected =                   '|';
      expectObservable(deltas(source)).toBe(expected);
      expectSubscriptions(source.subscriptions).toBe(subs);
    });
  });

  it('reports the first snapshot as a status event', () => {
    marbles(({ cold, expectObservable }) => {
      const source = cold('-o-', { o: snapshot('open', '0') });
      const expected =    '-s-';
      expectObservable(deltas(source)).toBe(expected, { s: 'open 0' });
    });
  });

  it('reports partial fills 0 → 0.3 → 1.0 with prices from the change in cost and fees from the change in fee', () => {
    marbles(({ cold, expectObservable, expectSubscriptions }) => {
      const source = cold('-o-p-f-', {
        o: snapshot('open', '0'),
        p: snapshot('open', '0.3', '15000.03', '0.39'),
        f: snapshot('closed', '1.0', '50000.17', '1.30'),
      });
      const subs =        '^----!';
      const expected =    '-o-p-(fc|)';
      expectObservable(deltas(source)).toBe(expected, {
        o: 'open 0',
        p: 'fill 0.3 @ 50000.1 fee 0.39',
        f: 'fill 0.7 @ 50000.2 fee 0.91',
        c: 'closed 1',
      });
      expectSubscriptions(source.subscriptions).toBe(subs);
    });
  });

  it('ignores duplicate snapshots (same status and executed volume)', () => {
    marbles(({ cold, expectObservable }) => {
      const source = cold('-o-o-p-p-', {
        o: snapshot('open', '0'),
        p: snapshot('open', '0.3', '15000.03', '0.39'),
      });
      const expected =    '-o---p---';
      expectObservable(deltas(source)).toBe(expected, { o: 'open 0', p: 'fill 0.3 @ 50000.1 fee 0.39' });
    });
  });

  it('ignores a stale snapshot with a lower executed volume, and measures the next fill from the highest seen', () => {
    marbles(({ cold, expectObservable }) => {
      const source = cold('-a---b-s-c-', {
        a: snapshot('open', '0.3', '15000.03', '0.39'),
        b: snapshot('open', '0.5', '25000.05', '0.65'),
        s: snapshot('open', '0.3', '15000.03', '0.39'),
        c: snapshot('open', '0.6', '30000.06', '0.78'),
      });
      const expected =    '-(ao)b---c-';
      expectObservable(deltas(source)).toBe(expected, {
        a: 'fill 0.3 @ 50000.1 fee 0.39',
        o: 'open 0.3',
        b: 'fill 0.2 @ 50000.1 fee 0.26',
        c: 'fill 0.1 @ 50000.1 fee 0.13',
      });
    });
  });

  it('reports the fill of a canceled order with executed volume, then its final status, and completes', () => {
    marbles(({ cold, expectObservable, expectSubscriptions }) => {
      const source = cold('-o-x-y', {
        o: snapshot('open', '0'),
        x: snapshot('canceled', '0.4', '20000', '0.52'),
        y: snapshot('canceled', '0.4', '20000', '0.52'),
      });
      const subs =        '^--!';
      const expected =    '-o-(fx|)';
      expectObservable(deltas(source)).toBe(expected, {
        o: 'open 0',
        f: 'fill 0.4 @ 50000 fee 0.52',
        x: 'canceled 0.4',
      });
      expectSubscriptions(source.subscriptions).toBe(subs);
    });
  });

  it('reports a status change without a fill (open → expired) and completes after the final status', () => {
    marbles(({ cold, expectObservable, expectSubscriptions }) => {
      const source = cold('-p-o-e-o-', { p: snapshot('pending', '0'), o: snapshot('open', '0'), e: snapshot('expired', '0') });
      const subs =        '^----!';
      const expected =    '-p-o-(e|)';
      expectObservable(deltas(source)).toBe(expected, { p: 'pending 0', o: 'open 0', e: 'expired 0' });
      expectSubscriptions(source.subscriptions).toBe(subs);
    });
  });

  it('reports a fill without a status event while the status stays open', () => {
    marbles(({ cold, expectObservable }) => {
      const source = cold('-o-a-b-', {
        o: snapshot('open', '0'),
        a: snapshot('open', '0.1', '5000', '0.1'),
        b: snapshot('open', '0.25', '12500.15', '0.25'),
      });
      const expected =    '-o-a-b-';
      expectObservable(deltas(source)).toBe(expected, {
        o: 'open 0',
        a: 'fill 0.1 @ 50000 fee 0.1',
        b: 'fill 0.15 @ 50001 fee 0.15',
      });
    });
  });

  it('reports an order first seen already filled as one whole fill, then its final status', () => {
    marbles(({ cold, expectObservable }) => {
      const source = cold('-c', { c: snapshot('closed', '1', '50000', '1.3') });
      const expected =    '-(fc|)';
      expectObservable(deltas(source)).toBe(expected, { f: 'fill 1 @ 50000 fee 1.3', c: 'closed 1' });
    });
  });

  it('keeps 12 significant digits of a price that does not divide evenly', () => {
    marbles(({ cold, expectObservable }) => {
      const source = cold('-a', { a: snapshot('open', '0.3', '10', '0') });
      const expected =    '-(fo)';
      expectObservable(deltas(source)).toBe(expected, { f: 'fill 0.3 @ 33.3333333333 fee 0', o: 'open 0.3' });
    });
  });

  it('takes the snapshot average price for an increment whose cost did not move', () => {
    const noCost: OrderSnapshot = { ...snapshot('open', '0.2'), averagePrice: new Decimal('49999.5') };
    marbles(({ cold, expectObservable }) => {
      const source = cold('-a', { a: noCost });
      const expected =    '-(fo)';
      expectObservable(deltas(source)).toBe(expected, { f: 'fill 0.2 @ 49999.5 fee 0', o: 'open 0.2' });
    });
  });

  it('carries the snapshot that caused each event', () => {
    const partial = snapshot('open', '0.3', '15000.03', '0.39');
    marbles(({ cold, expectObservable }) => {
      const source = cold('-a', { a: partial });
      const expected =    '-(tt)';
      const sameSnapshot = source.pipe(
        fillDeltas(),
        map((event) => event.snapshot === partial),
      );
      expectObservable(sameSnapshot).toBe(expected, { t: true });
    });
  });

  it('passes an error of the source on', () => {
    marbles(({ cold, expectObservable, expectSubscriptions }) => {
      const failed = new Error('monitor failed');
      const source = cold('-o-#', { o: snapshot('open', '0') }, failed);
      const subs =        '^--!';
      const expected =    '-o-#';
      expectObservable(deltas(source)).toBe(expected, { o: 'open 0' }, failed);
      expectSubscriptions(source.subscriptions).toBe(subs);
    });
  });

  it('keeps listening to a never-ending stream of open snapshots', () => {
    marbles(({ cold, expectObservable, expectSubscriptions }) => {
      const source = cold('-o-a-', { o: snapshot('open', '0'), a: snapshot('open', '0.5', '25000', '0.5') });
      const subs =        '^';
      const expected =    '-o-a-';
      expectObservable(deltas(source)).toBe(expected, { o: 'open 0', a: 'fill 0.5 @ 50000 fee 0.5' });
      expectSubscriptions(source.subscriptions).toBe(subs);
    });
  });

  it('unsubscribes from the snapshots on early unsubscription', () => {
    marbles(({ cold, expectObservable, expectSubscriptions }) => {
      const source = cold('-o-a-c', {
        o: snapshot('open', '0'),
        a: snapshot('open', '0.5', '25000', '0.5'),
        c: snapshot('closed', '1', '50000', '1'),
      });
      const unsub =       '^--!';
      const expected =    '-o-';
      expectObservable(deltas(source), unsub).toBe(expected, { o: 'open 0' });
      expectSubscriptions(source.subscriptions).toBe(unsub);
    });
  });
});

// A guard that the Decimal values are real Decimals (not strings that happen to print the same).
describe('fillDeltas values', () => {
  it('emits Decimal quantities, prices and fees', () => {
    const events: OrderEvent[] = [];
    marbles(({ cold, expectObservable }) => {
      const result = cold('-a', { a: snapshot('open', '0.3', '15000.03', '0.39') }).pipe(fillDeltas());
      expectObservable(result.pipe(map((event) => (events.push(event), event.kind)))).toBe('-(fs)', { f: 'fill', s: 'status' });
    });
    const fill = events[0];
    expect(fill?.kind === 'fill' && Decimal.isDecimal(fill.quantity) && Decimal.isDecimal(fill.price) && Decimal.isDecimal(fill.fee)).toBe(true);
  });
});
