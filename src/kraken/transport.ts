import crossFetch from 'cross-fetch';
import { Observable, throwError } from 'rxjs';
import { ExchangeError } from '../model/errors';
import { type Timers, realTimers } from '../time/timers';
import { type Credentials } from './credentials';
import { CONNECT_ERROR_CODES, type TransportFailure, classifyKrakenErrors, classifyTransportFailure, isWarning, krakenError } from './errors';
import { type PrivateLane, privateLaneFor } from './private-lane';

/** The slice of `fetch` the transport uses, so tests and other runtimes can pass their own. */
export type FetchLike = (
  url: string,
  init: {
    readonly method: 'GET' | 'POST';
    readonly headers: Readonly<Record<string, string>>;
    readonly body?: string;
    readonly signal: AbortSignal;
  },
) => Promise<FetchResponseLike>;

export interface FetchResponseLike {
  readonly status: number;
  readonly headers: { get(name: string): string | null };
  text(): Promise<string>;
}

/** Request parameters; `undefined` values are left out. Prices and volumes are passed as decimal strings. */
export type RequestParams = Readonly<Record<string, string | number | undefined>>;

export interface TransportOptions {
  /** e.g. `https://api.kraken.com`, or the paper exchange's `http://127.0.0.1:PORT`. */
  readonly baseUrl: string;
  /** How long a request may take, from sending to the end of the response body. */
  readonly timeoutMs: number;
  /** Needed for private calls only. */
  readonly credentials?: Credentials;
  /** The queue and nonce source private calls go through; by default the one shared by every client of the key. */
  readonly lane?: PrivateLane;
  readonly fetch?: FetchLike;
  readonly userAgent?: string;
  /** Epoch ms, for checking an AddOrder `deadline` at the moment of sending; by default the wall clock. */
  readonly clock?: () => number;
  /** The request timeout's timer; by default Node's (an end-to-end run passes its virtual clock's). */
  readonly timers?: Timers;
}

/**
 * Kraken refuses a `deadline` less than 2 s ahead (`EGeneral:Invalid arguments:deadline`); half a second more
 * covers the trip. A request that waited in the key's queue until its deadline came this close is not sent.
 */
export const MIN_DEADLINE_LEAD_MS = 2500;

/**
 * The refusal to send a request whose deadline came too close while it waited: nothing was sent, so it is
 * `retryable` (the caller stamps a fresh deadline), never a rejection of the order.
 */
export function staleDeadline(method: string, entries: ReadonlyArray<readonly [string, string]>, now: number): ExchangeError | undefined {
  const deadline = entries.find(([name]) => name === 'deadline')?.[1];
  if (deadline === undefined) return undefined;
  const left = Date.parse(deadline) - now;
  if (!(left < MIN_DEADLINE_LEAD_MS)) return undefined;
  return krakenError({
    kind: 'retryable',
    codes: [`not sent: its deadline was ${left} ms away when its turn came (Kraken needs at least 2000 ms)`],
    endpoint: method,
  });
}

const DEFAULT_USER_AGENT = 'kraken-rx-execution/0.1';

/** Runs one request to its end; e.g. an `IdleClock`'s `io`, which keeps its clock still while the request is served. */
export type RequestRunner = <T>(start: () => Promise<T>, signal?: AbortSignal) => Promise<T>;

/**
 * A `FetchLike` whose every request, body included, runs through `runner`: the whole exchange is one unit of I/O,
 * so a clock that waits for I/O waits until the answer has been read.
 */
export function fetchThrough(runner: RequestRunner, fetchImpl: FetchLike = crossFetch): FetchLike {
  return (url, init) =>
    runner(async () => {
      const response = await fetchImpl(url, init);
      const body = await response.text();
      const read: FetchResponseLike = { status: response.status, headers: response.headers, text: () => Promise.resolve(body) };
      return read;
    }, init.signal);
}

/** Kraken's HTTP interface: public GETs and signed, serialised private POSTs, each a cold Observable. */
export interface KrakenTransport {
  /**
   * `GET /0/public/<method>?<params>`. Emits the envelope's `result` and completes, or errors with an
   * `ExchangeError`. Unsubscribing aborts the request.
   */
  publicGet(method: string, params?: RequestParams): Observable<unknown>;
  /**
   * `POST /0/private/<method>` with a form body `nonce=…&…`, signed when it is sent (after waiting its turn on
   * the key's queue). Emits the envelope's `result` and completes, or errors with an `ExchangeError`.
   * Unsubscribing aborts the request, or leaves the queue if it has not started.
   */
  privatePost(method: string, params?: RequestParams): Observable<unknown>;
}

