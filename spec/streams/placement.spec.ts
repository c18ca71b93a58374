import { describe, expect, it } from '@jest/globals';
import { Decimal } from 'decimal.js';
import { NEVER, type Observable, map, of, timer } from 'rxjs';
import { KrakenRateBudget } from '../../src/kraken/budget';
import { type OrderRequest, type OrderSnapshot } from '../../src/model/order';
import { type ExchangeDeps } from '../../src/streams/deps';
import { type CancelReason, followOrder } from '../../src/streams/order-lifecycle';
import { type Placed, placeOrder } from '../../src/streams/placement';
import { contextOfRequest } from '../../src/streams/reports';
import { type Step, andThen } from '../../src/streams/step';
import { FakePort, OpenBudget, XBT, config, exchangeError, marbles, ordersOf, snapshot } from './fake-exchange';
import { exchangeDeps, streamDeps } from './stream-deps';

const request: OrderRequest = {
  clientOrderId: '6d1b345e-2821-40e2-ad83-4ecb18a06876',
  pair: XBT.key,
  side: 'buy',
  orderType: 'limit',
  volume: new Decimal('1'),
  price: new Decimal('100'),
};
const context = contextOfRequest(request, XBT, 'signal-1', 'entry');
const live = (status: 'open' | 'closed' = 'open'): OrderSnapshot =>
  snapshot({ txid: 'OTX-1', status, clientOrderId: request.clientOrderId, ...(status === 'closed' ? { volumeExecuted: '1', price: '100' } : {}) });
const placed = { txid: 'OTX-1', clientOrderId: request.clientOrderId, description: 'buy 1 XBTUSD @ limit 100' };

interface Seen {
  readonly at: number;
  readonly step: Step<Placed>;
}

/** Subscribes the placement and records each step with its virtual time. */
function record(placement$: Observable<Step<Placed>>, deps: ExchangeDeps): Seen[] {
  const seen: Seen[] = [];
  placement$.subscribe({ next: (step) => seen.push({ at: deps.scheduler.now(), step }), error: (e: unknown) => { throw e; } });
  return seen;
}

const statuses = (seen: readonly Seen[]): string[] =>
  seen.map(({ at, step }) => (step.kind === 'report' ? `${at} ${step.report.status}` : `${at} done ${step.value.order.txid}`));

const reasons = (seen: readonly Seen[]): (string | null)[] => seen.flatMap(({ step }) => (step.kind === 'report' ? [step.report.reason] : []));

