import { type Observable, type SchedulerLike, asyncScheduler, concat, concatMap, defer, finalize, from, map, share, tap, throwError } from 'rxjs';
import { type ExchangeError } from '../model/errors';
import { type ExecutionEvent, type ExecutionFeed, type FeedCallGate, type FeedOrder, type FeedTrade, type QuoteEvent } from '../model/feed';
import { type CancelOutcome, type OrderRequest, type PlacedOrder } from '../model/order';
import { type PairBook } from '../model/pair';
import { type OrderRef } from '../model/port';
import { type LinkTracker } from '../time/link-tracker';
import { type ConnectionEvent, type WsBackoff, WsConnection } from './ws-connection';
import { type WsConnector, wsConnector } from './ws-socket';
import { addOrderFrame, cancelOrderFrame, subscribeExecutions, subscribeTicker } from './ws-wire';
import { WsTokenSource } from './ws-token';
import { WireFormatError, asString } from './wire-parse';
import { krakenError } from './errors';

/** Kraken's production endpoints (kraken-api.md §8.1). */
export const KRAKEN_WS_PUBLIC_URL = 'wss://ws.kraken.com/v2';
export const KRAKEN_WS_PRIVATE_URL = 'wss://ws-auth.kraken.com/v2';

export interface KrakenWsFeedOptions {
  /** The authenticated endpoint (`executions`, `add_order`, `cancel_order`); the paper exchange's `wsUrl`. */
  readonly privateUrl: string;
  /** The public endpoint (`ticker`); the paper exchange serves both on one URL. */
  readonly publicUrl: string;
  /**
   * A fresh GetWebSocketsToken token (the REST client's `getWebSocketsToken`). The feed sends it through the gate
   * a run installs (`guardCalls`: its rate gate and breaker), or straight through while none is.
   */
  readonly token: () => Observable<string>;
  /** Pair names both ways: `BTC/USD` on the wire, canonical keys to the streams. */
  readonly pairs: PairBook;
  /** Default: the `ws` package, reporting to `links`. */
  readonly connect?: WsConnector;
  /** An idle clock's `links` in end-to-end runs (for the default connector). */
  readonly links?: LinkTracker;
  /** Default 10 000 ms: Kraken sends a heartbeat every second, so ten silent seconds mean a stalled socket. */
  readonly watchdogMs?: number;
  /** Default 10 000 ms. */
  readonly requestTimeoutMs?: number;
  readonly backoff?: Partial<WsBackoff>;
  readonly random?: () => number;
  readonly scheduler?: SchedulerLike;
}

const DEFAULT_BACKOFF: WsBackoff = { initialDelayMs: 500, maxDelayMs: 30_000, multiplier: 2, jitter: 0.2 };

const noSuchPair = (endpoint: string, pair: string): ExchangeError =>
  krakenError({ kind: 'refused', codes: [`unknown pair ${pair}`], endpoint });

/** A malformed answer to a write: it may have happened, as for REST. */
const malformed = (endpoint: string, error: unknown): ExchangeError =>
  krakenError({
    kind: 'ambiguous',
    codes: [`an answer Kraken would not send (${error instanceof Error ? error.message : String(error)})`],
    endpoint,
  });

function executionEvents(event: ConnectionEvent): readonly ExecutionEvent[] {
  switch (event.kind) {
    case 'ready':
      return [{ kind: 'up', system: event.system }];
    case 'gap':
      return [event];
    case 'down':
      return [event];
    case 'inbound': {
      const message = event.message;
      if (message.type === 'status') return [{ kind: 'system', status: message.system }];
      if (message.type !== 'executions') return [];
      if (message.snapshot) {
        const orders = message.entries.flatMap((e) => (e.order && !e.trade ? [e.order] : []));
        const trades = message.entries.flatMap((e) => (e.trade ? [e.trade] : []));
        return [{ kind: 'snapshot', orders, trades }];
      }
      // A trade entry is the fill first, then the order's status after it.
      return message.entries.flatMap((e): ExecutionEvent[] => [
        ...(e.trade ? [{ kind: 'trade', trade: e.trade } satisfies { kind: 'trade'; trade: FeedTrade }] : []),
        ...(e.order ? [{ kind: 'order', order: e.order } satisfies { kind: 'order'; order: FeedOrder }] : []),
      ]);
    }
  }
}

function quoteEvents(event: ConnectionEvent): readonly QuoteEvent[] {
  switch (event.kind) {
    case 'ready':
      return [{ kind: 'up', system: event.system }];
    case 'down':
      return [event];
    case 'gap':
      return [];
    case 'inbound':
      if (event.message.type === 'status') return [{ kind: 'system', status: event.message.system }];
      return event.message.type === 'ticker' ? event.message.quotes.map((quote) => ({ kind: 'quote', quote }) as const) : [];
  }
}

/**
 * Kraken's WebSocket v2 as an `ExecutionFeed`: `executions` (with `snap_orders` and `snap_trades`) and the
 * trading methods on the authenticated endpoint, one `ticker` connection per set of pairs asked for (shared by every
 * `quotes` call for them) on the public one.
 */
export class KrakenWsFeed implements ExecutionFeed {
  private readonly privateConnection: WsConnection;
  private readonly privateEvents$: Observable<ExecutionEvent>;
  private readonly tokens: WsTokenSource;
  /** One shared ticker connection per set of symbols asked for. */
  private readonly tickers = new Map<string, Observable<QuoteEvent>>();

