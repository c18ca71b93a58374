import {
  EMPTY,
  type Observable,
  type SchedulerLike,
  catchError,
  concat,
  concatMap,
  defer,
  filter,
  finalize,
  from,
  map,
  merge,
  of,
  repeat,
  scan,
  share,
  switchMap,
  take,
  tap,
  throwError,
  throwIfEmpty,
  timeout,
  timer,
} from 'rxjs';
import { ExchangeError } from '../model/errors';
import { type FeedDownReason } from '../model/feed';
import { backoffDelay } from '../operators/retry-backoff';
import { classifyKrakenCode, classifyKrakenErrors, classifyTransportFailure } from './errors';
import { type SocketEvent, type WsConnector } from './ws-socket';
import { type PairOfSymbol, type WsInbound, parseWsFrame } from './ws-parse';
import { WireFormatError, type WireRecord } from './wire-parse';

/** Reconnect delays: exponential from `initialDelayMs`, capped, jittered by `jitter` (0..1) of each delay. */
export interface WsBackoff {
  readonly initialDelayMs: number;
  readonly maxDelayMs: number;
  readonly multiplier: number;
  readonly jitter: number;
}

/** One subscribe frame for a new connection, and how many acknowledgements it gets (`ticker`: one per symbol). */
export interface WsSubscription {
  readonly reqId: number;
  readonly text: string;
  readonly acks: number;
}

export interface WsConnectionOptions {
  readonly url: string;
  readonly connect: WsConnector;
  /** A fresh token for each connection (private connections only). */
  readonly token?: () => Observable<string>;
  /** The subscribe frames for a new connection, given its token (`null` on a public connection). */
  readonly subscriptions: (token: string | null, nextReqId: () => number) => readonly WsSubscription[];
  readonly pairOf: PairOfSymbol;
  /** No frame at all (heartbeats included) for this long: the socket is stalled and is replaced. */
  readonly watchdogMs: number;
  /** An `add_order` / `cancel_order` not answered in this long is ambiguous. */
  readonly requestTimeoutMs: number;
  readonly backoff: WsBackoff;
  /** [0, 1), for the jitter. */
  readonly random: () => number;
  /** Every timer of the connection (watchdog, backoff, request timeout) runs on it. */
  readonly scheduler: SchedulerLike;
}

/** A connection that is up and subscribed: requests go out on it. */
export interface WsLink {
  /** Counts connections: an answer belongs to the link its request went out on. */
  readonly id: number;
  readonly token: string | null;
  send(text: string): void;
}

export type ConnectionEvent =
  | { readonly kind: 'ready'; readonly link: WsLink; readonly system: string | null }
  | { readonly kind: 'inbound'; readonly linkId: number; readonly message: WsInbound }
  | { readonly kind: 'gap'; readonly expected: number; readonly received: number }
  | { readonly kind: 'down'; readonly reason: FeedDownReason; readonly terminal: boolean; readonly detail: string };

/** Why a connection ended, as an error inside the pipeline (turned into a `down` event by the reconnect loop). */
class ConnectionLost extends Error {
  constructor(
    readonly reason: FeedDownReason,
    readonly terminal: boolean,
    detail: string,
  ) {
    super(detail);
    this.name = 'ConnectionLost';
  }
}

/** Kraken's policy-violation close: a client must not reconnect (kraken-api.md §8.1). */
export const TERMINAL_CLOSE_CODE = 1008;

interface Fold {
  readonly link: WsLink | null;
  /** Acknowledgements still awaited, by req_id. */
  readonly acksLeft: ReadonlyMap<number, number>;
  readonly ready: boolean;
  readonly system: string | null;
  /** The last `executions` sequence number seen on this connection. */
  readonly sequence: number | null;
}

interface Step {
  readonly fold: Fold;
  readonly out: readonly ConnectionEvent[];
  readonly sends: readonly string[];
}

const START: Step = {
  fold: { link: null, acksLeft: new Map(), ready: false, system: null, sequence: null },
  out: [],
  sends: [],
};

/** What one attempt knows before its socket opens. */
interface Attempt {
  readonly linkId: number;
  readonly token: string | null;
  readonly options: WsConnectionOptions;
  readonly nextReqId: () => number;
}

/**
 * One socket event's effect on the connection: the next fold, the events to emit and the frames to send.
 * Throws `ConnectionLost` when the connection is over (closed, a refused subscription, a frame that is not Kraken's).
 */
