import { type Observable, type SchedulerLike, asyncScheduler, concat, concatMap, defer, from, mergeMap, repeat, tap, timer } from 'rxjs';
import { type OrderSnapshot, isOpenStatus } from '../src/model/order';
import { type ExchangePort } from '../src/model/port';

/**
 * The design the shared monitor replaces, kept here only to be measured against it: every followed order is
 * asked for on its own, one QueryOrders call per order per tick, until it reaches a final state.
 *
 * following: a, b, c
 * tick:      ─────[Q(a) Q(b) Q(c)]─────[Q(a) Q(b) Q(c)]───
 * result:    ──────a────b────c──────────a────b────c──────
 *
 * Calls go one after another (the private calls of one key are serialised anyway). Never completes by
 * itself; unsubscribe to stop.
 *
 * @param port Where the orders are.
 * @param txids The orders to follow.
 * @param pauseMs Pause before each tick.
 * @param beginTick Runs at the start of each tick (the bench marks its tick boundary there).
 * @param scheduler Timer of the pause.
 * @returns Every snapshot read.
 */
export function pollEachOrder(
  port: ExchangePort,
  txids: readonly string[],
  pauseMs: number,
  beginTick: (following: number) => Observable<never>,
  scheduler: SchedulerLike = asyncScheduler,
): Observable<OrderSnapshot> {
  return defer(() => {
    const following = new Set(txids);
    const tick$ = defer(() =>
      concat(
        beginTick(following.size),
        from([...following]).pipe(
          concatMap((txid) => port.queryOrders([txid])),
          mergeMap((found) => from(found.values())),
          tap((snapshot) => {
            if (!isOpenStatus(snapshot.status)) following.delete(snapshot.txid);
          }),
        ),
      ),
    );
    return defer(() => timer(pauseMs, scheduler)).pipe(concatMap(() => tick$), repeat());
  });
}
