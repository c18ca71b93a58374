import { describe, expect, it } from '@jest/globals';
import { map } from 'rxjs';
import { type TestScheduler } from 'rxjs/testing';
import { type ExecutionConfig } from '../../src/model/config';
import { type ExecutionEvent } from '../../src/model/feed';
import { type ExchangeDeps } from '../../src/streams/deps';
import { FEED_PLACED_AFTER_MS, type LookupResult, lookUpOrder, placedOrSeen } from '../../src/streams/lookup';
import { FEED_LINGER_MS, createOrderMonitor } from '../../src/streams/order-monitor';
import { FakePort, type PortScript, config, exchangeError, marbles, ordersOf, snapshot } from './fake-exchange';
import { FakeFeed, feedOrder, feedTrade, snapshotOf, up } from './feed-fakes';
import { exchangeDeps } from './stream-deps';

const clientOrderId = 'c0ffee00-0000-4000-8000-0000000000f1';

/** The order's `pending_new` on the executions channel: its terms and our client order id. */
const pendingNew = (txid: string, cid: string = clientOrderId): ExecutionEvent => ({
  kind: 'order',
  order: { ...feedOrder({ txid, status: 'pending', change: 'pending', cum: '0', terms: true }), clientOrderId: cid },
});

/** A lookup of `clientOrderId` over a fake port, with or without the monitor's feed. */
function rig(scheduler: TestScheduler, script: PortScript, withFeed: boolean) {
  const port = new FakePort(script, scheduler);
  const feed = new FakeFeed();
  const feedConfig: ExecutionConfig = { ...config, feed: { mode: withFeed ? 'websocket' : 'rest', auditIntervalMs: 60_000 } };
  const deps: ExchangeDeps = { ...exchangeDeps(port, scheduler, { config: feedConfig }), feed };
  const monitor = createOrderMonitor(deps);
  const results: Array<{ readonly at: number; readonly result: LookupResult }> = [];
  const lookUp = (deadline: number, at = 0): void => {
    scheduler.schedule(() => {
      lookUpOrder(clientOrderId, deadline, { ...deps, monitor }, 'lookup').subscribe((result) => results.push({ at: scheduler.now(), result }));
    }, at);
  };
  const send = (ms: number, event: ExecutionEvent): void => {
    scheduler.schedule(() => feed.executions$.next(event), ms);
  };
  const restCalls = (): number => port.callsOf('openOrders').length + port.callsOf('closedOrders').length;
  return { port, feed, monitor, results, lookUp, send, restCalls };
}

