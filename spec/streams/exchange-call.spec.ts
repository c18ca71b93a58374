import { describe, expect, it } from '@jest/globals';
import { ChargeLog } from '../operators/support';
import { exchangeCall } from '../../src/streams/exchange-call';
import { FakePort, XBT, config, exchangeError, marbles, ordersOf, quoteOf } from './fake-exchange';
import { exchangeDeps } from './stream-deps';

/** Never makes anyone wait; records when each cost was charged. */
describe('exchangeCall and the private-call slot', () => {
  it('sends a private call only once the one in flight has ended, and charges it then (the port queues private calls)', () => {
    const budget = new ChargeLog();
    marbles(({ cold, scheduler, flush }) => {
      const port = new FakePort(
        {
          // A slow OpenOrders, as when the exchange client's queue holds a call up to its request timeout.
          openOrders: () => cold('4000ms (a|)', { a: ordersOf() }),
          cancelOrder: () => cold('100ms (c|)', { c: { count: 1, pending: false } }),
          ticker: () => cold('100ms (t|)', { t: quoteOf('100') }),
        },
        scheduler,
      );
      const deps = exchangeDeps(port, scheduler, { budget });
      exchangeCall(deps, 'monitor', () => ({ kind: 'openOrders' }), () => port.openOrders(), 'idempotent').subscribe();
      scheduler.schedule(() => {
        exchangeCall(deps, 'cancel', () => ({ kind: 'cancelOrder', pair: XBT.key, orderAgeMs: 1000 }), () => port.cancelOrder({ txid: 'OTX-1' }), 'idempotent').subscribe();
        exchangeCall(deps, 'monitor', () => ({ kind: 'ticker' }), () => port.ticker([XBT.key]), 'idempotent').subscribe();
      }, 10);
      flush();
      // The ticker is public: it does not wait. The cancel goes when OpenOrders has ended.
      expect(port.calls.map((call) => `${call.at} ${call.method}`)).toEqual(['0 openOrders', '10 ticker', '4000 cancelOrder']);
      expect(budget.charges.map((charge) => charge.at)).toEqual([0, 10, 4000]);
    });
  });

  it('a Ticker that answers between failing private calls does not reset the breaker: the third private failure opens it', () => {
    marbles(({ cold, scheduler, flush }) => {
      const port = new FakePort(
        {
          // The key's private calls fail (a 5xx behind which the private API is down); public data still answers.
          queryOrders: () => cold('10ms #', {}, exchangeError('ambiguous', 'HTTP 502', 'QueryOrders')),
          ticker: () => cold('10ms (t|)', { t: quoteOf('100') }),
        },
        scheduler,
      );
      const deps = exchangeDeps(port, scheduler, { config: { ...config, retry: { ...config.retry, maxAttempts: 1 } } });
      const query = () => exchangeCall(deps, 'monitor', () => ({ kind: 'queryOrders' }), () => port.queryOrders(['O1']), 'once').subscribe({ error: () => undefined });
      const ticker = () => exchangeCall(deps, 'monitor', () => ({ kind: 'ticker' }), () => port.ticker([XBT.key]), 'idempotent').subscribe({ error: () => undefined });
      [query, ticker, query, ticker, query].forEach((call, i) => scheduler.schedule(call, i * 100));
      let stateAfter = '';
      scheduler.schedule(() => (stateAfter = deps.breaker.state), 500);
      flush();
      // config.breaker.failureThreshold is 3: the three QueryOrders failures in a row open it, tickers or not.
      expect(stateAfter).toBe('open');
      expect(port.calls.map((call) => `${call.at} ${call.method}`)).toEqual(['0 queryOrders', '100 ticker', '200 queryOrders', '300 ticker', '400 queryOrders']);
    });
  });

  it('frees the slot between retries: a higher-lane call goes during the backoff of a lower one', () => {
    marbles(({ cold, scheduler, flush }) => {
      let openCalls = 0;
      const port = new FakePort(
        {
          openOrders: () => {
            openCalls += 1;
            return openCalls === 1 ? cold('10ms #', {}, exchangeError('retryable', 'EService:Unavailable', 'OpenOrders')) : cold('10ms (a|)', { a: ordersOf() });
          },
          cancelOrder: () => cold('10ms (c|)', { c: { count: 1, pending: false } }),
        },
        scheduler,
      );
      const deps = exchangeDeps(port, scheduler);
      exchangeCall(deps, 'monitor', () => ({ kind: 'openOrders' }), () => port.openOrders(), 'idempotent').subscribe({ error: () => undefined });
      scheduler.schedule(() => {
        exchangeCall(deps, 'cancel', () => ({ kind: 'cancelOrder', pair: XBT.key, orderAgeMs: 1000 }), () => port.cancelOrder({ txid: 'OTX-1' }), 'idempotent').subscribe();
      }, 5);
      flush();
      // OpenOrders fails at 10 and is retried after 100 ms of backoff; the cancel waiting for the slot goes at 10.
      expect(port.calls.map((call) => `${call.at} ${call.method}`)).toEqual(['0 openOrders', '10 cancelOrder', '110 openOrders']);
    });
  });

  it('does not send calls that waited for their turn while the breaker opened (a bad key does not hammer the exchange)', () => {
    marbles(({ cold, scheduler, flush }) => {
      const port = new FakePort({ openOrders: () => cold('10ms #', {}, exchangeError('auth', 'EAPI:Invalid signature', 'OpenOrders')) }, scheduler);
      const deps = exchangeDeps(port, scheduler);
      const outcomes: string[] = [];
      for (let i = 0; i < 3; i++) {
        exchangeCall(deps, 'monitor', () => ({ kind: 'openOrders' }), () => port.openOrders(), 'idempotent').subscribe({
          error: (error: unknown) => outcomes.push(`${scheduler.now()} ${error instanceof Error ? error.message.split(':')[0] : String(error)}`),
        });
      }
      flush();
      // The first answers "invalid signature" and opens the breaker at once; the two queued behind it are refused unsent.
      expect(port.calls.map((call) => call.at)).toEqual([0]);
      expect([...outcomes].sort()).toEqual(['10 OpenOrders', '10 circuit breaker open', '10 circuit breaker open']);
    });
  });

  it('a persistent call retries a lost answer past the limit until persistUntil$ emits; then its next failure is its last', () => {
    marbles(({ cold, hot, scheduler, expectObservable, flush }) => {
      const port = new FakePort({ cancelOrder: () => cold('10ms #', {}, exchangeError('ambiguous', 'EGeneral:Internal error', 'CancelOrder')) }, scheduler);
      // A breaker that stays closed: this is about the retry limit alone.
      const deps = exchangeDeps(port, scheduler, { config: { ...config, breaker: { failureThreshold: 1_000, cooldownMs: 60_000 } } });
      const cancel$ = exchangeCall(deps, 'cancel', () => ({ kind: 'cancelOrder', pair: XBT.key, orderAgeMs: 1000 }), () => port.cancelOrder({ txid: 'OTX-1' }), 'idempotent', {
        persistUntil$: hot('5000ms s'),
      });
      // Backoff 100, 200, 400, 800, then capped at 1000 ms; nine attempts where retry.maxAttempts is 4. At 5000 the
      // limit applies again: the retry already due (5580) is sent, fails, and the error ends the call.
      expectObservable(cancel$).toBe('5590ms #', undefined, exchangeError('ambiguous', 'EGeneral:Internal error', 'CancelOrder'));
      flush();
      expect(port.callsOf('cancelOrder').map((call) => call.at)).toEqual([0, 110, 320, 730, 1540, 2550, 3560, 4570, 5580]);
    });
  });
});
