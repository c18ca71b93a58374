import { Observable, type SchedulerLike, Subscription, throwError } from 'rxjs';
import { classifyKrakenErrors, classifyTransportFailure, type TransportFailure } from '../kraken/errors';
import { NonceSource } from '../kraken/nonce';
import { PrivateLane } from '../kraken/private-lane';
import { type KrakenTransport, type RequestParams, entriesOf, staleDeadline } from '../kraken/transport';
import { ExchangeError } from '../model/errors';
import { dispatchPrivate } from '../paper/dispatch';
import { type FaultKind, type FaultPlan } from '../paper/faults';
import { Params } from '../paper/params';
import { callPublic, failure, type Outcome, PUBLIC_METHODS } from '../paper/public-api';
import { type TrafficStats } from '../paper/server';
import { type Venue } from '../paper/venue';

/** What the in-process transport is wired to. */
export interface InProcessTransportOptions {
  /** The paper exchange's engine (see `createVenue`), on the same clock as `scheduler`. */
  readonly venue: Venue;
  /** Scripted and seeded faults, with the meanings they have over HTTP. */
  readonly faults: FaultPlan;
  /** Where answers, held answers and the request timeout wait. */
  readonly scheduler: SchedulerLike;
  /** Time between processing a request and its answer reaching the client. Default 10 ms. */
  readonly latencyMs?: number;
  /** The client's request timeout: a request not answered within it fails with a `timeout`. Default 10 000 ms. */
  readonly requestTimeoutMs?: number;
  /** The key private calls are charged to (the REST counter is per key). Default `testing-key`. */
  readonly apiKey?: string;
}

/** A `KrakenTransport` that is the paper exchange, without HTTP: its requests are counted like the server's. */
export interface InProcessTransport extends KrakenTransport {
  readonly traffic: TrafficStats;
  /** Cancels every answer still on its way (the exchange's processing that already happened stays done). */
  close(): void;
}

/** What the client ends up seeing for one request, and after how long (from sending). */
type Delivery = { readonly afterMs: number } & ({ readonly outcome: Outcome } | { readonly failure: TransportFailure });

/** The Kraken string a fault answers with at once, nothing processed. */
const ANSWERED_AT_ONCE: Partial<Record<FaultKind, string>> = {
  'service-unavailable': 'EService:Unavailable',
  'service-busy': 'EService:Busy',
  'invalid-nonce': 'EAPI:Invalid nonce',
  'temporary-lockout': 'EGeneral:Temporary lockout',
  'rest-rate-limit': 'EAPI:Rate limit exceeded',
  'trading-rate-limit': 'EOrder:Rate limit exceeded',
};

/** What node-fetch reports when the server destroys the socket without answering. */
const RESET: TransportFailure = { type: 'network', code: 'ECONNRESET' };
const HTML = 'text/html; charset=UTF-8';

const formOf = (params: RequestParams | undefined): string => new URLSearchParams(entriesOf(params)).toString();

/**
 * The paper exchange's engine as a `KrakenTransport`, in virtual time: each request is dispatched straight to the
 * paper exchange's endpoints and its `Outcome` becomes the envelope's `result` or the `ExchangeError` the HTTP
 * transport would raise (`classifyKrakenErrors`, `classifyTransportFailure`), `latencyMs` later on `scheduler`.
 *
 * Intuition: the loopback server with the wire cut out; what a client can observe — when, what, and which error
 * class — stays the same, so `new KrakenExchange(krakenClientOver(transport))` runs the production parsers.
 *
 *   privatePost('AddOrder'):  ^---------a|      processed at ^ (subscription), answered latencyMs later
 *   with accept-then-drop:    ^---------#       processed, then a reset (`network`): ambiguous for a write
 *   with drop-before-accept:  ^---------#       the same reset, nothing processed
 *   with accept-then-timeout: ^-------------#   processed, then a `timeout` at requestTimeoutMs (or a reset when
 *                                               the exchange's hold ends first)
 *
 * Faults are the paper's `FaultPlan`, decided in arrival order as the server decides them; its per-endpoint
 * latency delays the processing (as the server's does), `latencyMs` the answer. Private calls go one at a time
 * through a `PrivateLane`, as the HTTP transport's do, and one whose `deadline` came within 2.5 s while it waited is
 * not sent (retryable), as there. There is no signing: every private call is the one key's.
 * Unsubscribing drops the answer; like an aborted HTTP request, what was processed stays processed.
 *
 * @param options the venue, fault plan, scheduler and timings
 * @returns the transport, with the request counts the inspector reads
 */
