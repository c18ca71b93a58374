import {
  EMPTY,
  Observable,
  type Subscriber,
  type Subscription,
  catchError,
  concatMap,
  defer,
  from,
  reduce,
  repeat,
  timer,
} from 'rxjs';
import { type OrderSnapshot } from '../model/order';
import { type ExchangeDeps } from './deps';
import { exchangeCall } from './exchange-call';

/** Kraken's QueryOrders takes at most this many txids. */
export const QUERY_BATCH_SIZE = 50;

/** The shared watcher of every order the handler follows. */
export interface OrderMonitor {
  /**
   * Follows one order. Cold: while subscribed the txid is tracked and a snapshot of it is emitted on a tick that
   * shows it changed (status or executed volume; the first reading always counts). Never completes by itself:
   * unsubscribe at the order's final state.
   */
  track(txid: string): Observable<OrderSnapshot>;
  /** Resolve this order with QueryOrders on the next tick even if it looks open or too young (e.g. after a cancel). */
  lookNow(txid: string): void;
  /** Orders tracked now. */
  readonly trackedCount: number;
}

/** One stream following an order, and the snapshot it last heard of. */
interface Follower {
  readonly subscriber: Subscriber<OrderSnapshot>;
  /** A tick that shows the same status and executed volume as this delivers nothing. */
  delivered: OrderSnapshot | null;
}

interface TrackedOrder {
  readonly since: number;
  /** The streams following this order (usually one). */
  readonly followers: Follower[];
  seenOpen: boolean;
  lookNow: boolean;
}

/** Whether a snapshot says something its predecessor did not (what `fillDeltas` would react to). */
const isNews = (previous: OrderSnapshot | null, next: OrderSnapshot): boolean =>
  previous === null || previous.status !== next.status || !previous.volumeExecuted.eq(next.volumeExecuted);

const chunk = <T>(items: readonly T[], size: number): T[][] => {
  const chunks: T[][] = [];
  for (let at = 0; at < items.length; at += size) chunks.push(items.slice(at, at + size));
  return chunks;
};

/**
 * One poll for all orders: each tick one OpenOrders call covers every open order; tracked orders that left the
 * open set are resolved with QueryOrders in batches of at most 50 txids. Each tick's snapshots are routed by
 * txid to the orders they changed, so ten or ten thousand orders cost the same OpenOrders call, and a tick
 * wakes only the orders whose status or executed volume moved (not every order that is open).
 *
 * tracked:   ^──── a, b ─────────────────────────────────!   (last order untracked)
 * tick:      ─────T─────────T────────────T────────────        OpenOrders (+ QueryOrders for the gone)
 * track(a):  ─────s──────────────────────s────────────        (s: a snapshot that changed status or vol_exec)
 *
 * The loop runs only while something is tracked (subscribed with the first order, ended with the last) and
 * starts a tick after the first order is tracked, not at once, since a just-placed order is rarely in
 * OpenOrders yet. The pause before each
 * tick is `monitor.minIntervalMs`, longer when the REST budget could not pay for the tick plus a reserve
 * (`budget.waitMs`), never more than `monitor.maxIntervalMs`. Calls go through the gate's `monitor` lane; a
 * failed tick is logged and the next tick tries again.
 *
 * @param deps The run's exchange access, budget and config.
 * @returns The monitor.
 */