function advance(step: Step, event: SocketEvent, attempt: Attempt): Step {
  const fold = step.fold;
  switch (event.type) {
    case 'open': {
      const link: WsLink = { id: attempt.linkId, token: attempt.token, send: event.send };
      const subscriptions = attempt.options.subscriptions(attempt.token, attempt.nextReqId);
      const acksLeft = new Map(subscriptions.filter((s) => s.acks > 0).map((s) => [s.reqId, s.acks] as const));
      const ready = acksLeft.size === 0;
      return {
        fold: { ...fold, link, acksLeft, ready },
        out: ready ? [{ kind: 'ready', link, system: fold.system }] : [],
        sends: subscriptions.map((s) => s.text),
      };
    }
    case 'closed':
      throw new ConnectionLost(
        event.code === TERMINAL_CLOSE_CODE ? 'refused' : 'closed',
        event.code === TERMINAL_CLOSE_CODE,
        `closed by the server (${event.code}${event.reason ? ` ${event.reason}` : ''})`,
      );
    case 'message':
      return onFrame(fold, event.text, attempt);
  }
}

function onFrame(fold: Fold, text: string, attempt: Attempt): Step {
  let message: WsInbound;
  try {
    message = parseWsFrame(text, attempt.options.pairOf);
  } catch (error) {
    // A frame we cannot read may have been a fill: drop the connection, and the new snapshot resyncs.
    if (error instanceof WireFormatError) throw new ConnectionLost('error', false, `a frame Kraken would not send (${error.message})`);
    throw error;
  }
  const link = fold.link;
  if (!link) throw new ConnectionLost('error', false, 'a frame before the connection opened');
  const inbound: ConnectionEvent = { kind: 'inbound', linkId: link.id, message };
  switch (message.type) {
    case 'status':
      return { fold: { ...fold, system: message.system }, out: fold.ready ? [inbound] : [], sends: [] };
    case 'response': {
      const reqId = message.response.reqId;
      const left = reqId === null ? undefined : fold.acksLeft.get(reqId);
      if (left === undefined || reqId === null) return { fold, out: [inbound], sends: [] };
      const outcome = message.response.outcome;
      if (!outcome.success) {
        // A refused token is worth a fresh one; a key without the permission is not.
        const auth = classifyKrakenCode(outcome.error, 'read').kind === 'auth';
        throw new ConnectionLost('refused', auth, `subscription refused (${outcome.error})`);
      }
      const acksLeft = new Map(fold.acksLeft);
      if (left > 1) acksLeft.set(reqId, left - 1);
      else acksLeft.delete(reqId);
      const ready = !fold.ready && acksLeft.size === 0;
      return {
        fold: { ...fold, acksLeft, ready: fold.ready || ready },
        out: ready ? [{ kind: 'ready', link, system: fold.system }] : [],
        sends: [],
      };
    }
    case 'executions': {
      const gap =
        fold.sequence !== null && message.sequence !== fold.sequence + 1
          ? [{ kind: 'gap', expected: fold.sequence + 1, received: message.sequence } as const]
          : [];
      return { fold: { ...fold, sequence: message.sequence }, out: [...gap, inbound], sends: [] };
    }
    case 'heartbeat':
    case 'pong':
    case 'other':
      return { fold, out: [], sends: [] };
    case 'ticker':
      return { fold, out: [inbound], sends: [] };
  }
}

/** Reconnect bookkeeping of one subscription to the connection: failures in a row since the last `ready`. */
class ReconnectCount {
  private failures = 0;
  terminal = false;

  constructor(private readonly options: WsConnectionOptions) {}

  ready(): void {
    this.failures = 0;
  }

  failed(terminal: boolean): void {
    this.failures += 1;
    this.terminal = terminal;
  }

  delayMs(): number {
    return backoffDelay(
      { ...this.options.backoff, maxAttempts: Number.POSITIVE_INFINITY, random: this.options.random, shouldRetry: () => true },
      this.failures,
    );
  }
}

const lostOf = (error: unknown): ConnectionLost => {
  if (error instanceof ConnectionLost) return error;
  if (error instanceof ExchangeError) {
    // The token call failed (its message never carries the token or the key).
    return new ConnectionLost(error.kind === 'auth' ? 'refused' : 'error', error.kind === 'auth', `no token (${error.message})`);
  }
  return new ConnectionLost('error', false, error instanceof Error ? error.message : String(error));
};

/**
 * One Kraken WebSocket v2 endpoint, kept connected: a fresh token per connection, the subscriptions sent on
 * open, a watchdog, reconnects with backoff and jitter, 1008 as the end, sequence numbers checked, and requests
 * correlated with their answers by `req_id`.
 *
 * socket:  o-s-a-x-h-h-------!                (open, status, ack, executions, heartbeats, silence: closed here)
 *   events$ (watchdogMs = 7 frames)
 * events:  -----R-I---------D-(backoff)-R…    (ready on the ack, inbound, down: stalled, then a new connection)
 *
 * `events$` is shared: the first subscriber connects, the last one to leave closes the socket. It completes
 * after a terminal `down` (a 1008 close, a key without permission) and never errors.
 */