describe('lookUpOrder with the feed', () => {
  it('finds an order the feed already heard of at once, with no REST call', () => {
    marbles(({ cold, scheduler, flush }) => {
      const r = rig(scheduler, { openOrders: () => cold('10ms (a|)', { a: ordersOf() }), closedOrders: () => cold('10ms (a|)', { a: ordersOf() }) }, true);
      // The feed is up for another order; the ambiguous AddOrder's order shows on it before the lookup starts.
      const other = r.monitor.track('OTHER').subscribe();
      r.send(10, up);
      r.send(20, snapshotOf([]));
      r.send(300, pendingNew('OAMBIG-1'));
      r.lookUp(10_000, 5_000);
      scheduler.schedule(() => other.unsubscribe(), 20_000);
      flush();
      expect(r.results.map(({ at, result }) => [at, result.kind])).toEqual([[5_000, 'found']]);
      const found = r.results[0]?.result;
      expect(found?.kind === 'found' ? [found.snapshot.txid, found.snapshot.clientOrderId, found.snapshot.status] : null).toEqual(['OAMBIG-1', clientOrderId, 'pending']);
      expect(r.restCalls()).toBe(0);
    });
  });

  it('keeps the feed subscribed while it waits, finds the order when the feed tells it, and stops the REST lookups', () => {
    marbles(({ cold, scheduler, flush }) => {
      const r = rig(scheduler, { openOrders: () => cold('10ms (a|)', { a: ordersOf() }), closedOrders: () => cold('10ms (a|)', { a: ordersOf() }) }, true);
      const subscribed: number[] = [];
      r.lookUp(20_000);
      // Nothing tracked: the lookup alone holds the feed.
      for (const at of [1, 2_499, 2_600]) scheduler.schedule(() => subscribed.push(r.feed.executionSubscribers), at);
      r.send(10, up);
      r.send(20, snapshotOf([]));
      r.send(2_500, pendingNew('OAMBIG-2'));
      scheduler.schedule(() => subscribed.push(r.feed.executionSubscribers), 2_600 + FEED_LINGER_MS);
      flush();
      expect(r.results.map(({ at, result }) => [at, result.kind])).toEqual([[2_500, 'found']]);
      // REST asked twice before the feed told (at 1 s and 2 s: open, then closed orders each time), never after.
      expect(r.port.calls.map((call) => call.at).every((at) => at < 2_500)).toBe(true);
      expect(r.restCalls()).toBe(4);
      // Held while waiting, still lingering just after, ended once the linger is over.
      expect(subscribed).toEqual([1, 1, 1, 0]);
    });
  });

  it('does not take another order’s client id, and leaves absence to REST: proven past deadline + lag, as without the feed', () => {
    const run = (withFeed: boolean): { results: Array<[number, string]>; rest: number } => {
      let out: { results: Array<[number, string]>; rest: number } = { results: [], rest: 0 };
      marbles(({ cold, scheduler, flush }) => {
        const r = rig(scheduler, { openOrders: () => cold('10ms (a|)', { a: ordersOf() }), closedOrders: () => cold('10ms (a|)', { a: ordersOf() }) }, withFeed);
        r.send(10, up);
        r.send(20, snapshotOf([]));
        r.send(1_500, pendingNew('OSTRANGER', 'c0ffee00-0000-4000-8000-0000000000aa'));
        r.lookUp(3_000);
        flush();
        out = { results: r.results.map(({ at, result }) => [at, result.kind]), rest: r.restCalls() };
      });
      return out;
    };
    const withFeed = run(true);
    expect(withFeed).toEqual(run(false));
    // The first empty answer past 3 s + the 2 s lag: five rounds of 20 ms a second apart.
    expect(withFeed.results).toEqual([[5_100, 'absent']]);
  });

  it('with the feed up, leaves REST alone until absence can be proven: one round past deadline + lag, not one a second', () => {
    marbles(({ cold, scheduler, flush }) => {
      // The monitor's audit (no filter) sees the other order open; the lookup's (by client id) sees nothing.
      const otherOpen = ordersOf(snapshot({ txid: 'OTHER', status: 'open' }));
      const r = rig(
        scheduler,
        {
          openOrders: (args) => cold('10ms (a|)', { a: JSON.stringify(args ?? null).includes(clientOrderId) ? ordersOf() : otherOpen }),
          closedOrders: () => cold('10ms (a|)', { a: ordersOf() }),
        },
        true,
      );
      const other = r.monitor.track('OTHER').subscribe();
      r.send(10, up);
      r.send(20, snapshotOf([feedOrder({ txid: 'OTHER', status: 'open', cum: '0', terms: true })]));
      // Sent at 1 s with a 3 s deadline: absence is provable from 1 + 3 + 2 (lag) = 6 s.
      r.lookUp(4_000, 1_000);
      scheduler.schedule(() => other.unsubscribe(), 30_000);
      flush();
      expect(r.results.map(({ at, result }) => [at, result.kind])).toEqual([[6_020, 'absent']]);
      // The monitor's own OpenOrders (no filter) aside: the lookup's calls name the client order id.
      const byId = (call: { readonly args: unknown }): boolean => JSON.stringify(call.args ?? null).includes(clientOrderId);
      expect(r.port.callsOf('openOrders').filter(byId).map((call) => call.at)).toEqual([6_000]);
      expect(r.port.callsOf('closedOrders').filter(byId).map((call) => call.at)).toEqual([6_010]);
    });
  });

  it('falls back to REST when the feed heard too little to describe the order (a fill alone)', () => {
    marbles(({ cold, scheduler, flush }) => {
      const onExchange = snapshot({ txid: 'OAMBIG-3', status: 'closed', clientOrderId, volumeExecuted: '1', price: '100' });
      const r = rig(scheduler, { openOrders: () => cold('10ms (a|)', { a: ordersOf() }), closedOrders: () => cold('10ms (a|)', { a: ordersOf(onExchange) }) }, true);
      r.send(10, up);
      // The reconnect snapshot's recent fills carry the client id, not the order's terms.
      r.send(20, snapshotOf([], [{ ...feedTrade('T1', 'OAMBIG-3', '1'), clientOrderId }]));
      r.lookUp(10_000, 100);
      flush();
      expect(r.results.map(({ at, result }) => [at, result.kind])).toEqual([[1_120, 'found']]);
      expect(r.restCalls()).toBe(2);
    });
  });

  it('asks nothing of the feed in rest mode: REST finds it as before', () => {
    marbles(({ cold, scheduler, flush }) => {
      const onExchange = snapshot({ txid: 'OAMBIG-4', status: 'open', clientOrderId });
      const r = rig(scheduler, { openOrders: () => cold('10ms (a|)', { a: ordersOf(onExchange) }) }, false);
      r.send(300, pendingNew('OAMBIG-4'));
      r.lookUp(10_000);
      flush();
      expect(r.feed.executionSubscribers).toBe(0);
      expect(r.results.map(({ at, result }) => [at, result.kind])).toEqual([[1_010, 'found']]);
    });
  });
});