/** The parameters as name/value pairs, in order, `undefined` ones left out. */
export const entriesOf = (params: RequestParams | undefined): Array<[string, string]> =>
  Object.entries(params ?? {}).flatMap(([name, value]) => (value === undefined ? [] : [[name, String(value)] as [string, string]]));

/** The part of a thrown fetch error that tells whether anything was sent; its message is never kept. */
function failureOf(error: unknown, timedOut: boolean, timeoutMs: number): TransportFailure {
  if (timedOut) return { type: 'timeout', afterMs: timeoutMs };
  const record = typeof error === 'object' && error !== null ? (error as Record<string, unknown>) : {};
  const cause = typeof record['cause'] === 'object' && record['cause'] !== null ? (record['cause'] as Record<string, unknown>) : {};
  const code = [record['code'], record['errno'], cause['code']].find((c): c is string => typeof c === 'string') ?? 'unknown';
  return CONNECT_ERROR_CODES.has(code) ? { type: 'connect', code } : { type: 'network', code };
}

/** Seconds or an HTTP date, as `Retry-After` allows; epoch ms. */
function retryAtOf(header: string | null, now: number): number | undefined {
  if (header === null) return undefined;
  const seconds = Number(header);
  if (Number.isFinite(seconds) && header.trim() !== '') return now + seconds * 1000;
  const date = Date.parse(header);
  return Number.isNaN(date) ? undefined : date;
}

const isEnvelope = (body: unknown): body is { error: unknown[]; result?: unknown } =>
  typeof body === 'object' && body !== null && !Array.isArray(body) && Array.isArray((body as Record<string, unknown>)['error']);

/** Reads one HTTP response as a Kraken envelope: the `result`, or the `ExchangeError` it amounts to. */
function interpret(endpoint: string, status: number, contentType: string, retryAfter: string | null, text: string, now: number): unknown {
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    body = undefined;
  }
  if (!isEnvelope(body)) {
    if (status >= 200 && status < 300) {
      const detail = body === undefined ? `not JSON${contentType ? `, ${contentType}` : ''}` : 'JSON without an error array';
      throw classifyTransportFailure({ type: 'malformed', status, detail }, endpoint);
    }
    const retryAt = retryAtOf(retryAfter, now);
    throw classifyTransportFailure({ type: 'http', status, contentType, ...(retryAt !== undefined ? { retryAt } : {}) }, endpoint);
  }
  if (!body.error.every((code): code is string => typeof code === 'string')) {
    throw classifyTransportFailure({ type: 'malformed', status, detail: 'non-string entries in the error array' }, endpoint);
  }
  const errors = body.error.filter((code) => !isWarning(code));
  if (errors.length > 0) throw classifyKrakenErrors(errors, endpoint, status);
  if (body.result === undefined || body.result === null) {
    throw classifyTransportFailure({ type: 'malformed', status, detail: 'envelope without a result' }, endpoint);
  }
  return body.result;
}

/**
 * One HTTP exchange as a cold Observable: sends on subscribe, aborts on unsubscribe, gives up after `timeoutMs`.
 * Only the response's status, content type and body are looked at; nothing of the request is ever put into an
 * error, so neither the signature nor the key can leak through one.
 */
function exchange(
  fetchImpl: FetchLike,
  endpoint: string,
  url: string,
  init: { readonly method: 'GET' | 'POST'; readonly headers: Readonly<Record<string, string>>; readonly body?: string },
  timeoutMs: number,
  timers: Timers,
  clock: () => number,
): Observable<unknown> {
  return new Observable<unknown>((subscriber) => {
    const controller = new AbortController();
    let timedOut = false;
    /** The answer (or failure) is in: nothing is left to abort. */
    let settled = false;
    const timer = timers.setTimeout(() => {
      timedOut = true;
      controller.abort();
    }, timeoutMs);

    // A fetch that throws synchronously becomes a rejection like any other, so the timer is always cleared.
    new Promise<FetchResponseLike>((resolve) => resolve(fetchImpl(url, { ...init, signal: controller.signal })))
      .then(async (response) => {
        const text = await response.text();
        return interpret(endpoint, response.status, response.headers.get('content-type') ?? '', response.headers.get('retry-after'), text, clock());
      })
      .then(
        (result) => {
          settled = true;
          timers.clearTimeout(timer);
          subscriber.next(result);
          subscriber.complete();
        },
        (error: unknown) => {
          settled = true;
          timers.clearTimeout(timer);
          subscriber.error(error instanceof ExchangeError ? error : classifyTransportFailure(failureOf(error, timedOut, timeoutMs), endpoint));
        },
      );

    return () => {
      timers.clearTimeout(timer);
      // Only a request still under way is aborted: abort() after the answer would build a DOMException (its
      // reason) on every request for nothing.
      if (!settled) controller.abort();
    };
  });
}

