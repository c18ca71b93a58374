import {
  EMPTY,
  NEVER,
  Observable,
  type Subscriber,
  Subject,
  type Subscription,
  catchError,
  concatMap,
  defer,
  finalize,
  from,
  map,
  race,
  reduce,
  repeat,
  take,
  timer,
} from 'rxjs';
import { type ExecutionEvent } from '../model/feed';
import { type OrderSnapshot } from '../model/order';
import { type ExchangeDeps } from './deps';
import { exchangeCall } from './exchange-call';
import {
  DEFAULT_AUDIT_INTERVAL_MS,
  type FeedKnowledge,
  absorbOrder,
  absorbTrade,
  activeFeed,
  feedReading,
  mergeForward,
  statusRank,
} from './order-merge';

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
  /**
   * Resolve this order with QueryOrders on the next tick even if it looks open or too young (e.g. after a cancel);
   * while the feed is up, at once (the next tick is an audit away).
   */
  lookNow(txid: string): void;
  /**
   * The order with this client order id as the feed told it (an ambiguous placement that was in fact placed
   * shows on the executions channel with its `cl_ord_id`): emits once the feed has heard enough to describe it
   * (at once when it already has), then completes. While subscribed the feed is kept subscribed, even with
   * nothing tracked. Never emits without a feed, and its silence proves nothing: absence is REST's to prove.
   *
   * feed:   ──o(c)──────       o(c): an event of the order with client id c (pending_new, a fill, the snapshot)
   * seen(c): ─s|                s: its snapshot
   */
  seenByClientOrderId(clientOrderId: string): Observable<OrderSnapshot>;
  /** The feed is subscribed and its snapshot is in (REST is at the audit pace). */
  readonly feedUp: boolean;
  /** Orders tracked now. */
  readonly trackedCount: number;
  /** Ends the feed subscription now rather than `FEED_LINGER_MS` after the last order stopped being tracked. */
  dispose(): void;
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
  /** Everything known of the order, merged forward from both sources: what followers are told. */
  known: OrderSnapshot | null;
}

/** How long the feed stays subscribed once nothing is tracked. */
export const FEED_LINGER_MS = 30_000;

/** How many orders' feed events are remembered (an order's events can come before it is tracked). */
const FEED_MEMORY = 5_000;

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
 * With a push feed (`deps.feed`, unless `config.feed.mode` is `rest`) the feed is subscribed along with the loop
 * and both sources are merged per order, forward only (`mergeForward`: pending < open < final, the largest
 * executed volume): a late REST snapshot never rolls back what the feed reported, and a fill is told once
 * whichever source saw it first (distinct trade ids, cumulative volume). A feed event for a followed order is
 * told at once; REST is the safety net:
 *
 * feed:      ──u─S────o──t──────g────────d──────────u─S──   (S snapshot, o order, t fill, g gap, d down)
 * REST:      ─T─────Q───────────Q──────────T──T──T──────Q   T OpenOrders, Q one batched QueryOrders
 * track(a):  ────────────s──s─────────────────────────────  (told on the feed event, not at the next tick)
 *
 * - while the feed is up (its snapshot in), OpenOrders drops to an audit every `config.feed.auditIntervalMs`
 *   (default 60 s);
 * - each snapshot is a resync point: tracked orders it does not list (and not known final) are resolved with
 *   one batched QueryOrders at once; a sequence gap resolves every tracked order the same way, and so does a
 *   final status heard without its cumulative figures (a fill could be missing);
 * - once the feed is down, the pause is today's again (the wait is cut short).
 * Feed events of orders not tracked yet are remembered (the last 5000 orders) while the feed is subscribed
 * (from the first order tracked until `FEED_LINGER_MS` after the last, or `dispose()`): an order's first events
 * often come before its AddOrder answer.
 *
 * @param deps The run's exchange access, budget and config.
 * @returns The monitor.
 */