export function createInProcessTransport(options: InProcessTransportOptions): InProcessTransport {
  const { venue, faults, scheduler } = options;
  const latencyMs = options.latencyMs ?? 10;
  const timeoutMs = options.requestTimeoutMs ?? 10_000;
  const apiKey = options.apiKey ?? 'testing-key';
  if (!(latencyMs >= 0)) throw new RangeError('latencyMs must be >= 0');
  if (!(timeoutMs > 0)) throw new RangeError('requestTimeoutMs must be positive');
  const traffic: TrafficStats = { requests: new Map() };
  const lane = new PrivateLane(new NonceSource(() => scheduler.now()));
  // Processing that waits on the exchange's latency outlives the client's interest, as a request already sent does.
  const pending = new Subscription();
  let sequence = 0;

  const catchUp = (): number => {
    const now = venue.now();
    venue.catchUp(now);
    return now;
  };

  const processPublic = (method: string, form: string): Outcome =>
    PUBLIC_METHODS.has(method)
      ? callPublic(method, Params.fromQuery(form), venue.catalogue, venue.market, catchUp(), venue.systemStatus)
      : failure('EGeneral:Unknown method');

  const processPrivate = (method: string, form: string, arrivedAt: number): Outcome =>
    dispatchPrivate(venue, method, Params.fromForm(form), { apiKey, arrivedAt, now: catchUp() });

  /** The delivery for a request processed `processedAfterMs` after it was sent, given its fault. */
  const afterProcessing = (fault: FaultKind | undefined, outcome: Outcome, processedAfterMs: number): Delivery => {
    switch (fault) {
      case 'accept-then-drop':
        return { afterMs: processedAfterMs + latencyMs, failure: RESET };
      case 'accept-then-timeout':
        // The exchange holds the socket, then destroys it; the client gives up at its timeout if that comes first.
        return { afterMs: processedAfterMs + faults.timeoutHoldMs, failure: RESET };
      case 'html-5xx-placed':
        return { afterMs: processedAfterMs + latencyMs, failure: { type: 'http', status: 520, contentType: HTML } };
      default:
        return { afterMs: processedAfterMs + latencyMs, outcome };
    }
  };

  /** The delivery for a fault that answers without processing, if `fault` is one. */
  const beforeProcessing = (fault: FaultKind | undefined): Delivery | undefined => {
    if (fault === 'drop-before-accept') return { afterMs: latencyMs, failure: RESET };
    if (fault === 'html-5xx-not-placed') return { afterMs: latencyMs, failure: { type: 'http', status: 502, contentType: HTML } };
    const code = fault === undefined ? undefined : ANSWERED_AT_ONCE[fault];
    return code === undefined ? undefined : { afterMs: latencyMs, outcome: failure(code) };
  };

  const errorOf = (method: string, delivery: Delivery): ExchangeError | undefined => {
    if ('failure' in delivery) return classifyTransportFailure(delivery.failure, method);
    return delivery.outcome.ok ? undefined : classifyKrakenErrors([delivery.outcome.error], method, 200);
  };

  /** One request, cold: arrives and is processed on subscription, answered on the scheduler. */
  const request = (method: string, isPrivate: boolean, form: string): Observable<unknown> =>
    new Observable<unknown>((subscriber) => {
      const sentAt = scheduler.now();
      const arrivedAt = venue.now();
      traffic.requests.set(method, (traffic.requests.get(method) ?? 0) + 1);
      const fault = faults.decide(method, isPrivate, ++sequence);
      const answers = new Subscription();

      const deliver = (delivery: Delivery): void => {
        const elapsed = scheduler.now() - sentAt;
        // Our own timeout fires first when the answer would come at or after it (the timer was set first).
        const settled: Delivery = delivery.afterMs >= timeoutMs ? { afterMs: timeoutMs, failure: { type: 'timeout', afterMs: timeoutMs } } : delivery;
        answers.add(
          scheduler.schedule(() => {
            const error = errorOf(method, settled);
            if (error) {
              subscriber.error(error);
              return;
            }
            // A JSON round trip, as over the wire: the client never holds the engine's own objects.
            subscriber.next('outcome' in settled && settled.outcome.ok ? (JSON.parse(JSON.stringify(settled.outcome.result)) as unknown) : undefined);
            subscriber.complete();
          }, Math.max(0, settled.afterMs - elapsed)),
        );
      };

      const early = beforeProcessing(fault);
      if (early) {
        deliver(early);
        return answers;
      }
      const process = (): void => {
        const processedAfterMs = scheduler.now() - sentAt;
        const outcome = isPrivate ? processPrivate(method, form, arrivedAt) : processPublic(method, form);
        if (!subscriber.closed) deliver(afterProcessing(fault, outcome, processedAfterMs));
      };
      const exchangeLatency = faults.latencyFor(method, isPrivate);
      if (exchangeLatency > 0) {
        if (exchangeLatency >= timeoutMs) deliver({ afterMs: timeoutMs, failure: { type: 'timeout', afterMs: timeoutMs } });
        const processing = scheduler.schedule(() => {
          pending.remove(processing);
          process();
        }, exchangeLatency);
        pending.add(processing);
      } else {
        process();
      }
      return answers;
    });

  return {
    traffic,
    publicGet: (method, params) => request(method, false, formOf(params)),
    privatePost: (method, params) => {
      if (params !== undefined && 'nonce' in params) {
        throw new Error(`${method}: the transport sets the nonce; a params object must not carry one`);
      }
      return lane.run(() => {
        const stale = staleDeadline(method, entriesOf(params), scheduler.now());
        return stale ? throwError(() => stale) : request(method, true, formOf(params));
      });
    },
    close: () => pending.unsubscribe(),
  };
}
