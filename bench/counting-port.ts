import { performance } from 'node:perf_hooks';
import { EMPTY, type Observable, Subject, concat, defer, finalize, ignoreElements } from 'rxjs';
import {
  type CancelOutcome,
  type OrderRequest,
  type OrderSnapshot,
  type PlacedOrder,
  type Quote,
} from '../src/model/order';
import { type PairBook } from '../src/model/pair';
import { type ExchangePort, type OrderRef } from '../src/model/port';
import { type PaperExchange } from '../src/paper';

/** The monitoring calls of one tick. */
export interface MonitoringCalls {
  readonly openOrders: number;
  readonly queryOrders: number;
}

/** What one monitoring tick cost, counted by the paper exchange (server) and by this port (client). */
export interface TickCost {
  /** 1-based. */
  readonly tick: number;
  /** Orders followed when the tick began. */
  readonly following: number;
  readonly server: MonitoringCalls;
  readonly client: MonitoringCalls;
  /** Loopback time from the tick's first call to the end of its last. */
  readonly busyMs: number;
}

interface OpenTick {
  readonly tick: number;
  readonly following: number;
  readonly serverAtStart: MonitoringCalls;
  readonly startedAt: number;
  lastCallEndedAt: number;
  client: { openOrders: number; queryOrders: number };
}

/**
 * An `ExchangePort` that passes every call through and splits the monitoring calls (OpenOrders, QueryOrders)
 * into ticks, reading the paper exchange's own request counters at each tick boundary: the server's count is
 * the truth, the client's count is the cross-check.
 *
 * A tick begins at `tickBoundary()`; with `boundaryAtOpenOrders` every OpenOrders call is one (the shared
 * monitor makes exactly one per tick), otherwise the poller under test calls `tickBoundary()` itself. A change
 * to the market scheduled for tick k (`beforeTick`) runs at that boundary, before the tick's first call, so
 * it falls cleanly between two ticks however the poller paces itself.
 */
export class CountingPort implements ExchangePort {
  private readonly closed: TickCost[] = [];
  private current: OpenTick | null = null;
  private readonly changes = new Map<number, () => Observable<unknown>>();
  private readonly started = new Subject<number>();
  /** Emits the number of each tick as it begins (the ticks before it are then complete). */
  readonly tickStarted$: Observable<number> = this.started.asObservable();
  /** How many orders the poller under test follows right now. */
  following: () => number = () => 0;

  constructor(
    private readonly inner: ExchangePort,
    private readonly paper: PaperExchange,
    private readonly boundaryAtOpenOrders: boolean,
  ) {}

  /** Runs `change` at the boundary before tick `tick`. */
  beforeTick(tick: number, change: () => Observable<unknown>): void {
    this.changes.set(tick, change);
  }

  /** Closes the running tick (when the poller stopped by itself: every order it followed has left). */
  finish(): void {
    if (this.current) this.begin(this.current.tick + 1, 0);
  }

  /** The ticks completed so far. */
  ticks(): readonly TickCost[] {
    return [...this.closed];
  }

  /**
   * Closes the running tick and begins the next one (after the change scheduled for it, if any).
   * @param following Orders followed in the new tick; by default `this.following()` when it begins.
   */
  tickBoundary(following?: number): Observable<never> {
    return defer(() => {
      const next = (this.current?.tick ?? 0) + 1;
      const change = this.changes.get(next);
      this.changes.delete(next);
      return concat(
        change ? change() : EMPTY,
        defer(() => {
          this.begin(next, following ?? this.following());
          return EMPTY;
        }),
      ).pipe(ignoreElements());
    });
  }

  openOrders(filter?: { readonly clientOrderId?: string }): Observable<ReadonlyMap<string, OrderSnapshot>> {
    const call$ = this.counted('openOrders', () => this.inner.openOrders(filter));
    return this.boundaryAtOpenOrders ? concat(this.tickBoundary(), call$) : call$;
  }

  queryOrders(txids: readonly string[]): Observable<ReadonlyMap<string, OrderSnapshot>> {
    return this.counted('queryOrders', () => this.inner.queryOrders(txids));
  }

  placeOrder(request: OrderRequest): Observable<PlacedOrder> {
    return this.inner.placeOrder(request);
  }

  cancelOrder(ref: OrderRef): Observable<CancelOutcome> {
    return this.inner.cancelOrder(ref);
  }

  closedOrders(filter?: { readonly clientOrderId?: string }): Observable<ReadonlyMap<string, OrderSnapshot>> {
    return this.inner.closedOrders(filter);
  }

  ticker(pairs: readonly string[]): Observable<ReadonlyMap<string, Quote>> {
    return this.inner.ticker(pairs);
  }

  pairs(): Observable<PairBook> {
    return this.inner.pairs();
  }

  private serverCalls(): MonitoringCalls {
    return {
      openOrders: this.paper.inspect.requestCount('OpenOrders'),
      queryOrders: this.paper.inspect.requestCount('QueryOrders'),
    };
  }

  private begin(tick: number, following: number): void {
    const now = performance.now();
    const server = this.serverCalls();
    const previous = this.current;
    if (previous) {
      this.closed.push({
        tick: previous.tick,
        following: previous.following,
        server: {
          openOrders: server.openOrders - previous.serverAtStart.openOrders,
          queryOrders: server.queryOrders - previous.serverAtStart.queryOrders,
        },
        client: { ...previous.client },
        busyMs: Math.max(0, previous.lastCallEndedAt - previous.startedAt),
      });
    }
    this.current = { tick, following, serverAtStart: server, startedAt: now, lastCallEndedAt: now, client: { openOrders: 0, queryOrders: 0 } };
    this.started.next(tick);
  }

  private counted<T>(kind: keyof MonitoringCalls, call: () => Observable<T>): Observable<T> {
    return defer(() => {
      const tick = this.current;
      if (tick) tick.client[kind] += 1;
      return call().pipe(
        finalize(() => {
          if (tick) tick.lastCallEndedAt = performance.now();
        }),
      );
    });
  }
}