export class WsConnection {
  readonly events$: Observable<ConnectionEvent>;
  private linkCount = 0;
  private reqIdCount = 0;
  /** The link requests go out on: set on `ready`, cleared on `down` and when the last subscriber leaves. */
  private live: WsLink | null = null;

  /** A link is up and subscribed: a request asked for now goes out on it (it may still drop before the answer). */
  get isLive(): boolean {
    return this.live !== null;
  }

  constructor(private readonly options: WsConnectionOptions) {
    this.events$ = defer(() => {
      const reconnects = new ReconnectCount(options);
      return defer(() => this.attempt()).pipe(
        catchError((error: unknown) => {
          const lost = lostOf(error);
          reconnects.failed(lost.terminal);
          return of<ConnectionEvent>({ kind: 'down', reason: lost.reason, terminal: lost.terminal, detail: lost.message });
        }),
        tap((event) => {
          if (event.kind === 'ready') {
            reconnects.ready();
            this.live = event.link;
          } else if (event.kind === 'down') {
            this.live = null;
          }
        }),
        repeat({ delay: () => (reconnects.terminal ? EMPTY : timer(reconnects.delayMs(), options.scheduler)) }),
      );
    }).pipe(
      finalize(() => {
        this.live = null;
      }),
      share(),
    );
  }

  /**
   * Sends one request on the live link and emits its `result`. Errors with an `ExchangeError`: `retryable` when
   * nothing was sent (no live link), Kraken's classification of its `error` string, and `ambiguous` (for a write)
   * when the link went down or `requestTimeoutMs` passed before the answer.
   *
   * @param method Kraken's method name (`add_order`), for the classification and the error's endpoint
   * @param frameOf the request's text for the link's token and the request's req_id
   */
  request(method: string, frameOf: (token: string | null, reqId: number) => string): Observable<WireRecord> {
    return defer(() => {
      const link = this.live;
      if (!link) return throwError(() => classifyTransportFailure({ type: 'connect', code: 'WEBSOCKET_DOWN' }, method));
      const reqId = ++this.reqIdCount;
      const text = frameOf(link.token, reqId);
      const lost = (): ExchangeError => classifyTransportFailure({ type: 'network', code: 'WEBSOCKET_CLOSED' }, method);
      const answer$ = this.events$.pipe(
        filter(
          (event) =>
            event.kind === 'down' ||
            (event.kind === 'inbound' && event.linkId === link.id && event.message.type === 'response' && event.message.response.reqId === reqId),
        ),
        take(1),
        map((event) => {
          if (event.kind !== 'inbound' || event.message.type !== 'response') throw lost();
          const outcome = event.message.response.outcome;
          if (!outcome.success) throw classifyKrakenErrors([outcome.error], method);
          return outcome.result;
        }),
        throwIfEmpty(lost),
        timeout({
          first: this.options.requestTimeoutMs,
          scheduler: this.options.scheduler,
          with: () => throwError(() => classifyTransportFailure({ type: 'timeout', afterMs: this.options.requestTimeoutMs }, method)),
        }),
      );
      // Listening before sending: the answer cannot come before the subscription that waits for it.
      return merge(
        answer$,
        defer(() => {
          link.send(text);
          return EMPTY;
        }),
      );
    });
  }

  private attempt(): Observable<ConnectionEvent> {
    const options = this.options;
    const token$: Observable<string | null> = options.token
      ? options.token().pipe(
          take(1),
          throwIfEmpty(() => new ConnectionLost('error', false, 'no token (the token call completed without one)')),
        )
      : of(null);
    return token$.pipe(
      switchMap((token: string | null) => {
        const attempt: Attempt = { linkId: ++this.linkCount, token, options, nextReqId: () => ++this.reqIdCount };
        return options.connect(options.url).pipe(
          timeout({
            each: options.watchdogMs,
            scheduler: options.scheduler,
            with: () => throwError(() => new ConnectionLost('stalled', false, `no frame for ${options.watchdogMs} ms`)),
          }),
          scan((step: Step, event: SocketEvent) => advance(step, event, attempt), START),
          // Events out before frames out: an answer that arrives at once is handled after what led to it.
          concatMap((step) =>
            concat(
              from(step.out),
              defer(() => {
                for (const text of step.sends) step.fold.link?.send(text);
                return EMPTY;
              }),
            ),
          ),
        );
      }),
    );
  }
}
