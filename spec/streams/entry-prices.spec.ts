import { describe, expect, it } from '@jest/globals';
import { NEVER, Subject, of } from 'rxjs';
import { type ExecutionConfig } from '../../src/model/config';
import { type TradeSignal } from '../../src/model/signal';
import { type PlacedEntry, placeEntries } from '../../src/streams/placement';
import { type Step } from '../../src/streams/step';
import { FakePort, book, config, exchangeError, marbles, quoteOf } from './fake-exchange';
import { exchangeDeps } from './stream-deps';

const banded: ExecutionConfig = { ...config, entry: { ...config.entry, maxPriceDeviation: 0.1 } };
const placed = { txid: 'OTX-1', clientOrderId: 'id-1', description: '' };

const market = (signalId: string, fields: Partial<TradeSignal> = {}): TradeSignal => ({ signalId, pair: 'XBTUSD', side: 'buy', orderType: 'market', quantity: '1', ...fields });
const limit = (signalId: string, fields: Partial<TradeSignal> = {}): TradeSignal => ({ signalId, pair: 'XBTUSD', side: 'buy', orderType: 'limit', quantity: '1', limitPrice: '100', ...fields });

interface Outcome {
  readonly signalId: string;
  readonly status: string;
  readonly reason: string | null;
}

const outcomes = (steps: readonly Step<PlacedEntry>[]): Outcome[] =>
  steps.flatMap((step) => (step.kind === 'report' ? [{ signalId: step.report.signalId, status: step.report.status, reason: step.report.reason }] : []));