export function createOrderMonitor(deps: ExchangeDeps): OrderMonitor {
  const { config, port, scheduler, log } = deps;
  const tracked = new Map<string, TrackedOrder>();
  let lastGoneCount = 0;

  const nextPauseMs = (): number => {
    const { minIntervalMs, maxIntervalMs } = config.monitor;
    const batches = Math.ceil(lastGoneCount / QUERY_BATCH_SIZE);
    const rest =
      deps.costs({ kind: 'openOrders' }).rest + batches * deps.costs({ kind: 'queryOrders' }).rest + deps.tuning.monitorReserveUnits;
    const wait = deps.budget.waitMs({ rest }, scheduler.now());
    const pause = Number.isFinite(wait) ? Math.max(minIntervalMs, Math.ceil(wait)) : maxIntervalMs;
    return Math.min(maxIntervalMs, pause);
  };

  /** Which tracked orders the open set no longer shows (or that were asked for), oldest grace respected. */
  const goneFrom = (open: ReadonlyMap<string, OrderSnapshot>, now: number): { seen: Map<string, OrderSnapshot>; gone: string[] } => {
    const seen = new Map<string, OrderSnapshot>();
    const gone: string[] = [];
    for (const [txid, order] of tracked) {
      const snapshot = open.get(txid);
      if (snapshot && !order.lookNow) {
        order.seenOpen = true;
        seen.set(txid, snapshot);
      } else if (order.lookNow || order.seenOpen || now - order.since >= deps.tuning.openOrdersLagMs) {
        order.lookNow = false;
        gone.push(txid);
      }
    }
    return { seen, gone };
  };

  const query = (txids: readonly string[]): Observable<ReadonlyMap<string, OrderSnapshot>> =>
    exchangeCall(deps, 'monitor', () => ({ kind: 'queryOrders' }), () => port.queryOrders(txids), 'idempotent').pipe(
      catchError((error: unknown) => {
        // Those orders stay tracked and are asked for again next tick.
        for (const txid of txids) {
          const order = tracked.get(txid);
          if (order) order.lookNow = true;
        }
        log.warn('order monitor: QueryOrders failed, retrying next tick:', String(error));
        return EMPTY;
      }),
    );

  const tick = (): Observable<ReadonlyMap<string, OrderSnapshot>> =>
    defer(() => {
      if (tracked.size === 0) return EMPTY;
      return exchangeCall(deps, 'monitor', () => ({ kind: 'openOrders' }), () => port.openOrders(), 'idempotent').pipe(
        concatMap((open) => {
          const { seen, gone } = goneFrom(open, scheduler.now());
          lastGoneCount = gone.length;
          // concatMap: one batch after the other keeps the monitor to one REST call at a time.
          return from(chunk(gone, QUERY_BATCH_SIZE)).pipe(
            concatMap(query),
            reduce((all: Map<string, OrderSnapshot>, found) => {
              for (const [txid, snapshot] of found) if (tracked.has(txid)) all.set(txid, snapshot);
              return all;
            }, seen),
          );
        }),
        catchError((error: unknown) => {
          log.warn('order monitor: OpenOrders failed, retrying next tick:', String(error));
          return EMPTY;
        }),
      );
    });

  const snapshots$ = defer(() => timer(nextPauseMs(), scheduler)).pipe(concatMap(tick), repeat());

  /** Delivers each snapshot to the followers of its order, if it is news to them. */
  const route = (snapshots: ReadonlyMap<string, OrderSnapshot>): void => {
    for (const [txid, snapshot] of snapshots) {
      const order = tracked.get(txid);
      if (!order) continue;
      // One follower is the rule; a copy only when a follower that reaches its final state (it unsubscribes and
      // leaves the list while being told) could make the loop skip another.
      const followers = order.followers.length === 1 ? order.followers : [...order.followers];
      for (const follower of followers) {
        if (!isNews(follower.delivered, snapshot)) continue;
        follower.delivered = snapshot;
        follower.subscriber.next(snapshot);
      }
    }
  };

  // The loop as refCount would run it: subscribed with the first tracked order, ended with the last; the
  // routing is one subscriber, not one per order, so an unchanged order costs one Map lookup per tick.
  let loop: Subscription | null = null;

  const register = (txid: string, follower: Follower): void => {
    const order = tracked.get(txid);
    if (order) order.followers.push(follower);
    else tracked.set(txid, { since: scheduler.now(), followers: [follower], seenOpen: false, lookNow: false });
    loop ??= snapshots$.subscribe({
      next: route,
      // Not expected (a tick catches its own failures); if it happens, every follower hears of it, as it would
      // through a shared stream, and the next order tracked starts a fresh loop.
      error: (error: unknown) => {
        loop = null;
        log.error('order monitor stopped on an error:', String(error));
        for (const { followers } of [...tracked.values()]) for (const follower of [...followers]) follower.subscriber.error(error);
      },
    });
  };

  const unregister = (txid: string, follower: Follower): void => {
    const order = tracked.get(txid);
    if (order) {
      const at = order.followers.indexOf(follower);
      if (at >= 0) order.followers.splice(at, 1);
      if (order.followers.length === 0) tracked.delete(txid);
    }
    if (tracked.size === 0 && loop) {
      const ending = loop;
      loop = null;
      ending.unsubscribe();
    }
  };

  return {
    track: (txid) =>
      new Observable<OrderSnapshot>((subscriber) => {
        const follower: Follower = { subscriber, delivered: null };
        register(txid, follower);
        return () => unregister(txid, follower);
      }),
    lookNow: (txid) => {
      const order = tracked.get(txid);
      if (order) order.lookNow = true;
    },
    get trackedCount() {
      return tracked.size;
    },
  };
}
