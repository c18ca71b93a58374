import {
  EMPTY,
  type Observable,
  catchError,
  concatMap,
  defer,
  filter,
  finalize,
  from,
  map,
  reduce,
  repeat,
  share,
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
   * Follows one order. Cold: while subscribed the txid is tracked and each tick's snapshot of it is emitted
   * (the same snapshot may come again; `fillDeltas` drops repeats). Never completes by itself: unsubscribe at
   * the order's final state.
   */
  track(txid: string): Observable<OrderSnapshot>;
  /** Resolve this order with QueryOrders on the next tick even if it looks open or too young (e.g. after a cancel). */
  lookNow(txid: string): void;
  /** Orders tracked now. */
  readonly trackedCount: number;
}

interface TrackedOrder {
  readonly since: number;
  subscribers: number;
  seenOpen: boolean;
  lookNow: boolean;
}

const chunk = <T>(items: readonly T[], size: number): T[][] => {
  const chunks: T[][] = [];
  for (let at = 0; at < items.length; at += size) chunks.push(items.slice(at, at + size));
  return chunks;
};

/**
 * One poll for all orders: each tick one OpenOrders call covers every open order; tracked orders that left the
 * open set are resolved with QueryOrders in batches of at most 50 txids. Per-order streams filter the one
 * shared source by txid, so ten or a thousand orders cost the same OpenOrders call.
 *
 * tracked:   ^──── a, b ─────────────────────────────────!   (last order untracked)
 * tick:      ─────T─────────T────────────T────────────        OpenOrders (+ QueryOrders for the gone)
 * track(a):  ─────s─────────s────────────s────────────
 *
 * The loop runs only while something is tracked (`share` with refCount) and starts a tick after the first
 * order is tracked, not at once, since a just-placed order is rarely in OpenOrders yet. The pause before each
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

  const snapshots$ = defer(() => timer(nextPauseMs(), scheduler)).pipe(
    concatMap(tick),
    repeat(),
    // share (refCount): the loop stops when the last order is untracked, and starts afresh for the next.
    share(),
  );

  const register = (txid: string): void => {
    const order = tracked.get(txid);
    if (order) order.subscribers += 1;
    else tracked.set(txid, { since: scheduler.now(), subscribers: 1, seenOpen: false, lookNow: false });
  };

  const unregister = (txid: string): void => {
    const order = tracked.get(txid);
    if (!order) return;
    order.subscribers -= 1;
    if (order.subscribers <= 0) tracked.delete(txid);
  };

  return {
    track: (txid) =>
      defer(() => {
        register(txid);
        return snapshots$.pipe(
          map((snapshots) => snapshots.get(txid)),
          filter((snapshot): snapshot is OrderSnapshot => snapshot !== undefined),
          finalize(() => unregister(txid)),
        );
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
