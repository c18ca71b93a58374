import { describe, expect, it } from '@jest/globals';
import { type LookupResult, lookUpOrder } from '../../src/streams/lookup';
import { FakePort, exchangeError, marbles, ordersOf, snapshot } from './fake-exchange';
import { exchangeDeps } from './stream-deps';

const clientOrderId = 'c0ffee00-0000-4000-8000-000000000001';
const found = snapshot({ txid: 'OSTOP-1', status: 'open', clientOrderId, orderType: 'stop-loss', side: 'sell' });

describe('lookUpOrder', () => {
  it('waits out an open breaker: a fast refusal is not an attempt, and the lookup after the cool-down finds the order', () => {
    marbles(({ cold, scheduler, flush }) => {
      const port = new FakePort(
        {
          // The first lookup meets a lockout (the breaker opens at once for 60 s); the exchange has the order.
          openOrders: (_, call) => (call === 1 ? cold('10ms #', {}, exchangeError('auth', 'EGeneral:Temporary lockout', 'OpenOrders')) : cold('10ms (a|)', { a: ordersOf(found) })),
          closedOrders: () => cold('10ms (a|)', { a: ordersOf() }),
        },
        scheduler,
      );
      const deps = exchangeDeps(port, scheduler);
      const results: Array<[number, LookupResult['kind']]> = [];
      lookUpOrder(clientOrderId, 0, deps).subscribe((result) => results.push([scheduler.now(), result.kind]));
      flush();
      // Asked at 1000 (lockout at 1010: open until 61010); refused lookups ask nothing; the first one after the
      // cool-down is the breaker's probe and finds it.
      expect(port.callsOf('openOrders').map((call) => call.at)).toEqual([1000, 61010]);
      expect(results).toEqual([[61020, 'found']]);
    });
  });

  it('counts a failed probe as an attempt: with the exchange down and the breaker reopening, it still ends unproven', () => {
    marbles(({ cold, scheduler, flush }) => {
      const port = new FakePort({ openOrders: () => cold('10ms #', {}, exchangeError('retryable', 'EService:Unavailable', 'OpenOrders')) }, scheduler);
      const deps = exchangeDeps(port, scheduler);
      const results: Array<LookupResult['kind']> = [];
      lookUpOrder(clientOrderId, 0, deps).subscribe((result) => results.push(result.kind));
      scheduler.maxFrames = 10 * 60_000;
      flush();
      expect(results).toEqual(['unproven']);
    });
  });

  it('still ends unproven after its attempts when the exchange answers and proves nothing', () => {
    marbles(({ cold, scheduler, flush }) => {
      const port = new FakePort({ openOrders: () => cold('10ms #', {}, exchangeError('retryable', 'EService:Unavailable', 'OpenOrders')) }, scheduler);
      const deps = exchangeDeps(port, scheduler, { config: { ...exchangeDeps(port, scheduler).config, breaker: { failureThreshold: 1_000, cooldownMs: 60_000 } } });
      const results: Array<LookupResult['kind']> = [];
      lookUpOrder(clientOrderId, 0, deps).subscribe((result) => results.push(result.kind));
      flush();
      expect(results).toEqual(['unproven']);
    });
  });
});
