import { describe, expect, it } from '@jest/globals';
import { Decimal } from 'decimal.js';
import { BehaviorSubject, type Observable, filter, ignoreElements, map, takeUntil, tap, timer } from 'rxjs';
import { type TestScheduler } from 'rxjs/testing';
import { type OrderRequest } from '../../src/model/order';
import { type StreamDeps } from '../../src/streams/deps';
import { type CancelReason, type LiveOrder, type OrderFinal, followOrder } from '../../src/streams/order-lifecycle';
import { contextOfRequest } from '../../src/streams/reports';
import { type Step } from '../../src/streams/step';
import { FakePort, XBT, config, exchangeError, marbles, ordersOf, snapshot } from './fake-exchange';
import { streamDeps } from './stream-deps';

const request: OrderRequest = {
  clientOrderId: 'cl-1',
  pair: XBT.key,
  side: 'buy',
  orderType: 'limit',
  volume: new Decimal('1'),
  price: new Decimal('100'),
};
const order: LiveOrder = { context: contextOfRequest(request, XBT, 'signal-1', 'entry'), txid: 'OTX-1', placedAt: 0 };
const state = (status: 'open' | 'closed' | 'canceled', volumeExecuted = '0') => snapshot({ txid: 'OTX-1', status, volumeExecuted, price: '100' });

function record(steps$: Observable<Step<OrderFinal>>, deps: StreamDeps): string[] {
  const seen: string[] = [];
  steps$.subscribe((step) => {
    const at = deps.scheduler.now();
    if (step.kind === 'done') seen.push(`${at} done ${step.value.snapshot.status} ${step.value.cancelReason ?? '-'}`);
    else seen.push(`${at} ${step.report.status} ${step.report.quantityFilled.toFixed()}${step.report.lastFillQuantity ? ` +${step.report.lastFillQuantity.toFixed()}` : ''}`);
  });
  return seen;
}

const timeoutAfter = (ms: number, deps: StreamDeps): Observable<CancelReason> => timer(ms, deps.scheduler).pipe(map((): CancelReason => 'timeout'));

/** `stop()` at frame `at`, as the handler's `stopping$`: emits then, and at once to later subscribers. */
function stopAt(at: number, scheduler: TestScheduler): Observable<unknown> {
  const requested = new BehaviorSubject(false);
  scheduler.schedule(() => requested.next(true), at);
  return requested.pipe(filter(Boolean));
}

/** A breaker that stays closed through the many refusals these cases script. */
const patientBreaker = { ...config, breaker: { failureThreshold: 1_000, cooldownMs: 60_000 } };

/** X PENDING_CANCEL, C CANCELED, F FILLED, p PARTIALLY_FILLED, d done; other reports by their status' first letter. */
const letters = (steps$: Observable<Step<OrderFinal>>): Observable<string> =>
  steps$.pipe(map((step) => (step.kind === 'done' ? 'd' : step.report.status === 'PENDING_CANCEL' ? 'X' : step.report.status === 'PARTIALLY_FILLED' ? 'p' : step.report.status.charAt(0))));

