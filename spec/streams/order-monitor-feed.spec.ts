import { describe, expect, it } from '@jest/globals';
import { type Observable, map, toArray } from 'rxjs';
import { type TestScheduler } from 'rxjs/testing';
import { type ExecutionConfig } from '../../src/model/config';
import { type ExecutionEvent } from '../../src/model/feed';
import { type OrderSnapshot } from '../../src/model/order';
import { fillDeltas } from '../../src/operators/fill-deltas';
import { type ExchangeDeps } from '../../src/streams/deps';
import { createOrderMonitor } from '../../src/streams/order-monitor';
import { FakePort, type PortScript, config, exchangeError, marbles, ordersOf, snapshot } from './fake-exchange';
import { FakeFeed, down, feedOrder, feedTrade, orderEvent, snapshotOf, tradeEvent, up } from './feed-fakes';
import { exchangeDeps } from './stream-deps';

/** The monitor over a fake port and a fake feed; the audit runs every 10 s so the marbles stay short. */
function rig(scheduler: TestScheduler, script: PortScript, overrides: Partial<ExecutionConfig> = {}) {
  const port = new FakePort(script, scheduler);
  const feed = new FakeFeed();
  const withFeed: ExecutionConfig = { ...config, feed: { mode: 'websocket', auditIntervalMs: 10_000 }, ...overrides };
  const deps: ExchangeDeps = { ...exchangeDeps(port, scheduler, { config: withFeed }), feed };
  const monitor = createOrderMonitor(deps);
  /** The feed sends `event` at `ms` (virtual time). */
  const send = (ms: number, event: ExecutionEvent): void => {
    scheduler.schedule(() => feed.executions$.next(event), ms);
  };
  return { port, feed, monitor, send };
}

/** What a follower is told, as status:executed volume. */
const told = (snapshots$: Observable<OrderSnapshot>): Observable<string> =>
  snapshots$.pipe(map((s) => `${s.status}:${s.volumeExecuted.toFixed()}`));

/** The fill increments and final status a follower would report (what `followOrder` builds reports from). */
const fills = (snapshots$: Observable<OrderSnapshot>): Observable<string[]> =>
  snapshots$.pipe(
    fillDeltas(),
    map((e) => (e.kind === 'fill' ? `fill ${e.quantity.toFixed()} @${e.price.toFixed()}` : e.snapshot.status)),
    toArray(),
  );

const restOpen = (txid: string, volumeExecuted = '0'): OrderSnapshot => snapshot({ txid, status: 'open', volumeExecuted, price: '100' });
const restClosed = (txid: string): OrderSnapshot => snapshot({ txid, status: 'closed', volumeExecuted: '1', price: '100', fee: '0.2' });

