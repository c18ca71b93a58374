import crossFetch from 'cross-fetch';
import { type Observable, defer, finalize, tap } from 'rxjs';
import { Credentials } from '../src/kraken/credentials';
import { type KrakenExchange, createKrakenExchange } from '../src/kraken/exchange';
import { NonceSource } from '../src/kraken/nonce';
import { PrivateLane } from '../src/kraken/private-lane';
import { type FetchLike, type FetchResponseLike } from '../src/kraken/transport';
import { type ExchangePort } from '../src/model/port';
import { type PaperExchange } from '../src/paper';
import { type IdleClock } from '../src/time/idle-clock';

/** One HTTP request as the client sent it, in clock (exchange) ms. */
export interface WireCall {
  readonly method: string;
  /** The request's `cl_ord_id`, when it named one (an AddOrder, a lookup by client id). */
  readonly clOrdId: string | undefined;
  readonly sentAt: number;
  answeredAt: number | undefined;
  /** HTTP status, or the failure's name (`AbortError` when the client's timeout gave up on it). */
  outcome: string | undefined;
}

/** One call on the exchange port, from the handler subscribing to it to its end, in clock ms. */
export interface PortCall {
  readonly method: 'placeOrder' | 'openOrders' | 'closedOrders' | 'queryOrders' | 'cancelOrder';
  readonly clOrdId: string | undefined;
  readonly subscribedAt: number;
  endedAt: number | undefined;
  /** `ok`, the error's kind (`ExchangeError.kind`) or its name, or `unsubscribed`. */
  outcome: string | undefined;
}

/** What the bench's wiring saw: every request on the wire and every call on the port. */
export interface Recording {
  readonly wire: WireCall[];
  readonly port: PortCall[];
}

const methodOf = (url: string): string => /\/0\/(?:public|private)\/([A-Za-z]+)/.exec(url)?.[1] ?? url;

const errorKind = (error: unknown): string => {
  if (typeof error === 'object' && error !== null && 'kind' in error && typeof error.kind === 'string') return error.kind;
  return error instanceof Error ? error.name : 'error';
};

/**
 * The client side of the e2e harness (src/testing/test-run.ts) for a bench: Kraken over loopback HTTP to `paper`,
 * every request through `clock.io` (so the clock stands still while one is served), its own lane and nonce source
 * on the clock, the transport's timeouts on the clock's timers; with every request and port call recorded, so a
 * bench can say where an order's time went. The paper exchange must run on the same clock (`clock.now`,
 * `clock.waitTimers`).
 */
export function idleClockPort(
  paper: PaperExchange,
  clock: IdleClock,
  timeoutMs: number,
): { readonly port: ExchangePort; readonly recording: Recording; readonly kraken: KrakenExchange } {
  const recording: Recording = { wire: [], port: [] };
  const fetch: FetchLike = (url, init) =>
    clock.io(async () => {
      const call: WireCall = {
        method: methodOf(url),
        clOrdId: new URLSearchParams(init.body ?? '').get('cl_ord_id') ?? undefined,
        sentAt: clock.now(),
        answeredAt: undefined,
        outcome: undefined,
      };
      recording.wire.push(call);
      try {
        const response = await crossFetch(url, init);
        const body = await response.text();
        call.answeredAt = clock.now();
        call.outcome = String(response.status);
        const copy: FetchResponseLike = { status: response.status, headers: response.headers, text: () => Promise.resolve(body) };
        return copy;
      } catch (error) {
        call.answeredAt = clock.now();
        call.outcome = error instanceof Error ? error.name : 'failure';
        throw error;
      }
    }, init.signal);
  const kraken = createKrakenExchange({
    url: paper.url,
    credentials: new Credentials(paper.apiKey, paper.apiSecret),
    timeoutMs,
    lane: new PrivateLane(new NonceSource(() => clock.now())),
    fetch,
    clock: () => clock.now(),
    timers: clock.timers,
  });
  const recorded = <T>(method: PortCall['method'], clOrdId: string | undefined, call: () => Observable<T>): Observable<T> =>
    defer(() => {
      const entry: PortCall = { method, clOrdId, subscribedAt: clock.now(), endedAt: undefined, outcome: undefined };
      recording.port.push(entry);
      return call().pipe(
        tap({ next: () => (entry.outcome = 'ok'), error: (error: unknown) => (entry.outcome = errorKind(error)) }),
        finalize(() => {
          entry.endedAt = clock.now();
          entry.outcome ??= 'unsubscribed';
        }),
      );
    });
  const port: ExchangePort = {
    placeOrder: (request) => recorded('placeOrder', request.clientOrderId, () => kraken.placeOrder(request)),
    cancelOrder: (ref) => recorded('cancelOrder', 'clientOrderId' in ref ? ref.clientOrderId : undefined, () => kraken.cancelOrder(ref)),
    queryOrders: (txids) => recorded('queryOrders', undefined, () => kraken.queryOrders(txids)),
    openOrders: (filter) => recorded('openOrders', filter?.clientOrderId, () => kraken.openOrders(filter)),
    closedOrders: (filter) => recorded('closedOrders', filter?.clientOrderId, () => kraken.closedOrders(filter)),
    ticker: (pairs) => kraken.ticker(pairs),
    pairs: () => kraken.pairs(),
  };
  return { port, recording, kraken };
}