describe('entries and the last price', () => {
  it('0 public calls for signals rejected by validation: a market signal is validated before any Ticker read', () => {
    marbles(({ cold, scheduler, flush }) => {
      const port = new FakePort({ pairs: () => cold('(b|)', { b: book }), ticker: () => cold('10ms (q|)', { q: quoteOf('100') }) }, scheduler);
      const deps = exchangeDeps(port, scheduler);
      const signals = Array.from({ length: 200 }, (_, i) => market(`bad-${i}`, { quantity: 'abc' }));
      const steps: Step<PlacedEntry>[] = [];
      placeEntries(of(...signals), NEVER, of(book), deps).subscribe((step) => steps.push(step));
      flush();
      expect(outcomes(steps)).toHaveLength(200);
      expect(outcomes(steps).every((o) => o.status === 'REJECTED' && (o.reason ?? '').startsWith('quantity: '))).toBe(true);
      expect(port.callsOf('ticker')).toEqual([]);
      expect(port.callsOf('placeOrder')).toEqual([]);
    });
  });

  it('market signals on one pair share one price read: a burst of 50 costs one Ticker call', () => {
    marbles(({ cold, scheduler, flush }) => {
      const port = new FakePort(
        { ticker: () => cold('10ms (q|)', { q: quoteOf('100') }), placeOrder: (request) => cold('10ms (p|)', { p: { ...placed, clientOrderId: request.clientOrderId } }) },
        scheduler,
      );
      const deps = exchangeDeps(port, scheduler);
      const steps: Step<PlacedEntry>[] = [];
      placeEntries(of(...Array.from({ length: 50 }, (_, i) => market(`m-${i}`))), NEVER, of(book), deps).subscribe((step) => steps.push(step));
      flush();
      expect(outcomes(steps).filter((o) => o.status === 'NEW')).toHaveLength(50);
      expect(port.callsOf('ticker').map((call) => call.at)).toEqual([0]);
    });
  });

  it('the fat-finger band: a limit price further than entry.maxPriceDeviation from the last price is rejected with both prices', () => {
    marbles(({ cold, scheduler, flush }) => {
      const port = new FakePort(
        { ticker: () => cold('10ms (q|)', { q: quoteOf('100') }), placeOrder: (request) => cold('10ms (p|)', { p: { ...placed, clientOrderId: request.clientOrderId } }) },
        scheduler,
      );
      const deps = exchangeDeps(port, scheduler, { config: banded });
      const signals = [
        limit('far', { limitPrice: '1000' }),
        limit('near', { limitPrice: '95' }),
        limit('edge', { limitPrice: '110' }),
        limit('stop', { limitPrice: '100', stopLoss: '80' }),
        limit('tp', { limitPrice: '100', takeProfit: '111' }),
        market('market-tp', { takeProfit: '125' }),
      ];
      const steps: Step<PlacedEntry>[] = [];
      placeEntries(of(...signals), NEVER, of(book), deps).subscribe((step) => steps.push(step));
      flush();
      const rejected = outcomes(steps).filter((o) => o.status === 'REJECTED');
      expect(rejected).toEqual([
        { signalId: 'far', status: 'REJECTED', reason: 'limitPrice: limitPrice 1000 is 900 % from the last price 100, beyond entry.maxPriceDeviation (10 %)' },
        { signalId: 'stop', status: 'REJECTED', reason: 'stopLoss: stopLoss 80 is 20 % from the last price 100, beyond entry.maxPriceDeviation (10 %)' },
        { signalId: 'tp', status: 'REJECTED', reason: 'takeProfit: takeProfit 111 is 11 % from the last price 100, beyond entry.maxPriceDeviation (10 %)' },
        { signalId: 'market-tp', status: 'REJECTED', reason: 'takeProfit: takeProfit 125 is 25 % from the last price 100, beyond entry.maxPriceDeviation (10 %)' },
      ]);
      expect(outcomes(steps).filter((o) => o.status === 'NEW').map((o) => o.signalId)).toEqual(['near', 'edge']);
      expect(port.callsOf('placeOrder')).toHaveLength(2);
      // One read served them all: they came within a second of each other.
      expect(port.callsOf('ticker')).toHaveLength(1);
    });
  });

  it('with a band, an entry whose last price cannot be read is rejected (the band could not be checked), and the next one reads again', () => {
    marbles(({ cold, scheduler, flush }) => {
      const down = exchangeError('refused', 'EGeneral:Internal error', 'Ticker');
      const port = new FakePort(
        {
          ticker: (_, call) => (call === 1 ? cold('10ms #', {}, down) : cold('10ms (q|)', { q: quoteOf('100') })),
          placeOrder: (request) => cold('10ms (p|)', { p: { ...placed, clientOrderId: request.clientOrderId } }),
        },
        scheduler,
      );
      const deps = exchangeDeps(port, scheduler, { config: banded });
      const signals$ = new Subject<TradeSignal>();
      const steps: Step<PlacedEntry>[] = [];
      const subscription = placeEntries(signals$, NEVER, of(book), deps).subscribe((step) => steps.push(step));
      scheduler.schedule(() => signals$.next(limit('blind')), 0);
      scheduler.schedule(() => signals$.next(limit('seen')), 60_000);
      flush();
      subscription.unsubscribe();
      const [blind] = outcomes(steps);
      expect(blind?.status).toBe('REJECTED');
      expect(blind?.reason).toMatch(/^limitPrice: limitPrice 100 not checked against entry\.maxPriceDeviation: no last price: Ticker: EGeneral:Internal error$/);
      expect(outcomes(steps).filter((o) => o.signalId === 'seen').map((o) => o.status)).toEqual(['PENDING_NEW', 'NEW']);
    });
  });

  it('without a band, a limit entry reads no price at all', () => {
    marbles(({ cold, scheduler, flush }) => {
      const port = new FakePort({ placeOrder: (request) => cold('10ms (p|)', { p: { ...placed, clientOrderId: request.clientOrderId } }) }, scheduler);
      const deps = exchangeDeps(port, scheduler);
      const steps: Step<PlacedEntry>[] = [];
      placeEntries(of(limit('far', { limitPrice: '1000' })), NEVER, of(book), deps).subscribe((step) => steps.push(step));
      flush();
      expect(outcomes(steps).map((o) => o.status)).toEqual(['PENDING_NEW', 'NEW']);
      expect(port.callsOf('ticker')).toEqual([]);
    });
  });
});