describe('order lifecycle', () => {
  it('cancel racing a fill: the cancel says "unknown order", the order is looked up, found filled and reported once', () => {
    marbles(({ cold, scheduler, flush }) => {
      const port = new FakePort(
        {
          openOrders: (_, call) => cold('(a|)', { a: call === 1 ? ordersOf(state('open')) : ordersOf() }),
          cancelOrder: () => cold('10ms #', {}, exchangeError('refused', 'EOrder:Unknown order', 'CancelOrder')),
          queryOrders: () => cold('(a|)', { a: ordersOf(state('closed', '1')) }),
        },
        scheduler,
      );
      const deps = streamDeps(port, scheduler);
      const seen = record(followOrder(order, deps, { cancelWhen$: timeoutAfter(1500, deps) }), deps);
      flush();
      expect(seen).toEqual(['1500 PENDING_CANCEL 0', '2000 FILLED 1 +1', '2000 done closed timeout']);
      expect(port.callsOf('cancelOrder').map((call) => [call.at, call.args])).toEqual([[1500, { txid: 'OTX-1' }]]);
      // Polling ends with the order.
      expect(port.callsOf('openOrders').map((call) => call.at)).toEqual([1000, 2000]);
      expect(deps.positions.net(XBT.key).toFixed()).toBe('1');
    });
  });

  it('cancel of an order that is already gone, just placed and never seen open: looked up at the next tick', () => {
    marbles(({ cold, scheduler, flush }) => {
      const port = new FakePort(
        {
          openOrders: () => cold('(a|)', { a: ordersOf() }),
          cancelOrder: () => cold('#', {}, exchangeError('refused', 'EOrder:Invalid order', 'CancelOrder')),
          queryOrders: () => cold('(a|)', { a: ordersOf(snapshot({ txid: 'OTX-1', status: 'canceled', reason: 'User requested' })) }),
        },
        scheduler,
      );
      const deps = streamDeps(port, scheduler);
      // Cancelled at 100 ms, younger than the OpenOrders lag; the cancel's answer makes the monitor look anyway.
      const steps$ = followOrder(order, deps, { cancelWhen$: timeoutAfter(100, deps) });
      const reasons: Array<string | null> = [];
      const seen = record(steps$.pipe(tap((step) => step.kind === 'report' && reasons.push(step.report.reason))), deps);
      flush();
      expect(seen).toEqual(['100 PENDING_CANCEL 0', '1000 CANCELED 0', '1000 done canceled timeout']);
      expect(port.callsOf('queryOrders').map((call) => call.at)).toEqual([1000]);
      // The handler's cancel did not take: the report does not claim the timeout cancelled it.
      expect(reasons.at(-1)).toBe('cancelled outside the handler (User requested)');
    });
  });

  it('our own cancel whose first answer was lost and whose retry says "unknown order" is reported as our cancel', () => {
    marbles(({ cold, scheduler, flush }) => {
      const port = new FakePort(
        {
          openOrders: (_, call) => cold('(a|)', { a: call === 1 ? ordersOf(state('open')) : ordersOf() }),
          // The first CancelOrder cancels the order but its answer is lost; the retry finds it gone.
          cancelOrder: (_, call) =>
            call === 1
              ? cold('10ms #', {}, exchangeError('ambiguous', 'timeout after sending', 'CancelOrder'))
              : cold('10ms #', {}, exchangeError('refused', 'EOrder:Unknown order', 'CancelOrder')),
          queryOrders: () => cold('(a|)', { a: ordersOf(snapshot({ txid: 'OTX-1', status: 'canceled', reason: 'User requested' })) }),
        },
        scheduler,
      );
      const deps = streamDeps(port, scheduler);
      const reasons: Array<string | null> = [];
      const steps$ = followOrder(order, deps, { cancelWhen$: timeoutAfter(1500, deps) });
      const seen = record(steps$.pipe(tap((step) => step.kind === 'report' && reasons.push(step.report.reason))), deps);
      flush();
      // Retried after the 100 ms backoff, answered at 1620; the monitor resolves it at the next tick.
      expect(port.callsOf('cancelOrder').map((call) => call.at)).toEqual([1500, 1610]);
      expect(seen).toEqual(['1500 PENDING_CANCEL 0', '2000 CANCELED 0', '2000 done canceled timeout']);
      expect(reasons.at(-1)).toBe('cancelled: timeout');
    });
  });

  it('a cancel answered as done confirms it at once, before the monitor has seen the order cancelled', () => {
    marbles(({ cold, scheduler, flush }) => {
      const port = new FakePort(
        {
          openOrders: (_, call) => cold('(a|)', { a: call === 1 ? ordersOf(state('open')) : ordersOf() }),
          cancelOrder: () => cold('10ms (a|)', { a: { count: 1, pending: false } }),
          queryOrders: () => cold('(a|)', { a: ordersOf(state('canceled')) }),
        },
        scheduler,
      );
      const deps = streamDeps(port, scheduler);
      const confirmedAt: number[] = [];
      const seen = record(followOrder(order, deps, { cancelWhen$: timeoutAfter(1500, deps), onCancelConfirmed: () => confirmedAt.push(scheduler.now()) }), deps);
      flush();
      expect(confirmedAt).toEqual([1510]);
      expect(seen).toEqual(['1500 PENDING_CANCEL 0', '2000 CANCELED 0', '2000 done canceled timeout']);
    });
  });

  it('partial fill then timeout: the remainder is cancelled and the final state keeps the fill', () => {
    marbles(({ cold, scheduler, flush }) => {
      const port = new FakePort(
        {
          openOrders: (_, call) => cold('(a|)', { a: call === 1 ? ordersOf(state('open', '0.4')) : ordersOf() }),
          cancelOrder: () => cold('10ms (a|)', { a: { count: 1, pending: false } }),
          queryOrders: () => cold('(a|)', { a: ordersOf(state('canceled', '0.4')) }),
        },
        scheduler,
      );
      const deps = streamDeps(port, scheduler);
      const reasons: Array<string | null> = [];
      const steps$ = followOrder(order, deps, { cancelWhen$: timeoutAfter(1500, deps) });
      const seen = record(steps$.pipe(tap((step) => step.kind === 'report' && reasons.push(step.report.reason))), deps);
      flush();
      expect(seen).toEqual(['1000 PARTIALLY_FILLED 0.4 +0.4', '1500 PENDING_CANCEL 0.4', '2000 CANCELED 0.4', '2000 done canceled timeout']);
      // The cancel took: the report says it was the handler's timeout.
      expect(reasons.at(-1)).toBe('cancelled: timeout');
      expect(deps.positions.net(XBT.key).toFixed()).toBe('0.4');
    });
  });

  it('reports every fill increment once and exactly one final status, whatever the snapshots repeat', () => {
    marbles(({ cold, scheduler, flush }) => {
      const ticks = [ordersOf(state('open', '0.2')), ordersOf(state('open', '0.2')), ordersOf(state('open', '0.5')), ordersOf()];
      const port = new FakePort(
        {
          openOrders: (_, call) => cold('(a|)', { a: ticks[call - 1] ?? ordersOf() }),
          queryOrders: () => cold('(a|)', { a: ordersOf(state('closed', '1')) }),
        },
        scheduler,
      );
      const deps = streamDeps(port, scheduler);
      const seen = record(followOrder(order, deps), deps);
      flush();
      expect(seen).toEqual(['1000 PARTIALLY_FILLED 0.2 +0.2', '3000 PARTIALLY_FILLED 0.5 +0.3', '4000 FILLED 1 +0.5', '4000 done closed -']);
    });
  });

  it('an adopted order already filled is reported at once, without polling', () => {
    marbles(({ scheduler, flush }) => {
      const port = new FakePort({}, scheduler);
      const deps = streamDeps(port, scheduler);
      const seen = record(followOrder(order, deps, { adopted: state('closed', '1'), cancelWhen$: timeoutAfter(1500, deps) }), deps);
      flush();
      expect(seen).toEqual(['0 FILLED 1 +1', '0 done closed -']);
      expect(port.calls).toEqual([]);
      expect(deps.monitor.trackedCount).toBe(0);
    });
  });

  it('a cancel that fails for good leaves the order followed until it ends', () => {
    marbles(({ cold, scheduler, flush }) => {
      const port = new FakePort(
        {
          openOrders: (_, call) => cold('(a|)', { a: call < 3 ? ordersOf(state('open')) : ordersOf() }),
          cancelOrder: () => cold('#', {}, exchangeError('refused', 'EGeneral:Invalid arguments', 'CancelOrder')),
          queryOrders: () => cold('(a|)', { a: ordersOf(scheduler.now() < 3000 ? state('open') : state('closed', '1')) }),
        },
        scheduler,
      );
      const deps = streamDeps(port, scheduler);
      const seen = record(followOrder(order, deps, { cancelWhen$: timeoutAfter(500, deps) }), deps);
      flush();
      expect(seen).toEqual(['500 PENDING_CANCEL 0', '3000 FILLED 1 +1', '3000 done closed timeout']);
    });
  });
  it('a timeout cancel refused twice by invalid nonces is tried again until the order is cancelled', () => {
    marbles(({ cold, scheduler, flush }) => {
      let cancelled = false;
      const nonce = exchangeError('retryable', 'EAPI:Invalid nonce', 'CancelOrder');
      const port = new FakePort(
        {
          openOrders: () => cold('(a|)', { a: cancelled ? ordersOf() : ordersOf(state('open')) }),
          cancelOrder: (_, call) =>
            call <= 2 ? cold('#', {}, nonce) : cold('(a|)', { a: { count: 1, pending: false } }).pipe(tap(() => (cancelled = true))),
          queryOrders: () => cold('(a|)', { a: ordersOf(cancelled ? state('canceled') : state('open')) }),
        },
        scheduler,
      );
      const deps = streamDeps(port, scheduler);
      // Bounded in virtual time: an order left working would otherwise be polled for ever.
      const seen = record(followOrder(order, deps, { cancelWhen$: timeoutAfter(500, deps) }).pipe(takeUntil(timer(120_000, deps.scheduler))), deps);
      flush();
      expect(port.callsOf('cancelOrder')).toHaveLength(3);
      expect(seen[0]).toBe('500 PENDING_CANCEL 0');
      expect(seen.slice(-2).map((line) => line.replace(/^\d+ /, ''))).toEqual(['CANCELED 0', 'done canceled timeout']);
    });
  });

  it('a cancel refused for another reason is re-armed after a monitor interval, not dropped', () => {
    marbles(({ cold, scheduler, flush }) => {
      let cancelled = false;
      const refused = exchangeError('refused', 'EGeneral:Internal error', 'CancelOrder');
      const port = new FakePort(
        {
          openOrders: () => cold('(a|)', { a: cancelled ? ordersOf() : ordersOf(state('open')) }),
          cancelOrder: (_, call) =>
            call === 1 ? cold('#', {}, refused) : cold('(a|)', { a: { count: 1, pending: false } }).pipe(tap(() => (cancelled = true))),
          queryOrders: () => cold('(a|)', { a: ordersOf(cancelled ? state('canceled') : state('open')) }),
        },
        scheduler,
      );
      const deps = streamDeps(port, scheduler);
      const seen = record(followOrder(order, deps, { cancelWhen$: timeoutAfter(500, deps) }).pipe(takeUntil(timer(120_000, deps.scheduler))), deps);
      flush();
      const cancels = port.callsOf('cancelOrder');
      expect(cancels).toHaveLength(2);
      expect(cancels[1]!.at - cancels[0]!.at).toBe(deps.config.monitor.maxIntervalMs);
      expect(seen.slice(-2).map((line) => line.replace(/^\d+ /, ''))).toEqual(['CANCELED 0', 'done canceled timeout']);
    });
  });
});