describe('order monitor with a push feed', () => {
  it('WS first, then a late REST snapshot: nothing rolls back and each fill is reported once', () => {
    marbles(({ cold, expectObservable, scheduler, flush }) => {
      const { port, monitor, send } = rig(scheduler, {
        // The audit at 10.1 s still shows the order open with 0.4 (REST lags behind the socket).
        openOrders: () => cold('(a|)', { a: ordersOf(restOpen('A', '0.4')) }),
      });
      send(50, up);
      send(100, snapshotOf([feedOrder({ txid: 'A', status: 'open', cum: '0', terms: true })]));
      send(500, tradeEvent(feedTrade('T1', 'A', '0.4')));
      send(500, orderEvent({ txid: 'A', status: 'partially-filled', change: 'trade', cum: '0.4' }));
      send(800, tradeEvent(feedTrade('T2', 'A', '0.6')));
      send(800, orderEvent({ txid: 'A', status: 'filled', change: 'filled', cum: '1' }));
      const a$ = monitor.track('A');
      expectObservable(told(a$), '^ 12000ms !').toBe('100ms a 399ms b 299ms c', { a: 'open:0', b: 'open:0.4', c: 'closed:1' });
      expectObservable(fills(a$)).toBe('800ms (a|)', { a: ['open', 'fill 0.4 @100', 'fill 0.6 @100', 'closed'] });
      flush();
      // Polling before the snapshot is in; none after it but the audit (the snapshot restarted the pause).
      expect(port.callsOf('openOrders').map((c) => c.at)).toEqual([10_100]);
      expect(port.callsOf('queryOrders')).toEqual([]);
    });
  });

  it('REST first, then WS: the fill REST already told is not told again', () => {
    marbles(({ cold, expectObservable, scheduler, flush }) => {
      const { port, monitor, send } = rig(scheduler, { openOrders: () => cold('(a|)', { a: ordersOf(restOpen('A', '0.4')) }) });
      // The socket comes up late: REST saw the first fill at 1 s; the snapshot repeats that fill (snap_trades).
      send(1_500, up);
      send(1_500, snapshotOf([feedOrder({ txid: 'A', status: 'partially-filled', cum: '0.4', terms: true })], [feedTrade('T1', 'A', '0.4')]));
      send(1_800, tradeEvent(feedTrade('T2', 'A', '0.6')));
      send(1_800, orderEvent({ txid: 'A', status: 'filled', change: 'filled', cum: '1' }));
      const a$ = monitor.track('A');
      expectObservable(told(a$), '^ 5000ms !').toBe('1000ms a 799ms b', { a: 'open:0.4', b: 'closed:1' });
      expectObservable(fills(a$)).toBe('1800ms (a|)', { a: ['fill 0.4 @100', 'open', 'fill 0.6 @100', 'closed'] });
      flush();
      expect(port.callsOf('openOrders').map((c) => c.at)).toEqual([1_000]);
    });
  });

  it('a sequence gap resolves every tracked order with one batched QueryOrders', () => {
    marbles(({ cold, expectObservable, scheduler, flush }) => {
      const { port, monitor, send } = rig(scheduler, {
        openOrders: () => cold('(a|)', { a: ordersOf() }),
        queryOrders: () => cold('20ms (a|)', { a: ordersOf(restClosed('A'), restOpen('B'), restOpen('C')) }),
      });
      send(100, snapshotOf(['A', 'B', 'C'].map((txid) => feedOrder({ txid, status: 'open', cum: '0', terms: true }))));
      send(3_000, { kind: 'gap', expected: 41, received: 43 });
      expectObservable(told(monitor.track('A')), '^ 5000ms !').toBe('100ms a 2919ms b', { a: 'open:0', b: 'closed:1' });
      expectObservable(told(monitor.track('B')), '^ 5000ms !').toBe('100ms a', { a: 'open:0' });
      expectObservable(told(monitor.track('C')), '^ 5000ms !').toBe('100ms a', { a: 'open:0' });
      flush();
      expect(port.callsOf('queryOrders').map((c) => [c.at, c.args])).toEqual([[3_000, ['A', 'B', 'C']]]);
      expect(port.callsOf('openOrders')).toEqual([]);
    });
  });

  it('a resync whose QueryOrders fails is tried again at the monitor’s pace, not at the next audit', () => {
    marbles(({ cold, expectObservable, scheduler, flush }) => {
      const { port, monitor, send } = rig(scheduler, {
        queryOrders: (_, call) =>
          call === 1 ? cold('20ms #', {}, exchangeError('refused', 'EGeneral:Invalid arguments', 'QueryOrders')) : cold('20ms (a|)', { a: ordersOf(restClosed('A')) }),
      });
      send(100, snapshotOf([feedOrder({ txid: 'A', status: 'open', cum: '0', terms: true })]));
      send(3_000, { kind: 'gap', expected: 7, received: 8 });
      expectObservable(told(monitor.track('A')), '^ 6000ms !').toBe('100ms a 3939ms b', { a: 'open:0', b: 'closed:1' });
      flush();
      expect(port.callsOf('queryOrders').map((c) => c.at)).toEqual([3_000, 4_020]);
      expect(port.callsOf('openOrders')).toEqual([]);
    });
  });

  it('a reconnect snapshot that no longer lists an order: it is resolved by one QueryOrders, the others are not asked for', () => {
    marbles(({ cold, expectObservable, scheduler, flush }) => {
      const { port, monitor, send } = rig(scheduler, { queryOrders: () => cold('20ms (a|)', { a: ordersOf(restClosed('A')) }) });
      send(100, snapshotOf([feedOrder({ txid: 'A', status: 'open', cum: '0', terms: true }), feedOrder({ txid: 'B', status: 'open', cum: '0', terms: true })]));
      send(2_000, down);
      // A filled while the socket was away; the new snapshot lists only B (and none of A's fills).
      send(2_500, up);
      send(2_500, snapshotOf([feedOrder({ txid: 'B', status: 'open', cum: '0', terms: true })]));
      const a$ = monitor.track('A');
      expectObservable(told(a$), '^ 5000ms !').toBe('100ms a 2419ms b', { a: 'open:0', b: 'closed:1' });
      expectObservable(fills(a$)).toBe('2520ms (a|)', { a: ['open', 'fill 1 @100', 'closed'] });
      expectObservable(told(monitor.track('B')), '^ 5000ms !').toBe('100ms a', { a: 'open:0' });
      flush();
      expect(port.callsOf('queryOrders').map((c) => [c.at, c.args])).toEqual([[2_500, ['A']]]);
      // Down from 2 s to 2.5 s: the poll's next tick (at 3 s) never came, the snapshot was first.
      expect(port.callsOf('openOrders')).toEqual([]);
    });
  });

  it('a reconnect snapshot whose fills show an order executed in full: filled from them, nothing to ask REST', () => {
    marbles(({ expectObservable, scheduler, flush }) => {
      const { port, monitor, send } = rig(scheduler, {});
      send(100, snapshotOf([feedOrder({ txid: 'A', status: 'open', cum: '0', terms: true })]));
      send(2_000, down);
      send(2_500, snapshotOf([], [feedTrade('T1', 'A', '0.25'), feedTrade('T2', 'A', '0.75', '104')]));
      expectObservable(told(monitor.track('A')), '^ 5000ms !').toBe('100ms a 2399ms b', { a: 'open:0', b: 'closed:1' });
      flush();
      expect(port.calls).toEqual([]);
    });
  });

  it('a trade reported twice (same trade id) is one fill', () => {
    marbles(({ expectObservable, scheduler, flush }) => {
      const { monitor, send } = rig(scheduler, {});
      send(100, snapshotOf([feedOrder({ txid: 'A', status: 'open', cum: '0', terms: true })]));
      send(500, tradeEvent(feedTrade('T1', 'A', '0.4')));
      send(700, tradeEvent(feedTrade('T1', 'A', '0.4')));
      send(900, orderEvent({ txid: 'A', status: 'partially-filled', cum: '0.4' }));
      send(1_200, tradeEvent(feedTrade('T2', 'A', '0.6', '110')));
      send(1_200, orderEvent({ txid: 'A', status: 'filled', cum: '1', price: '106' }));
      const a$ = monitor.track('A');
      expectObservable(told(a$), '^ 3000ms !').toBe('100ms a 399ms b 699ms c', { a: 'open:0', b: 'open:0.4', c: 'closed:1' });
      expectObservable(fills(a$)).toBe('1200ms (a|)', { a: ['open', 'fill 0.4 @100', 'fill 0.6 @110', 'closed'] });
      flush();
    });
  });

  it('polls at the audit pace while the feed is up and at today’s pace while it is down', () => {
    marbles(({ cold, expectObservable, scheduler, flush }) => {
      const { port, monitor, send } = rig(scheduler, { openOrders: () => cold('(a|)', { a: ordersOf(restOpen('A')) }) });
      send(2_500, up);
      send(2_500, snapshotOf([feedOrder({ txid: 'A', status: 'open', cum: '0', terms: true })]));
      send(15_000, down);
      expectObservable(monitor.track('A'), '^ 17500ms !');
      flush();
      // 1 s ticks until the snapshot; an audit 10 s after it; 1 s ticks again from the moment it went down.
      expect(port.callsOf('openOrders').map((c) => c.at)).toEqual([1_000, 2_000, 12_500, 16_000, 17_000]);
    });
  });

  it('tells an order the feed described before it was tracked, right after the subscription', () => {
    marbles(({ cold, expectObservable, scheduler, flush }) => {
      const { monitor, send, feed } = rig(scheduler, { openOrders: () => cold('(a|)', { a: ordersOf(restOpen('A')) }) });
      send(100, snapshotOf([feedOrder({ txid: 'A', status: 'open', cum: '0', terms: true })]));
      // B's events come before its AddOrder answer, i.e. before it is tracked at 400 ms.
      send(300, orderEvent({ txid: 'B', status: 'pending', change: 'pending', cum: '0', terms: true }));
      send(300, orderEvent({ txid: 'B', status: 'open', change: 'new' }));
      send(350, tradeEvent(feedTrade('T9', 'B', '1')));
      send(350, orderEvent({ txid: 'B', status: 'filled', change: 'filled', cum: '1' }));
      expectObservable(told(monitor.track('A')), '^ 2000ms !').toBe('100ms a', { a: 'open:0' });
      expectObservable(told(monitor.track('B')), '400ms ^ 1000ms !').toBe('400ms b', { b: 'closed:1' });
      flush();
      expect(feed.executionSubscribers).toBe(0);
    });
  });

  it('a final status heard without its figures is not taken: QueryOrders tells', () => {
    marbles(({ cold, expectObservable, scheduler, flush }) => {
      const { port, monitor, send } = rig(scheduler, { queryOrders: () => cold('20ms (a|)', { a: ordersOf(restClosed('A')) }) });
      send(100, snapshotOf([feedOrder({ txid: 'A', status: 'open', cum: '0', terms: true })]));
      send(500, orderEvent({ txid: 'A', status: 'filled', change: 'filled' }));
      expectObservable(told(monitor.track('A')), '^ 2000ms !').toBe('100ms a 419ms b', { a: 'open:0', b: 'closed:1' });
      flush();
      expect(port.callsOf('queryOrders').map((c) => [c.at, c.args])).toEqual([[500, ['A']]]);
    });
  });

  it('lookNow while the feed is up asks QueryOrders at once, not at the next audit', () => {
    marbles(({ cold, expectObservable, scheduler, flush }) => {
      const { port, monitor, send } = rig(scheduler, { queryOrders: () => cold('20ms (a|)', { a: ordersOf(restClosed('A')) }) });
      send(100, snapshotOf([feedOrder({ txid: 'A', status: 'open', cum: '0', terms: true })]));
      scheduler.schedule(() => monitor.lookNow('A'), 700);
      expectObservable(told(monitor.track('A')), '^ 2000ms !').toBe('100ms a 619ms b', { a: 'open:0', b: 'closed:1' });
      flush();
      expect(port.callsOf('queryOrders').map((c) => [c.at, c.args])).toEqual([[700, ['A']]]);
      expect(port.callsOf('openOrders')).toEqual([]);
    });
  });

  it('config feed.mode "rest": a feed given is not subscribed, polling as without one', () => {
    marbles(({ cold, expectObservable, scheduler, flush }) => {
      const { port, monitor, feed } = rig(scheduler, { openOrders: () => cold('(a|)', { a: ordersOf(restOpen('A')) }) }, {
        feed: { mode: 'rest', auditIntervalMs: 10_000 },
      });
      expectObservable(told(monitor.track('A')), '^ 3500ms !').toBe('1000ms a', { a: 'open:0' });
      flush();
      expect(feed.executionSubscribers).toBe(0);
      expect(port.callsOf('openOrders').map((c) => c.at)).toEqual([1_000, 2_000, 3_000]);
    });
  });
});