describe('idempotent placement', () => {
  it('accepted-then-timeout: UNKNOWN, the lookup finds it open and adopts it, nothing is resent', () => {
    marbles(({ cold, scheduler, flush }) => {
      const port = new FakePort(
        {
          placeOrder: () => cold('500ms #', {}, exchangeError('ambiguous', 'timeout after sending')),
          openOrders: () => cold('(a|)', { a: ordersOf(live()) }),
        },
        scheduler,
      );
      const deps = exchangeDeps(port, scheduler);
      const seen = record(placeOrder(request, context, deps, 'place'), deps);
      flush();
      expect(statuses(seen)).toEqual(['0 PENDING_NEW', '500 UNKNOWN', '1500 NEW', '1500 done OTX-1']);
      expect(port.callsOf('placeOrder')).toHaveLength(1);
      expect(port.callsOf('openOrders').map((call) => call.args)).toEqual([{ clientOrderId: request.clientOrderId }]);
      const done = seen.at(-1)?.step;
      expect(done?.kind === 'done' && done.value.adopted?.status).toBe('open');
      // Aged from the adoption (1500), never from the send (0): a cancel's penalty must not come out too low.
      expect(done?.kind === 'done' && done.value.order.placedAt).toBe(1500);
    });
  });

  it('never adopts an order that does not carry the client order id, even if the exchange returned it', () => {
    marbles(({ cold, scheduler, flush }) => {
      const stranger = snapshot({ txid: 'OTHER-1', status: 'open', clientOrderId: null });
      const port = new FakePort(
        {
          placeOrder: () => cold('500ms #', {}, exchangeError('ambiguous', 'timeout after sending')),
          openOrders: () => cold('(a|)', { a: ordersOf(stranger) }),
          closedOrders: () => cold('(a|)', { a: ordersOf(stranger) }),
        },
        scheduler,
      );
      const deps = exchangeDeps(port, scheduler);
      const seen = record(placeOrder(request, context, deps, 'place'), deps);
      flush();
      expect(seen.some(({ step }) => step.kind === 'done' && step.value.order.txid === 'OTHER-1')).toBe(false);
      expect(statuses(seen)).not.toContain('1500 NEW');
    });
  });

  it('filled-then-timeout: a market order filled before the lookup is found in ClosedOrders and adopted', () => {
    marbles(({ cold, scheduler, flush }) => {
      const port = new FakePort(
        {
          placeOrder: () => cold('500ms #', {}, exchangeError('ambiguous', 'socket hang up after sending')),
          openOrders: () => cold('(a|)', { a: ordersOf() }),
          closedOrders: () => cold('(a|)', { a: ordersOf(live('closed')) }),
        },
        scheduler,
      );
      const deps = exchangeDeps(port, scheduler);
      const seen = record(placeOrder({ ...request, orderType: 'market' }, context, deps, 'place'), deps);
      flush();
      expect(statuses(seen)).toEqual(['0 PENDING_NEW', '500 UNKNOWN', '1500 NEW', '1500 done OTX-1']);
      expect(port.callsOf('placeOrder')).toHaveLength(1);
      const done = seen.at(-1)?.step;
      expect(done?.kind === 'done' && done.value.adopted?.status).toBe('closed');
    });
  });

  it('5xx-HTML-but-placed, with the OpenOrders lag: the first lookup misses, the second finds it, no duplicate', () => {
    marbles(({ cold, scheduler, flush }) => {
      const port = new FakePort(
        {
          placeOrder: () => cold('200ms #', {}, exchangeError('ambiguous', 'HTTP 502: an HTML page instead of JSON')),
          openOrders: (_, call) => cold('(a|)', { a: call === 1 ? ordersOf() : ordersOf(live()) }),
          closedOrders: () => cold('(a|)', { a: ordersOf() }),
        },
        scheduler,
      );
      const deps = exchangeDeps(port, scheduler);
      const seen = record(placeOrder(request, context, deps, 'place'), deps);
      flush();
      expect(statuses(seen)).toEqual(['0 PENDING_NEW', '200 UNKNOWN', '2200 NEW', '2200 done OTX-1']);
      expect(port.callsOf('placeOrder')).toHaveLength(1);
      expect(port.callsOf('openOrders').map((call) => call.at)).toEqual([1200, 2200]);
      expect(port.callsOf('closedOrders').map((call) => call.at)).toEqual([1200]);
    });
  });

  it('reset-before-accept: nothing was placed, so it is resent with the same client order id', () => {
    marbles(({ cold, scheduler, flush }) => {
      const port = new FakePort(
        {
          placeOrder: (_, call) => (call === 1 ? cold('50ms #', {}, exchangeError('retryable', 'ECONNREFUSED')) : cold('50ms (a|)', { a: placed })),
        },
        scheduler,
      );
      const deps = exchangeDeps(port, scheduler);
      const seen = record(placeOrder(request, context, deps, 'place'), deps);
      flush();
      // 100 ms backoff after the failure at 50 ms.
      expect(statuses(seen)).toEqual(['0 PENDING_NEW', '200 NEW', '200 done OTX-1']);
      const sent = port.callsOf('placeOrder');
      expect(sent.map((call) => call.at)).toEqual([0, 150]);
      expect(sent.map((call) => (call.args as OrderRequest).clientOrderId)).toEqual([request.clientOrderId, request.clientOrderId]);
      // Each attempt carries its own deadline, stamped when it is sent.
      expect(sent.map((call) => (call.args as OrderRequest).deadline)).toEqual([3000, 3150]);
    });
  });

  it('EAPI:Invalid nonce: retried once (the port signs again), a second one in a row is a rejection', () => {
    marbles(({ cold, scheduler, flush }) => {
      const nonce = exchangeError('retryable', 'EAPI:Invalid nonce');
      const once = new FakePort({ placeOrder: (_, call) => (call === 1 ? cold('#', {}, nonce) : cold('(a|)', { a: placed })) }, scheduler);
      const twice = new FakePort({ placeOrder: () => cold('#', {}, nonce) }, scheduler);
      const onceDeps = exchangeDeps(once, scheduler);
      const twiceDeps = exchangeDeps(twice, scheduler);
      const recovered = record(placeOrder(request, context, onceDeps, 'place'), onceDeps);
      const refused = record(placeOrder(request, context, twiceDeps, 'place'), twiceDeps);
      flush();
      expect(statuses(recovered)).toEqual(['0 PENDING_NEW', '100 NEW', '100 done OTX-1']);
      expect(statuses(refused)).toEqual(['0 PENDING_NEW', '100 REJECTED']);
      expect(twice.callsOf('placeOrder').map((call) => call.at)).toEqual([0, 100]);
      expect(reasons(refused)[1]).toContain('EAPI:Invalid nonce');
    });
  });

  it('EAPI:Rate limit exceeded: the REST counter is snapped to its cap, then the call backs off and succeeds', () => {
    marbles(({ cold, scheduler, flush }) => {
      const budget = new OpenBudget();
      const port = new FakePort(
        {
          placeOrder: (_, call) =>
            call === 1 ? cold('10ms #', {}, exchangeError('rate-limited', 'EAPI:Rate limit exceeded')) : cold('10ms (a|)', { a: placed }),
        },
        scheduler,
      );
      const deps = exchangeDeps(port, scheduler, { budget });
      const seen = record(placeOrder(request, context, deps, 'place'), deps);
      flush();
      expect(statuses(seen)).toEqual(['0 PENDING_NEW', '120 NEW', '120 done OTX-1']);
      expect(budget.snapped).toEqual([{ rest: 1 }]);
    });
  });

  it('EOrder:Rate limit exceeded at Starter tier: the pair counter is snapped and the retry waits for it to decay', () => {
    marbles(({ cold, scheduler, flush }) => {
      const port = new FakePort(
        {
          placeOrder: (_, call) =>
            call === 1 ? cold('#', {}, exchangeError('rate-limited', 'EOrder:Rate limit exceeded')) : cold('(a|)', { a: placed }),
        },
        scheduler,
      );
      const deps = exchangeDeps(port, scheduler, { budget: new KrakenRateBudget('starter') });
      const seen = record(placeOrder(request, context, deps, 'place'), deps);
      flush();
      // Counter at its cap of 60 at 0 ms; one unit decays per second, so the retry (due at 100 ms) goes at 1000 ms.
      expect(port.callsOf('placeOrder').map((call) => call.at)).toEqual([0, 1000]);
      expect(statuses(seen)).toEqual(['0 PENDING_NEW', '1000 NEW', '1000 done OTX-1']);
    });
  });

  it('EGeneral:Temporary lockout: the breaker opens at once and the next placement fails fast without a call', () => {
    marbles(({ cold, scheduler, flush }) => {
      const port = new FakePort({ placeOrder: () => cold('10ms #', {}, exchangeError('auth', 'EGeneral:Temporary lockout')) }, scheduler);
      const deps = exchangeDeps(port, scheduler);
      const first = record(placeOrder(request, context, deps, 'place'), deps);
      const second: Seen[] = [];
      scheduler.schedule(() => {
        placeOrder({ ...request, clientOrderId: 'other' }, context, deps, 'place').subscribe((step) => second.push({ at: scheduler.now(), step }));
      }, 1000);
      flush();
      expect(statuses(first)).toEqual(['0 PENDING_NEW', '10 REJECTED']);
      expect(reasons(first)[1]).toContain('EGeneral:Temporary lockout');
      expect(statuses(second)).toEqual(['1000 PENDING_NEW', '1000 REJECTED']);
      expect(reasons(second)[1]).toContain('circuit breaker open');
      expect(port.callsOf('placeOrder')).toHaveLength(1);
    });
  });

  it('an exit waits out the open breaker and is sent by its probe, since it reduces risk', () => {
    marbles(({ cold, scheduler, flush }) => {
      const port = new FakePort(
        {
          placeOrder: (_, call) => (call === 1 ? cold('10ms #', {}, exchangeError('auth', 'EGeneral:Temporary lockout')) : cold('10ms (a|)', { a: placed })),
        },
        scheduler,
      );
      const deps = exchangeDeps(port, scheduler);
      const entry = record(placeOrder(request, context, deps, 'place'), deps);
      const stopRequest: OrderRequest = { ...request, clientOrderId: 'stop-1', side: 'sell', orderType: 'stop-loss', price: new Decimal('90') };
      const exit: Seen[] = [];
      scheduler.schedule(() => {
        placeOrder(stopRequest, contextOfRequest(stopRequest, XBT, 'signal-1', 'stop-loss'), deps, 'place').subscribe((step) =>
          exit.push({ at: scheduler.now(), step }),
        );
      }, 1000);
      flush();
      expect(statuses(entry)).toEqual(['0 PENDING_NEW', '10 REJECTED']);
      // The breaker opened at 10 ms for 60 s: the stop goes out with the probe at 60 010 ms.
      expect(statuses(exit)).toEqual(['1000 PENDING_NEW', '60020 NEW', '60020 done OTX-1']);
      expect(port.callsOf('placeOrder').map((call) => call.at)).toEqual([0, 60_010]);
    });
  });

  it('an order proven absent after the deadline is sent once more with the same client order id', () => {
    marbles(({ cold, scheduler, flush }) => {
      const port = new FakePort(
        {
          placeOrder: (_, call) =>
            call === 1 ? cold('500ms #', {}, exchangeError('ambiguous', 'timeout after sending')) : cold('(a|)', { a: placed }),
          openOrders: () => cold('(a|)', { a: ordersOf() }),
          closedOrders: () => cold('(a|)', { a: ordersOf() }),
        },
        scheduler,
      );
      const deps = exchangeDeps(port, scheduler);
      const seen = record(placeOrder(request, context, deps, 'place'), deps);
      flush();
      // Deadline 3000 + OpenOrders lag 2000: empty lookups before 5000 prove nothing; the one at 5500 does.
      expect(port.callsOf('openOrders').map((call) => call.at)).toEqual([1500, 2500, 3500, 4500, 5500]);
      expect(statuses(seen)).toEqual(['0 PENDING_NEW', '500 UNKNOWN', '5500 NEW', '5500 done OTX-1']);
      const sent = port.callsOf('placeOrder');
      expect(sent.map((call) => [call.at, (call.args as OrderRequest).clientOrderId])).toEqual([
        [0, request.clientOrderId],
        [5500, request.clientOrderId],
      ]);
    });
  });

  it('a protective order proven absent after two ambiguous attempts is sent again until it rests', () => {
    marbles(({ cold, scheduler, flush }) => {
      const port = new FakePort(
        {
          placeOrder: (_, call) =>
            call <= 3 ? cold('500ms #', {}, exchangeError('ambiguous', 'reset before processing')) : cold('(a|)', { a: placed }),
          openOrders: () => cold('(a|)', { a: ordersOf() }),
          closedOrders: () => cold('(a|)', { a: ordersOf() }),
        },
        scheduler,
      );
      const deps = exchangeDeps(port, scheduler);
      const stopContext = { ...context, role: 'stop-loss' as const, side: 'sell' as const };
      const seen = record(placeOrder({ ...request, side: 'sell' }, stopContext, deps, 'place', { persistUntil$: NEVER }), deps);
      flush();
      expect(port.callsOf('placeOrder').map((call) => (call.args as OrderRequest).clientOrderId)).toEqual(Array(4).fill(request.clientOrderId));
      expect(statuses(seen).slice(-2)).toEqual([expect.stringMatching(/ NEW$/), expect.stringMatching(/ done OTX-1$/)]);
      expect(statuses(seen).filter((line) => line.endsWith('ERROR'))).toEqual([]);
    });
  });

  it('once the run is stopping, a protective order proven absent twice is given up as ERROR: position unprotected', () => {
    marbles(({ cold, scheduler, flush }) => {
      const port = new FakePort(
        {
          placeOrder: () => cold('500ms #', {}, exchangeError('ambiguous', 'reset before processing')),
          openOrders: () => cold('(a|)', { a: ordersOf() }),
          closedOrders: () => cold('(a|)', { a: ordersOf() }),
        },
        scheduler,
      );
      const deps = exchangeDeps(port, scheduler);
      const stopContext = { ...context, role: 'stop-loss' as const, side: 'sell' as const };
      const seen = record(placeOrder({ ...request, side: 'sell' }, stopContext, deps, 'place', { persistUntil$: of(true) }), deps);
      flush();
      expect(port.callsOf('placeOrder')).toHaveLength(2);
      expect(statuses(seen).at(-1)).toMatch(/ ERROR$/);
      expect(reasons(seen).at(-1)).toMatch(/^position unprotected: not placed: two ambiguous attempts/);
    });
  });

  it('lookups that cannot prove anything end in ERROR (needs manual attention), never REJECTED', () => {
    marbles(({ cold, scheduler, flush }) => {
      const port = new FakePort(
        {
          placeOrder: () => cold('500ms #', {}, exchangeError('ambiguous', 'timeout after sending')),
          openOrders: () => cold('#', {}, exchangeError('refused', 'EGeneral:Invalid arguments', 'OpenOrders')),
        },
        scheduler,
      );
      const deps = exchangeDeps(port, scheduler);
      const seen = record(placeOrder(request, context, deps, 'place'), deps);
      flush();
      expect(statuses(seen)).toEqual(['0 PENDING_NEW', '500 UNKNOWN', '5500 ERROR']);
      expect(reasons(seen)[2]).toContain('manual attention');
      expect(port.callsOf('placeOrder')).toHaveLength(1);
    });
  });

  it('validate-only: the request asks the exchange to validate, and the order ends without being placed', () => {
    marbles(({ cold, scheduler, flush }) => {
      const port = new FakePort({ placeOrder: () => cold('10ms (a|)', { a: { ...placed, txid: '' } }) }, scheduler);
      const deps = exchangeDeps(port, scheduler, { config: { ...config, exchange: { ...config.exchange, validateOnly: true } } });
      const seen = record(placeOrder(request, context, deps, 'place'), deps);
      flush();
      expect(statuses(seen)).toEqual(['0 PENDING_NEW', '10 CANCELED']);
      expect(reasons(seen)[1]).toMatch(/^validate only/);
      expect((port.callsOf('placeOrder')[0]?.args as OrderRequest).validate).toBe(true);
    });
  });

  it('a definitive refusal is REJECTED with the exchange reason and not retried', () => {
    marbles(({ cold, scheduler, flush }) => {
      const port = new FakePort({ placeOrder: () => cold('10ms #', {}, exchangeError('refused', 'EOrder:Insufficient funds')) }, scheduler);
      const deps = exchangeDeps(port, scheduler);
      const seen = record(placeOrder(request, context, deps, 'place'), deps);
      flush();
      expect(statuses(seen)).toEqual(['0 PENDING_NEW', '10 REJECTED']);
      expect(reasons(seen)[1]).toBe('refused: AddOrder: EOrder:Insufficient funds');
      expect(port.callsOf('placeOrder')).toHaveLength(1);
    });
  });

  it('ages an accepted order from the answer, not the send, so a cancel near an age boundary is charged what Kraken charges', () => {
    const budget = new OpenBudget();
    marbles(({ cold, scheduler, flush }) => {
      const port = new FakePort(
        {
          // The AddOrder reaches the exchange late (a slow network, a busy queue): answered 800 ms after the send.
          placeOrder: () => cold('800ms (a|)', { a: placed }),
          openOrders: () => cold('(a|)', { a: ordersOf(live()) }),
          cancelOrder: () => cold('10ms (c|)', { c: { count: 1, pending: false } }),
          queryOrders: () => cold('(a|)', { a: ordersOf(snapshot({ txid: 'OTX-1', status: 'canceled', clientOrderId: request.clientOrderId })) }),
        },
        scheduler,
      );
      const deps = streamDeps(port, scheduler, { budget });
      // Started when the order is followed (at 800): the cancel goes at 5300.
      const cancelAt$ = timer(4_500, scheduler).pipe(map((): CancelReason => 'timeout'));
      const seen: string[] = [];
      placeOrder(request, context, deps, 'place')
        .pipe(andThen((accepted) => followOrder(accepted.order, deps, { cancelWhen$: cancelAt$ })))
        .subscribe((step) => seen.push(step.kind === 'report' ? `${scheduler.now()} ${step.report.status}` : `${scheduler.now()} done`));
      flush();
      expect(seen.slice(0, 3)).toEqual(['0 PENDING_NEW', '800 NEW', '5300 PENDING_CANCEL']);
      // Sent at 0, answered at 800, cancelled at 5300: at most 4.5 s old for the exchange, so the
      // younger-than-5-s penalty of 8 units (aged from the send it would look 5.3 s old: 6 units, too few).
      const cancelCharges = budget.charged.filter((cost) => cost.trading && cost.trading.units !== 1);
      expect(cancelCharges).toEqual([{ rest: 0, trading: { pair: XBT.key, units: 8 } }]);
    });
  });
});