describe('order lifecycle at stop() (issue 10: a stuck cancel kept the run alive)', () => {
  const open = state('open');
  const refused = exchangeError('refused', 'EGeneral:Invalid arguments', 'CancelOrder');
  const ambiguous = exchangeError('ambiguous', 'EGeneral:Internal error', 'CancelOrder');

  it('leaveRestingOnStop, no cancel asked: the follower ends at stop(), the order left resting and no longer polled', () => {
    marbles(({ cold, scheduler, expectObservable, flush }) => {
      const port = new FakePort({ openOrders: () => cold('(a|)', { a: ordersOf(open) }) }, scheduler);
      const deps = streamDeps(port, scheduler, { stopping$: stopAt(5_000, scheduler) });
      expectObservable(letters(followOrder(order, deps, { leaveRestingOnStop: true })), '^ 60000ms !').toBe('5000ms |');
      flush();
      expect(port.callsOf('openOrders').map((call) => call.at)).toEqual([1000, 2000, 3000, 4000]);
      expect(deps.monitor.trackedCount).toBe(0);
    });
  });

  it('leaveRestingOnStop, followed only after stop(): left resting at once, not cancelled even by a trigger already fired', () => {
    marbles(({ cold, scheduler, expectObservable, flush }) => {
      const port = new FakePort({ openOrders: () => cold('(a|)', { a: ordersOf(open) }) }, scheduler);
      const deps = streamDeps(port, scheduler, { stopping$: stopAt(0, scheduler) });
      const steps$ = followOrder(order, deps, { cancelWhen$: cold('(c|)', { c: 'close-position' as const }), leaveRestingOnStop: true });
      expectObservable(letters(steps$), '^ 60000ms !').toBe('|');
      flush();
      expect(port.calls).toEqual([]);
      expect(deps.monitor.trackedCount).toBe(0);
    });
  });

  it('leaveRestingOnStop, a refused cancel waiting to be re-armed at stop(): no attempt after it, the follower ends at once', () => {
    marbles(({ cold, scheduler, expectObservable, flush }) => {
      const port = new FakePort({ openOrders: () => cold('(a|)', { a: ordersOf(open) }), cancelOrder: () => cold('10ms #', {}, refused) }, scheduler);
      const deps = streamDeps(port, scheduler, { config: patientBreaker, stopping$: stopAt(20_000, scheduler) });
      const steps$ = followOrder(order, deps, { cancelWhen$: timeoutAfter(500, deps), leaveRestingOnStop: true });
      expectObservable(letters(steps$), '^ 60000ms !').toBe('500ms X 19499ms |');
      flush();
      // Re-armed a monitor interval (8 s) after each answer while the run goes on; none after stop().
      expect(port.callsOf('cancelOrder').map((call) => call.at)).toEqual([500, 8510, 16520]);
      expect(port.calls.filter((call) => call.at > 20_000)).toEqual([]);
      expect(deps.monitor.trackedCount).toBe(0);
    });
  });

  it('leaveRestingOnStop, a cancel retried at stop() (answers lost): the attempt under way is the last, the follower ends with it', () => {
    marbles(({ cold, scheduler, expectObservable, flush }) => {
      const port = new FakePort({ openOrders: () => cold('(a|)', { a: ordersOf(open) }), cancelOrder: () => cold('10ms #', {}, ambiguous) }, scheduler);
      const deps = streamDeps(port, scheduler, { config: patientBreaker, stopping$: stopAt(5_000, scheduler) });
      const steps$ = followOrder(order, deps, { cancelWhen$: timeoutAfter(500, deps), leaveRestingOnStop: true });
      // Persistent until stop(): backoff 100, 200, 400, 800, then 1000 ms capped; at stop() the retry limit applies
      // again, so the retry already due at 5070 fails for good at 5080, and is not re-armed.
      expectObservable(letters(steps$), '^ 60000ms !').toBe('500ms X 4579ms |');
      flush();
      expect(port.callsOf('cancelOrder').map((call) => call.at)).toEqual([500, 610, 820, 1230, 2040, 3050, 4060, 5070]);
      expect(port.calls.filter((call) => call.at > 5_080)).toEqual([]);
    });
  });

  it('leaveRestingOnStop, a cancel in flight at stop() that lands: followed to its final state, so what follows it can happen', () => {
    marbles(({ cold, scheduler, expectObservable, flush }) => {
      let cancelled = false;
      const port = new FakePort(
        {
          openOrders: () => cold('(a|)', { a: cancelled ? ordersOf() : ordersOf(open) }),
          cancelOrder: () => cold('1000ms (a|)', { a: { count: 1, pending: false } }).pipe(tap(() => (cancelled = true))),
          queryOrders: () => cold('(a|)', { a: ordersOf(cancelled ? state('canceled') : open) }),
        },
        scheduler,
      );
      const deps = streamDeps(port, scheduler, { stopping$: stopAt(1_000, scheduler) });
      const steps$ = followOrder(order, deps, { cancelWhen$: timeoutAfter(500, deps), leaveRestingOnStop: true });
      // Answered at 1500, after stop(): the monitor looks at once and finds it cancelled.
      expectObservable(letters(steps$), '^ 60000ms !').toBe('500ms X 999ms (Cd|)');
      flush();
    });
  });

  it('leaveRestingOnStop, a cancel at stop() answered "unknown order": followed to its end, and whose cancel it was is said right (issue 10 item 5)', () => {
    const unknownOrder = exchangeError('refused', 'EOrder:Unknown order', 'CancelOrder');
    const canceled = snapshot({ txid: 'OTX-1', status: 'canceled', reason: 'User requested' });
    /** The cancel's answers in turn; the order is gone once the first attempt has been sent. */
    const reasonAfter = (answers: ReadonlyArray<Error | null>): Array<string | null> => {
      const reasons: Array<string | null> = [];
      marbles(({ cold, scheduler, flush }) => {
        let sent = false;
        const port = new FakePort(
          {
            openOrders: () => cold('(a|)', { a: sent ? ordersOf() : ordersOf(open) }),
            cancelOrder: (_, call) => {
              sent = true;
              const answer = answers[call - 1] ?? null;
              return answer ? cold('10ms #', {}, answer) : cold('10ms (a|)', { a: { count: 1, pending: false } });
            },
            queryOrders: () => cold('(a|)', { a: ordersOf(canceled) }),
          },
          scheduler,
        );
        const deps = streamDeps(port, scheduler, { stopping$: stopAt(1_505, scheduler) });
        const steps$ = followOrder(order, deps, { cancelWhen$: timeoutAfter(1500, deps), leaveRestingOnStop: true });
        steps$.pipe(takeUntil(timer(60_000, scheduler))).subscribe((step) => step.kind === 'report' && reasons.push(step.report.reason));
        flush();
      });
      return reasons;
    };
    // Cancelled elsewhere before ours: not the handler's doing.
    expect(reasonAfter([unknownOrder])).toEqual(['cancel: timeout', 'cancelled outside the handler (User requested)']);
    // Our first attempt's answer was lost (it landed), the retry after stop() finds it gone: ours.
    expect(reasonAfter([ambiguous, unknownOrder])).toEqual(['cancel: timeout', 'cancelled: timeout']);
  });

  it('an entry (not left resting) whose cancel at stop() is refused: re-armed until the order is cancelled, then it ends', () => {
    marbles(({ cold, scheduler, expectObservable, flush }) => {
      let cancelled = false;
      const port = new FakePort(
        {
          openOrders: () => cold('(a|)', { a: cancelled ? ordersOf() : ordersOf(open) }),
          cancelOrder: () =>
            scheduler.now() < 12_000 ? cold('10ms #', {}, refused) : cold('10ms (a|)', { a: { count: 1, pending: false } }).pipe(tap(() => (cancelled = true))),
          queryOrders: () => cold('(a|)', { a: ordersOf(cancelled ? state('canceled') : open) }),
        },
        scheduler,
      );
      const stopping$ = stopAt(1_000, scheduler);
      const deps = streamDeps(port, scheduler, { config: patientBreaker, stopping$ });
      const steps$ = followOrder(order, deps, { cancelOn: [{ when$: stopping$, reason: 'stop' }] });
      expectObservable(letters(steps$), '^ 60000ms !').toBe('1000ms X 16029ms (Cd|)');
      flush();
      // An entry left working at stop() could fill unprotected once the process is gone: its cancel is not dropped.
      expect(port.callsOf('cancelOrder').map((call) => call.at)).toEqual([1000, 9010, 17020]);
    });
  });
});

