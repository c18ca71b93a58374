import { type Observable, catchError, combineLatest, concatMap, defer, map, of, race, take, timer } from 'rxjs';
import { type OrderSnapshot, type PlacedOrder } from '../model/order';
import { isBreakerOpenError } from '../operators/circuit-breaker';
import { type ExchangeDeps } from './deps';
import { exchangeCall } from './exchange-call';
import { type Lane } from '../operators/rate-limit';
import { type OrderMonitor } from './order-monitor';

/** The run's exchange access, and its order monitor when there is one (the streams' deps have it; a reconcile's do not). */
export type LookupDeps = ExchangeDeps & { readonly monitor?: Pick<OrderMonitor, 'seenByClientOrderId' | 'feedUp'> };

/** What looking an order up by its client order id proved. */
export type LookupResult =
  | { readonly kind: 'found'; readonly snapshot: OrderSnapshot }
  | { readonly kind: 'absent' }
  | { readonly kind: 'unproven'; readonly reason: string };

/** `refused`: the open breaker refused it without asking the exchange, until `reopensAt`. */
type LookupAnswer = OrderSnapshot | 'absent' | 'failed' | { readonly refusedUntil: number };

const errorText = (error: unknown): string => (error instanceof Error ? error.message : String(error));

const findByClientOrderId = (orders: ReadonlyMap<string, OrderSnapshot>, clientOrderId: string): OrderSnapshot | undefined =>
  // Only an exact match: adopting an order that does not carry our id could make a stranger's order ours.
  [...orders.values()].find((order) => order.clientOrderId === clientOrderId);

/**
 * From when a listing of open and closed orders that does not show an order proves it was never placed: past the
 * placement's deadline (the exchange refuses it after that if still queued) plus the OpenOrders lag (an accepted
 * order may not show before). Until then, not being listed proves nothing.
 *
 * @param deadline Epoch ms of the placement's deadline.
 * @param deps The run's tuning (its OpenOrders lag).
 * @returns Epoch ms from which an empty listing, asked from then on, is proof of absence.
 */
export function absenceProvableFrom(deadline: number, deps: Pick<ExchangeDeps, 'tuning'>): number {
  return deadline + deps.tuning.openOrdersLagMs;
}

/**
 * Looks an order up by its client order id (OpenOrders, then ClosedOrders) every `lookup.intervalMs`, until it
 * is found or its absence is proven: an empty answer counts as proof only once the placement's deadline plus
 * the OpenOrders lag has passed, since until then the exchange may still accept it or not show it yet.
 *
 * lookups: ────l────l────l────L|     l: before deadline + lag (proves nothing), L: after it
 * result:  ───────────────────a|     a: absent (or f: found, as soon as a lookup finds it)
 *
 * Makes `lookup.attempts` lookups, more if that is what it takes to get past the deadline; when none of the
 * lookups past it succeeded, the result is `unproven`. Failed lookups are logged and count as attempts. A lookup
 * the open circuit breaker refused asked the exchange nothing and is not an attempt: the next one waits until the
 * breaker lets a call through (its probe), as the persistent calls do, so an open breaker alone never turns an
 * order that may be live into `unproven`. Calls go through `lane` (`monitor` by default). Emits once and
 * completes; never errors.
 *
 * With the monitor's feed (`deps.monitor`, feed mode `websocket`), what the feed told of the client order id
 * answers first: an order that was in fact placed shows on the executions channel with its `cl_ord_id`, usually
 * before the AddOrder was given up on, so it is found at once with no REST call; it is watched for while the
 * REST lookups run, and whichever finds it first wins. The feed never proves absence: only REST does, as above.
 *
 * feed:    ──f|                 f: the feed heard of it → found, the REST lookups are dropped
 * lookups: ────(cut)
 *
 * @param clientOrderId The order's client order id.
 * @param deadline Epoch ms of the placement's deadline (the exchange refuses it after that if still queued).
 * @param deps The run's exchange access.
 * @param lane The gate lane of the lookup calls.
 * @returns What the lookups proved.
 */