export function createOrderMonitor(deps: ExchangeDeps): OrderMonitor {
  const { config, port, scheduler, log } = deps;
  const feed = activeFeed(config, deps.feed);
  if (config.feed?.mode === 'websocket' && !deps.feed) log.warn('order monitor: feed.mode is websocket but no feed was given; polling REST');
  const auditIntervalMs = config.feed?.auditIntervalMs ?? DEFAULT_AUDIT_INTERVAL_MS;
  const tracked = new Map<string, TrackedOrder>();
  let lastGoneCount = 0;
  /** The feed is subscribed and its snapshot is in: REST drops to the audit pace. */
  let feedUp = false;
  /** What the feed told, per txid (tracked or not yet), while it is subscribed. */
  const heard = new Map<string, FeedKnowledge>();
  /** The txid of each client order id the feed told of (the same orders as `heard`). */
  const txidOfClientId = new Map<string, string>();
  /** Lookups waiting for the feed to tell of a client order id (`seenByClientOrderId`). */
  const watchers = new Map<string, Set<Subscriber<OrderSnapshot>>>();
  /** Orders to resolve with QueryOrders at once (resync point, gap, a final heard without its figures). */
  const resync = new Set<string>();
  let resyncFailed = false;
  /** Cuts the poll's pause short: a resync to run, or the feed went down (the pace changes). */
  const wake = new Subject<void>();

  const nextPauseMs = (): number => {
    const { minIntervalMs, maxIntervalMs } = config.monitor;
    const floor = feedUp ? auditIntervalMs : minIntervalMs;
    const ceiling = Math.max(floor, maxIntervalMs);
    const batches = Math.ceil(lastGoneCount / QUERY_BATCH_SIZE);
    const rest =
      deps.costs({ kind: 'openOrders' }).rest + batches * deps.costs({ kind: 'queryOrders' }).rest + deps.tuning.monitorReserveUnits;
    const wait = deps.budget.waitMs({ rest }, scheduler.now());
    const pause = Number.isFinite(wait) ? Math.max(floor, Math.ceil(wait)) : ceiling;
    return Math.min(ceiling, pause);
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
          // While the feed is up the next tick is an audit away: ask again at the monitor's pace instead.
          if (order && feedUp) resync.add(txid);
        }
        resyncFailed = resync.size > 0;
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

  /** One batched QueryOrders (50 a call) for the orders a resync point or a gap left in doubt. */
  const resyncNow = (): Observable<ReadonlyMap<string, OrderSnapshot>> =>
    defer(() => {
      const txids = [...resync].filter((txid) => tracked.has(txid));
      resync.clear();
      resyncFailed = false;
      return from(chunk(txids, QUERY_BATCH_SIZE)).pipe(
        concatMap(query),
        reduce((all: Map<string, OrderSnapshot>, found) => {
          for (const [txid, snapshot] of found) if (tracked.has(txid)) all.set(txid, snapshot);
          return all;
        }, new Map<string, OrderSnapshot>()),
      );
    });

  /**
   * The REST loop: a tick after each pause, the pause raced with `wake`. A wake runs a resync if one is due,
   * else only starts a fresh pause (at the pace the feed's state now calls for).
   */
  const snapshots$ = defer(() => {
    if (resync.size > 0) return timer(resyncFailed ? config.monitor.minIntervalMs : 0, scheduler).pipe(map(() => true));
    return race(timer(nextPauseMs(), scheduler).pipe(map(() => false)), wake.pipe(take(1), map(() => true)));
  }).pipe(
    concatMap((woken) => (resync.size > 0 ? resyncNow() : woken ? EMPTY : tick())),
    repeat(),
  );

  /** Tells each follower of `order` what is known of it now, if it is news to them. */
  const deliver = (order: TrackedOrder): void => {
    const known = order.known;
    if (known === null) return;
    // One follower is the rule; a copy only when a follower that reaches its final state (it unsubscribes and
    // leaves the list while being told) could make the loop skip another.
    const followers = order.followers.length === 1 ? order.followers : [...order.followers];
    for (const follower of followers) {
      if (!isNews(follower.delivered, known)) continue;
      follower.delivered = known;
      follower.subscriber.next(known);
    }
  };

  /** Merges each REST snapshot into what is known of its order, and tells the followers what moved forward. */
  const route = (snapshots: ReadonlyMap<string, OrderSnapshot>): void => {
    for (const [txid, snapshot] of snapshots) {
      const order = tracked.get(txid);
      if (!order) continue;
      order.known = mergeForward(order.known, snapshot);
      deliver(order);
    }
  };

  const askRest = (txid: string): void => {
    resync.add(txid);
    wake.next();
  };

  /** What the feed now knows of a tracked order, merged in and delivered at once. */
  const fromFeed = (txid: string): void => {
    const order = tracked.get(txid);
    const knowledge = heard.get(txid);
    if (!order || !knowledge) return;
    const reading = feedReading(knowledge, order.known);
    // Too little to describe it (only a fill, or a sparse event before anything else): REST tells.
    if (reading.kind === 'unknown') return askRest(txid);
    if (reading.lookUp) askRest(txid);
    if (statusRank(reading.snapshot.status) === 1) order.seenOpen = true;
    order.known = mergeForward(order.known, reading.snapshot);
    deliver(order);
  };

  /** Tells the lookups waiting for this order's client id, once the feed can describe it. */
  const tellWatchers = (knowledge: FeedKnowledge): void => {
    const waiting = knowledge.clientOrderId === null ? undefined : watchers.get(knowledge.clientOrderId);
    if (!waiting || knowledge.clientOrderId === null) return;
    const reading = feedReading(knowledge, tracked.get(knowledge.txid)?.known ?? null);
    if (reading.kind === 'unknown') return;
    watchers.delete(knowledge.clientOrderId);
    for (const subscriber of waiting) {
      subscriber.next(reading.snapshot);
      subscriber.complete();
    }
  };

  const remember = (knowledge: FeedKnowledge): void => {
    heard.delete(knowledge.txid);
    heard.set(knowledge.txid, knowledge);
    if (knowledge.clientOrderId !== null) txidOfClientId.set(knowledge.clientOrderId, knowledge.txid);
    if (heard.size > FEED_MEMORY) {
      const oldest = heard.keys().next();
      if (!oldest.done) {
        const forgotten = heard.get(oldest.value)?.clientOrderId;
        heard.delete(oldest.value);
        if (forgotten != null && txidOfClientId.get(forgotten) === oldest.value) txidOfClientId.delete(forgotten);
      }
    }
    tellWatchers(knowledge);
  };

  /** Orders tracked whose final state is not known yet. */
  const inDoubt = (except: ReadonlySet<string>): string[] =>
    [...tracked].filter(([txid, order]) => !except.has(txid) && (order.known === null || statusRank(order.known.status) < 2)).map(([txid]) => txid);

  const onFeed = (event: ExecutionEvent): void => {
    switch (event.kind) {
      case 'snapshot': {
        // A resync point: every open order is listed; a tracked order that is not may have filled or been
        // cancelled while the feed was away, and is asked for once, in one batched QueryOrders.
        for (const order of event.orders) remember(absorbOrder(heard.get(order.txid), order));
        for (const trade of event.trades) remember(absorbTrade(heard.get(trade.txid), trade).knowledge);
        feedUp = true;
        const listed = new Set(event.orders.map((order) => order.txid));
        for (const txid of [...tracked.keys()]) fromFeed(txid);
        for (const txid of inDoubt(listed)) resync.add(txid);
        // Also when nothing is in doubt: the pause under way was timed for polling, the audit pace starts now.
        wake.next();
        return;
      }
      case 'order':
        remember(absorbOrder(heard.get(event.order.txid), event.order));
        return fromFeed(event.order.txid);
      case 'trade': {
        const { knowledge, fresh } = absorbTrade(heard.get(event.trade.txid), event.trade);
        if (!fresh) return;
        remember(knowledge);
        return fromFeed(event.trade.txid);
      }
      case 'gap':
        // Events were lost: any tracked order may have moved meanwhile.
        log.warn(`order monitor: feed sequence gap (expected ${event.expected}, got ${event.received}); resyncing with QueryOrders`);
        for (const txid of inDoubt(new Set())) resync.add(txid);
        if (resync.size > 0) wake.next();
        return;
      case 'down':
        log.warn(`order monitor: feed down (${event.reason}${event.terminal ? ', for good' : ''}); polling REST`);
        feedUp = false;
        wake.next();
        return;
      case 'up':
      case 'system':
        return;
    }
  };

  /** The feed while orders are tracked; a failure of it leaves REST polling at its own pace. */
  const feed$ = (): Observable<ExecutionEvent> =>
    feed
      ? feed.executions().pipe(
          catchError((error: unknown) => {
            log.warn('order monitor: the feed failed; polling REST:', String(error));
            return EMPTY;
          }),
          finalize(() => {
            feedUp = false;
            heard.clear();
            txidOfClientId.clear();
          }),
        )
      : EMPTY;

  // The loop as refCount would run it: subscribed with the first tracked order, ended with the last; the
  // routing is one subscriber, not one per order, so an unchanged order costs one Map lookup per tick.
  let loop: Subscription | null = null;
  // The feed outlives the loop by FEED_LINGER_MS (an entry's final state and its stop being tracked are a
  // moment apart: no new socket, token and snapshot in between), or until `dispose()`.
  let feedSubscription: Subscription | null = null;
  let lingering: Subscription | null = null;

  const endFeed = (): void => {
    lingering?.unsubscribe();
    lingering = null;
    const ending = feedSubscription;
    feedSubscription = null;
    ending?.unsubscribe();
  };

  /** The feed subscribed (and no longer lingering towards its end): someone follows an order or waits for one. */
  const holdFeed = (): void => {
    lingering?.unsubscribe();
    lingering = null;
    if (feed && !feedSubscription) feedSubscription = feed$().subscribe(onFeed);
  };

  /** Nobody follows an order or waits for one: the feed ends `FEED_LINGER_MS` from now unless someone comes. */
  const releaseFeed = (): void => {
    if (tracked.size === 0 && watchers.size === 0 && feedSubscription && !lingering) lingering = scheduler.schedule(endFeed, FEED_LINGER_MS);
  };

  const register = (txid: string, follower: Follower): void => {
    const order = tracked.get(txid);
    if (order) order.followers.push(follower);
    else tracked.set(txid, { since: scheduler.now(), followers: [follower], seenOpen: false, lookNow: false, known: null });
    holdFeed();
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
    // Its events came before it was tracked (the feed is often faster than the AddOrder answer): told as soon
    // as the subscriber is in place, not inside its subscribe call.
    if (heard.has(txid)) loop.add(scheduler.schedule(() => fromFeed(txid)));
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
      releaseFeed();
    }
  };

  const seenByClientOrderId = (clientOrderId: string): Observable<OrderSnapshot> =>
    feed
      ? new Observable<OrderSnapshot>((subscriber) => {
          const waiting = watchers.get(clientOrderId) ?? new Set<Subscriber<OrderSnapshot>>();
          watchers.set(clientOrderId, waiting);
          waiting.add(subscriber);
          holdFeed();
          // Already heard of (its events often come before the AddOrder answer is given up on): told at once.
          const txid = txidOfClientId.get(clientOrderId);
          const knowledge = txid === undefined ? undefined : heard.get(txid);
          if (knowledge) tellWatchers(knowledge);
          return () => {
            const still = watchers.get(clientOrderId);
            still?.delete(subscriber);
            if (still?.size === 0) watchers.delete(clientOrderId);
            releaseFeed();
          };
        })
      : NEVER;

  return {
    track: (txid) =>
      new Observable<OrderSnapshot>((subscriber) => {
        const follower: Follower = { subscriber, delivered: null };
        register(txid, follower);
        return () => unregister(txid, follower);
      }),
    lookNow: (txid) => {
      const order = tracked.get(txid);
      if (!order) return;
      order.lookNow = true;
      // While the feed is up the next tick is an audit away: asked for at once instead.
      if (feedUp) askRest(txid);
    },
    seenByClientOrderId,
    get feedUp() {
      return feedUp;
    },
    get trackedCount() {
      return tracked.size;
    },
    dispose: endFeed,
  };
}