describe('order lifecycle: a cancel withdrawn (a close that gave up, issue 10 item 1)', () => {
  const open = state('open');
  const refused = exchangeError('refused', 'EGeneral:Invalid arguments', 'CancelOrder');
  const ambiguous = exchangeError('ambiguous', 'EGeneral:Internal error', 'CancelOrder');
  const closing = (frame: number): Observable<CancelReason> => timer(frame).pipe(map((): CancelReason => 'close-position'));

  it('a refused cancel waiting to be re-armed, withdrawn: no attempt after it, the order stays followed, and the withdrawal\'s trigger cancels it again', () => {
    marbles(({ cold, hot, scheduler, expectObservable, flush }) => {
      let cancelled = false;
      const port = new FakePort(
        {
          openOrders: () => cold('(a|)', { a: cancelled ? ordersOf() : ordersOf(open) }),
          cancelOrder: () =>
            scheduler.now() < 20_000 ? cold('10ms #', {}, refused) : cold('10ms (a|)', { a: { count: 1, pending: false } }).pipe(tap(() => (cancelled = true))),
          queryOrders: () => cold('(a|)', { a: ordersOf(cancelled ? state('canceled') : open) }),
        },
        scheduler,
      );
      const deps = streamDeps(port, scheduler, { config: patientBreaker });
      // Withdrawn at 5 s (a value for another reason is ignored); the trigger it hands on fires at 20 s.
      const cancelWithdrawn$ = hot('4000ms t 999ms w', {
        t: { when$: closing(20_000), reason: 'take-profit' as const },
        w: { when$: closing(20_000 - 5_000), reason: 'close-position' as const },
      });
      const finals: OrderFinal[] = [];
      const steps$ = followOrder(order, deps, { cancelWhen$: closing(500), cancelWithdrawn$ }).pipe(tap((step) => step.kind === 'done' && finals.push(step.value)));
      expectObservable(letters(steps$), '^ 60000ms !').toBe('500ms X 19499ms X 9ms (Cd|)');
      flush();
      // 500 refused, re-armed at 8510 but withdrawn at 5000: nothing until the new close at 20 s.
      expect(port.callsOf('cancelOrder').map((call) => call.at)).toEqual([500, 20_000]);
      // Cancelled by the new close: not a landing after the withdrawal.
      expect(finals.map((final) => [final.cancelReason, final.landedAfterWithdrawal ?? false])).toEqual([['close-position', false]]);
    });
  });

  it('withdrawn while an attempt is on its way, which lands: no attempt after it, and the final state says it landed after the withdrawal', () => {
    marbles(({ cold, hot, scheduler, flush }) => {
      let cancelled = false;
      const port = new FakePort(
        {
          openOrders: () => cold('(a|)', { a: cancelled ? ordersOf() : ordersOf(open) }),
          // The first attempt is refused (nothing done); the second, re-armed at 8510, takes effect at 8900 and its
          // answer is lost at 9510.
          cancelOrder: (_, call) =>
            call === 2 ? cold('390ms a 609ms #', { a: 0 }, ambiguous).pipe(tap(() => (cancelled = true)), ignoreElements()) : cold('10ms #', {}, refused),
          queryOrders: () => cold('(a|)', { a: ordersOf(cancelled ? state('canceled') : open) }),
        },
        scheduler,
      );
      const deps = streamDeps(port, scheduler, { config: patientBreaker });
      // Withdrawn at 9 s, while the second attempt is on its way: only it can have removed the order.
      const cancelWithdrawn$ = hot('9000ms w', { w: { when$: closing(60_000), reason: 'close-position' as const } });
      const reports: string[] = [];
      const finals: OrderFinal[] = [];
      followOrder(order, deps, { cancelWhen$: closing(500), cancelWithdrawn$ }).subscribe((step) =>
        step.kind === 'done' ? finals.push(step.value) : reports.push(`${step.report.status} ${step.report.reason ?? ''}`),
      );
      flush();
      expect(port.callsOf('cancelOrder').map((call) => call.at)).toEqual([500, 8510]);
      expect(reports).toEqual(['PENDING_CANCEL cancel: close-position', 'CANCELED cancelled: close-position']);
      expect(finals.map((final) => [final.cancelReason, final.landedAfterWithdrawal ?? false])).toEqual([['close-position', true]]);
    });
  });

  it('withdrawn after refusals that prove nothing was done, then cancelled elsewhere: not the handler\'s cancel, nothing to put back', () => {
    marbles(({ cold, hot, scheduler, flush }) => {
      let cancelled = false;
      scheduler.schedule(() => (cancelled = true), 10_000);
      const port = new FakePort(
        {
          openOrders: () => cold('(a|)', { a: cancelled ? ordersOf() : ordersOf(open) }),
          cancelOrder: () => cold('10ms #', {}, refused),
          queryOrders: () => cold('(a|)', { a: ordersOf(cancelled ? snapshot({ txid: 'OTX-1', status: 'canceled', reason: 'User requested' }) : open) }),
        },
        scheduler,
      );
      const deps = streamDeps(port, scheduler, { config: patientBreaker });
      const cancelWithdrawn$ = hot('3000ms w', { w: { when$: closing(60_000), reason: 'close-position' as const } });
      const reports: string[] = [];
      const finals: OrderFinal[] = [];
      followOrder(order, deps, { cancelWhen$: closing(500), cancelWithdrawn$ }).subscribe((step) =>
        step.kind === 'done' ? finals.push(step.value) : reports.push(`${step.report.status} ${step.report.reason ?? ''}`),
      );
      flush();
      expect(port.callsOf('cancelOrder').map((call) => call.at)).toEqual([500]);
      expect(reports).toEqual(['PENDING_CANCEL cancel: close-position', 'CANCELED User requested']);
      expect(finals.map((final) => [final.cancelReason, final.landedAfterWithdrawal ?? false])).toEqual([[null, false]]);
    });
  });
});