export function lookUpOrder(clientOrderId: string, deadline: number, deps: LookupDeps, lane: Lane = 'monitor'): Observable<LookupResult> {
  const { port, scheduler, config } = deps;
  return defer(() => {
    const provenAfter = absenceProvableFrom(deadline, deps);
    const { intervalMs } = config.lookup;
    const maxAttempts = Math.max(config.lookup.attempts, Math.ceil((provenAfter - scheduler.now()) / intervalMs));

    const once = (): Observable<LookupAnswer> =>
      defer(() => {
        // Whether this round asked the exchange anything: a refusal after a failed probe is still an attempt.
        let asked = false;
        const ask = <T>(call: () => Observable<T>): (() => Observable<T>) => () => defer(() => ((asked = true), call()));
        return lookupRound(ask, () => asked);
      });

    const lookupRound = (ask: <T>(call: () => Observable<T>) => () => Observable<T>, asked: () => boolean): Observable<LookupAnswer> =>
      exchangeCall(deps, lane, () => ({ kind: 'openOrders' }), ask(() => port.openOrders({ clientOrderId })), 'idempotent').pipe(
        concatMap((open): Observable<LookupAnswer> => {
          const found = findByClientOrderId(open, clientOrderId);
          if (found) return of(found);
          return exchangeCall(deps, lane, () => ({ kind: 'closedOrders' }), ask(() => port.closedOrders({ clientOrderId })), 'idempotent').pipe(
            map((closed): LookupAnswer => findByClientOrderId(closed, clientOrderId) ?? 'absent'),
          );
        }),
        catchError((error: unknown) => {
          if (isBreakerOpenError(error) && !asked()) return of<LookupAnswer>({ refusedUntil: error.reopensAt });
          deps.log.warn(`lookup of ${clientOrderId} failed:`, errorText(error));
          return of<LookupAnswer>('failed');
        }),
      );

    const attempt = (n: number, pauseMs: number = intervalMs): Observable<LookupResult> =>
      timer(pauseMs, scheduler).pipe(
        concatMap(once),
        concatMap((answer): Observable<LookupResult> => {
          if (typeof answer === 'object' && 'refusedUntil' in answer) {
            // Not an attempt: wait for the cool-down (or, while another call is the probe, one interval).
            return attempt(n, Math.max(intervalMs, answer.refusedUntil - scheduler.now()));
          }
          if (answer !== 'absent' && answer !== 'failed') return of({ kind: 'found', snapshot: answer });
          if (answer === 'absent' && scheduler.now() >= provenAfter) return of({ kind: 'absent' });
          if (n >= maxAttempts) {
            return of({ kind: 'unproven', reason: `${n} lookups of client order id ${clientOrderId} proved neither that it exists nor that it does not` });
          }
          return attempt(n + 1);
        }),
      );
    if (!deps.monitor) return attempt(1);
    // While the feed is up it finds a placed order by itself: REST rounds before the deadline could only find
    // it too, so the first is when it can prove absence (the REST budget stays with the monitor and the stops).
    const firstPauseMs = deps.monitor.feedUp ? Math.max(intervalMs, provenAfter - scheduler.now()) : intervalMs;
    const seen$ = deps.monitor.seenByClientOrderId(clientOrderId).pipe(
      take(1),
      map((snapshot): LookupResult => ({ kind: 'found', snapshot })),
    );
    // `seen$` is silent until it finds the order, so the REST result wins whenever the feed has not heard of it.
    return race(seen$, attempt(1, firstPauseMs));
  });
}

/**
 * How long an AddOrder's own answer is waited for before what the feed told of the order is taken instead: an
 * answer normally comes in well under this, so a request is only dropped when it is already late.
 */
export const FEED_PLACED_AFTER_MS = 1_000;

/**
 * An AddOrder raced with the feed: when the answer is `FEED_PLACED_AFTER_MS` late and the feed has told of the
 * order by its client order id (an answer held past the client timeout would leave the order unadopted, its fill
 * unprotected, for the whole timeout), the order is taken as placed with the feed's txid and the request is
 * dropped. Without the monitor's feed, the AddOrder alone. The feed never makes it fail: a refusal or an
 * ambiguous answer is the AddOrder's.
 *
 * add:    ────────────(10 s: no answer)
 * feed:   ──o(c)                           o(c): the order's pending_new with our client id
 * result: ─────p|                          p: placed at 1 s, txid from the feed
 */
export function placedOrSeen(deps: LookupDeps, clientOrderId: string, placement$: Observable<PlacedOrder>): Observable<PlacedOrder> {
  if (!deps.monitor) return placement$;
  const monitor = deps.monitor;
  // Watched from the send (the feed is held, and hears the order, while the answer is awaited), taken once late.
  const seen$ = combineLatest([monitor.seenByClientOrderId(clientOrderId), timer(FEED_PLACED_AFTER_MS, deps.scheduler)]).pipe(
    take(1),
    map(([snapshot]): PlacedOrder => ({ txid: snapshot.txid, clientOrderId, description: 'seen on the feed before the AddOrder answer' })),
  );
  return race(placement$, seen$);
}