  constructor(private readonly options: KrakenWsFeedOptions) {
    this.tokens = new WsTokenSource(options.token);
    this.privateConnection = this.connection(options.privateUrl, true, () => []);
    this.privateEvents$ = this.privateConnection.events$.pipe(concatMap((event) => from(executionEvents(event))));
  }

  executions(): Observable<ExecutionEvent> {
    return this.privateEvents$;
  }

  /**
   * The `ticker` of `pairs`. Calls for the same pairs share one connection and one subscription (the take-profit
   * watches of several orders on one pair): the first subscriber opens it, the last one to leave closes it. A
   * subscriber that joins an open connection is told its state first (`up` or `down`, and the last quote of each
   * pair), then what follows.
   */
  quotes(pairs: readonly string[]): Observable<QuoteEvent> {
    return defer(() => {
      const symbols = pairs.map((pair) => this.options.pairs.find(pair)?.symbol);
      const unknown = pairs.find((_, i) => symbols[i] === undefined);
      if (unknown !== undefined) return throwError(() => noSuchPair('ticker', unknown));
      const wanted = [...new Set(symbols.filter((s): s is string => s !== undefined))].sort();
      const key = wanted.join(',');
      let ticker = this.tickers.get(key);
      if (!ticker) {
        ticker = this.sharedTicker(wanted);
        this.tickers.set(key, ticker);
      }
      return ticker;
    });
  }

  /** One ticker connection for `symbols`, shared by refCount; late subscribers get its current state first. */
  private sharedTicker(symbols: readonly string[]): Observable<QuoteEvent> {
    let health: QuoteEvent | null = null;
    const last = new Map<string, QuoteEvent>();
    const events$ = this.connection(this.options.publicUrl, false, () => symbols).events$.pipe(
      concatMap((event) => from(quoteEvents(event))),
      tap((event) => {
        if (event.kind === 'quote') last.set(event.quote.pair, event);
        else if (event.kind === 'up' || event.kind === 'down') {
          health = event;
          if (event.kind === 'down') last.clear();
        }
      }),
      finalize(() => {
        health = null;
        last.clear();
      }),
      share(),
    );
    // The state is read and told synchronously before joining: no frame can come in between.
    return defer(() => concat(from(health ? [health, ...last.values()] : []), events$));
  }

  /**
   * The authenticated socket is up and its `executions` subscription acknowledged (so its token is good):
   * `placeOrder` / `cancelOrder` asked for now go out on it. False while connecting, after a drop, and while
   * nobody subscribes to `executions()` (the socket is only open while someone listens).
   */
  get tradingUp(): boolean {
    return this.privateConnection.isLive;
  }

  /** Token calls through `gate` (the run's rate gate and circuit breaker) until the returned function is called. */
  guardCalls(gate: FeedCallGate): () => void {
    return this.tokens.guardCalls(gate);
  }

  /** `add_order` with the request's `cl_ord_id` and `deadline`; emits the placed order once. */
  placeOrder(request: OrderRequest): Observable<PlacedOrder> {
    return defer(() => {
      const symbol = this.options.pairs.find(request.pair)?.symbol;
      if (symbol === undefined) return throwError(() => noSuchPair('add_order', request.pair));
      return this.privateConnection
        .request('add_order', (token, reqId) => addOrderFrame(request, symbol, token ?? '', reqId))
        .pipe(
          map((result) => {
            let txid: string;
            try {
              txid = asString(result['order_id'], 'add_order result.order_id');
            } catch (error) {
              throw error instanceof WireFormatError ? malformed('add_order', error) : error;
            }
            if (txid === '' && request.validate !== true) {
              throw krakenError({ kind: 'ambiguous', codes: ['add_order answered without an order_id'], endpoint: 'add_order' });
            }
            return { txid, clientOrderId: request.clientOrderId, description: `${request.side} ${request.volume.toFixed()} ${symbol} @ ${request.orderType}` };
          }),
        );
    });
  }

  /** `cancel_order` for one order; Kraken answers per id, so one id means one answer. */
  cancelOrder(ref: OrderRef): Observable<CancelOutcome> {
    return this.privateConnection
      .request('cancel_order', (token, reqId) => cancelOrderFrame(ref, token ?? '', reqId))
      .pipe(map(() => ({ count: 1, pending: false })));
  }

  private connection(url: string, authenticated: boolean, symbols: () => readonly string[]): WsConnection {
    const options = this.options;
    return new WsConnection({
      url,
      connect: options.connect ?? wsConnector(options.links),
      ...(authenticated ? { token: this.tokens.token } : {}),
      subscriptions: (token, nextReqId) => {
        if (authenticated) {
          const reqId = nextReqId();
          return [{ reqId, text: subscribeExecutions(token ?? '', reqId), acks: 1 }];
        }
        const wanted = symbols();
        if (wanted.length === 0) return [];
        const reqId = nextReqId();
        return [{ reqId, text: subscribeTicker(wanted, reqId), acks: wanted.length }];
      },
      pairOf: (symbol) => options.pairs.find(symbol)?.key,
      watchdogMs: options.watchdogMs ?? 10_000,
      requestTimeoutMs: options.requestTimeoutMs ?? 10_000,
      backoff: { ...DEFAULT_BACKOFF, ...options.backoff },
      random: options.random ?? Math.random,
      scheduler: options.scheduler ?? asyncScheduler,
    });
  }
}

/** The Kraken WebSocket v2 feed. */
export const createKrakenWsFeed = (options: KrakenWsFeedOptions): ExecutionFeed => new KrakenWsFeed(options);