describe('protective and exit placement (persistent)', () => {
  const stopRequest: OrderRequest = { clientOrderId: 'c0ffee00-0000-4000-8000-000000000001', pair: XBT.key, side: 'sell', orderType: 'stop-loss', volume: new Decimal('1'), price: new Decimal('90') };
  const stopContext = contextOfRequest(stopRequest, XBT, 'signal-1', 'stop-loss');
  const stopPlaced = { txid: 'OTX-S', clientOrderId: stopRequest.clientOrderId, description: 'sell 1 XBTUSD @ stop loss 90' };
  const nonce = exchangeError('retryable', 'EAPI:Invalid nonce');
  const unavailable = exchangeError('retryable', 'EService:Unavailable');
  // No breaker in the way: these tests pin the backoff (the breaker is pinned separately below).
  const noBreaker = { ...config, breaker: { failureThreshold: 100, cooldownMs: 60_000 } };

  it('a stop-loss keeps retrying invalid nonces and unavailable answers past retry.maxAttempts, with capped backoff, until placed', () => {
    marbles(({ cold, scheduler, flush }) => {
      const failures = [nonce, nonce, unavailable, unavailable, unavailable, unavailable];
      const port = new FakePort(
        { placeOrder: (_, call) => (call <= failures.length ? cold('10ms #', {}, failures[call - 1]) : cold('10ms (a|)', { a: stopPlaced })) },
        scheduler,
      );
      const deps = exchangeDeps(port, scheduler, { config: noBreaker });
      const seen = record(placeOrder(stopRequest, stopContext, deps, 'place', { persistUntil$: NEVER }), deps);
      flush();
      // Backoff 100, 200, 400, 800, then capped at 1000 ms; each attempt is answered after 10 ms.
      expect(port.callsOf('placeOrder').map((call) => call.at)).toEqual([0, 110, 320, 730, 1540, 2550, 3560]);
      expect(statuses(seen)).toEqual(['0 PENDING_NEW', '3570 NEW', '3570 done OTX-S']);
      // Every attempt carries the same client order id; the port signs each one afresh.
      expect(new Set(port.callsOf('placeOrder').map((call) => (call.args as OrderRequest).clientOrderId))).toEqual(new Set([stopRequest.clientOrderId]));
    });
  });

  it('an entry keeps the bounded retry: the same answers make it REJECTED (nothing at risk)', () => {
    marbles(({ cold, scheduler, flush }) => {
      const port = new FakePort({ placeOrder: () => cold('10ms #', {}, unavailable) }, scheduler);
      const deps = exchangeDeps(port, scheduler, { config: noBreaker });
      const seen = record(placeOrder(request, context, deps, 'place'), deps);
      flush();
      expect(port.callsOf('placeOrder').map((call) => call.at)).toEqual([0, 110, 320, 730]);
      expect(statuses(seen)).toEqual(['0 PENDING_NEW', '740 REJECTED']);
    });
  });

  it('rate-limited refusals of a stop-loss are retried past the limit too, each after the pair counter was snapped', () => {
    const budget = new OpenBudget();
    marbles(({ cold, scheduler, flush }) => {
      const limited = exchangeError('rate-limited', 'EOrder:Rate limit exceeded');
      const port = new FakePort({ placeOrder: (_, call) => (call <= 5 ? cold('10ms #', {}, limited) : cold('10ms (a|)', { a: stopPlaced })) }, scheduler);
      const deps = exchangeDeps(port, scheduler, { config: noBreaker, budget });
      const seen = record(placeOrder(stopRequest, stopContext, deps, 'place', { persistUntil$: NEVER }), deps);
      flush();
      expect(port.callsOf('placeOrder').map((call) => call.at)).toEqual([0, 110, 320, 730, 1540, 2550]);
      expect(statuses(seen)).toEqual(['0 PENDING_NEW', '2560 NEW', '2560 done OTX-S']);
      expect(budget.snapped).toHaveLength(5);
    });
  });

  it('waits behind the breaker: once it opens, the next attempt is its probe after the cool-down', () => {
    marbles(({ cold, scheduler, flush }) => {
      const port = new FakePort({ placeOrder: (_, call) => (call <= 3 ? cold('10ms #', {}, unavailable) : cold('10ms (a|)', { a: stopPlaced })) }, scheduler);
      // Threshold 3, cool-down 60 s: the third failure (at 330) opens it until 60 330.
      const deps = exchangeDeps(port, scheduler);
      const seen = record(placeOrder(stopRequest, stopContext, deps, 'place', { persistUntil$: NEVER }), deps);
      flush();
      expect(port.callsOf('placeOrder').map((call) => call.at)).toEqual([0, 110, 320, 60_330]);
      expect(statuses(seen)).toEqual(['0 PENDING_NEW', '60340 NEW', '60340 done OTX-S']);
    });
  });

  it('a definitive refusal of a stop-loss is an ERROR saying the position is unprotected, and is not retried', () => {
    marbles(({ cold, scheduler, flush }) => {
      const port = new FakePort({ placeOrder: () => cold('10ms #', {}, exchangeError('refused', 'EOrder:Insufficient funds')) }, scheduler);
      const deps = exchangeDeps(port, scheduler);
      const seen = record(placeOrder(stopRequest, stopContext, deps, 'place', { persistUntil$: NEVER }), deps);
      flush();
      expect(statuses(seen)).toEqual(['0 PENDING_NEW', '10 ERROR']);
      expect(reasons(seen)[1]).toBe('position unprotected: refused: AddOrder: EOrder:Insufficient funds');
      expect(port.callsOf('placeOrder')).toHaveLength(1);
    });
  });

  it('once the run is stopping, the bounded retry applies again and giving up says the position is unprotected', () => {
    marbles(({ cold, hot, scheduler, flush }) => {
      const port = new FakePort({ placeOrder: () => cold('10ms #', {}, unavailable) }, scheduler);
      const deps = exchangeDeps(port, scheduler, { config: noBreaker });
      const stopping$ = hot('5000ms s');
      const seen = record(placeOrder(stopRequest, stopContext, deps, 'place', { persistUntil$: stopping$ }), deps);
      flush();
      // Eight attempts before the stop at 5000 (the eighth fails at 4580 and is retried at 5580); the ninth
      // fails after the stop and is past retry.maxAttempts, so it is the last.
      expect(port.callsOf('placeOrder').map((call) => call.at)).toEqual([0, 110, 320, 730, 1540, 2550, 3560, 4570, 5580]);
      expect(statuses(seen)).toEqual(['0 PENDING_NEW', '5590 ERROR']);
      expect(reasons(seen)[1]).toBe('position unprotected: retryable: AddOrder: EService:Unavailable');
    });
  });
});