/**
 * The form body and headers of one private POST, signed with its nonce: exactly what goes on the wire.
 *
 * @param path e.g. `/0/private/AddOrder`
 * @param entries the form fields, in order, without the nonce
 * @param nonce the nonce taken for this request
 * @param credentials the key and its secret
 * @param userAgent the User-Agent header
 */
export function signedPost(
  path: string,
  entries: ReadonlyArray<[string, string]>,
  nonce: bigint | number | string,
  credentials: Credentials,
  userAgent: string = DEFAULT_USER_AGENT,
): { readonly body: string; readonly headers: Readonly<Record<string, string>> } {
  const body = new URLSearchParams([['nonce', nonce.toString()], ...entries]).toString();
  return {
    body,
    headers: {
      'API-Key': credentials.apiKey,
      'API-Sign': credentials.sign(path, nonce, body),
      'Content-Type': 'application/x-www-form-urlencoded; charset=utf-8',
      'User-Agent': userAgent,
    },
  };
}

/** The form fields of a request, in order; `undefined` values are left out. */
export const formEntries = (params: RequestParams | undefined): Array<[string, string]> => entriesOf(params);

/** The base URL without a trailing slash; a malformed one is a configuration error at start-up, not a failed call. */
function checkedBaseUrl(baseUrl: string): string {
  let parsed: URL;
  try {
    parsed = new URL(baseUrl);
  } catch {
    throw new Error(`Kraken transport: base URL ${JSON.stringify(baseUrl)} is not a valid URL`);
  }
  if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') {
    throw new Error(`Kraken transport: base URL must be http or https, got ${parsed.protocol}`);
  }
  if (parsed.search || parsed.hash) throw new Error('Kraken transport: base URL must not carry a query or fragment');
  return baseUrl.replace(/\/+$/, '');
}

/**
 * Kraken's HTTP transport over cross-fetch.
 *
 * @param options base URL, timeout, credentials (for private calls), and optionally the lane and fetch to use
 */
export function createKrakenTransport(options: TransportOptions): KrakenTransport {
  const baseUrl = checkedBaseUrl(options.baseUrl);
  if (!(options.timeoutMs > 0)) throw new Error(`Kraken transport: timeoutMs must be positive, got ${options.timeoutMs}`);
  const fetchImpl: FetchLike = options.fetch ?? crossFetch;
  const userAgent = options.userAgent ?? DEFAULT_USER_AGENT;
  const credentials = options.credentials;
  const lane = options.lane ?? (credentials ? privateLaneFor(credentials.apiKey) : undefined);
  const clock = options.clock ?? Date.now;
  const timers = options.timers ?? realTimers;

  return {
    publicGet(method, params) {
      const query = new URLSearchParams(entriesOf(params)).toString();
      const url = `${baseUrl}/0/public/${method}${query ? `?${query}` : ''}`;
      return exchange(fetchImpl, method, url, { method: 'GET', headers: { 'User-Agent': userAgent } }, options.timeoutMs, timers, clock);
    },

    privatePost(method, params) {
      if (!credentials || !lane) {
        return new Observable<never>((subscriber) =>
          subscriber.error(krakenError({ kind: 'auth', codes: ['no API credentials configured for a private call'], endpoint: method })),
        );
      }
      const entries = entriesOf(params);
      if (entries.some(([name]) => name === 'nonce')) {
        throw new Error(`${method}: the transport sets the nonce; a params object must not carry one`);
      }
      const path = `/0/private/${method}`;
      return lane.run((nonce) => {
        const stale = staleDeadline(method, entries, clock());
        if (stale) return throwError(() => stale);
        // Built and signed here, at the moment of sending: the signed bytes are exactly the bytes sent.
        const { body, headers } = signedPost(path, entries, nonce, credentials, userAgent);
        return exchange(fetchImpl, method, `${baseUrl}${path}`, { method: 'POST', headers, body }, options.timeoutMs, timers, clock);
      });
    },
  };
}