type Placed = { txid: string; clientOrderId: string; description: string };

describe('placedOrSeen: an AddOrder whose answer is late, with the feed', () => {
  /** The feed up at 20 ms and telling of the order at 300 ms; `placement$` the AddOrder's own answer. */
  const rigged = (scheduler: TestScheduler, withFeed: boolean) => {
    const r = rig(scheduler, {}, withFeed);
    const feedConfig: ExecutionConfig = { ...config, feed: { mode: withFeed ? 'websocket' : 'rest', auditIntervalMs: 60_000 } };
    r.send(10, up);
    r.send(20, snapshotOf([]));
    r.send(300, pendingNew('OSEEN-1'));
    return { ...exchangeDeps(r.port, scheduler, { config: feedConfig }), monitor: r.monitor };
  };
  const txid = map((placed: Placed) => placed.txid);

  it('takes the feed’s txid once the answer is a second late, and drops the request', () => {
    marbles(({ cold, expectObservable, expectSubscriptions, scheduler }) => {
      const deps = rigged(scheduler, true);
      const held = cold<Placed>('10000ms #', {}, exchangeError('ambiguous', 'no response', 'AddOrder'));
      expectObservable(placedOrSeen(deps, clientOrderId, held).pipe(txid)).toBe(`${FEED_PLACED_AFTER_MS}ms (a|)`, { a: 'OSEEN-1' });
      expectSubscriptions(held.subscriptions).toBe(`^ ${FEED_PLACED_AFTER_MS - 1}ms !`);
    });
  });

  it('uses the answer when it comes in time, and the answer’s failure when the feed never told', () => {
    marbles(({ cold, expectObservable, scheduler }) => {
      const deps = rigged(scheduler, true);
      const onTime = cold<Placed>('400ms (a|)', { a: { txid: 'OSEEN-1', clientOrderId, description: 'buy' } });
      expectObservable(placedOrSeen(deps, clientOrderId, onTime).pipe(map((p) => p.description))).toBe('400ms (a|)', { a: 'buy' });
    });
    marbles(({ cold, expectObservable, scheduler }) => {
      const deps = rigged(scheduler, true);
      const refused = exchangeError('refused', 'EOrder:Insufficient funds', 'AddOrder');
      // Another client id: what the feed told is not this order.
      const other = 'c0ffee00-0000-4000-8000-0000000000bb';
      expectObservable(placedOrSeen(deps, other, cold<Placed>('3000ms #', {}, refused)).pipe(txid)).toBe('3000ms #', {}, refused);
    });
  });

  it('is the AddOrder alone in rest mode', () => {
    marbles(({ cold, expectObservable, scheduler }) => {
      const deps = rigged(scheduler, false);
      const held = cold<Placed>('10000ms #', {}, exchangeError('ambiguous', 'no response', 'AddOrder'));
      expectObservable(placedOrSeen(deps, clientOrderId, held).pipe(txid)).toBe('10000ms #', {}, exchangeError('ambiguous', 'no response', 'AddOrder'));
    });
  });
});
