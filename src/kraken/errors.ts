import { P, match } from 'ts-pattern';
import { type ErrorFacts, type ErrorKind, ExchangeError, type ExchangeErrorInit } from '../model/errors';
import { isPublicEndpoint } from './budget';

/**
 * How Kraken's error strings and transport failures bear on what to do next (kraken-api.md §6, §10).
 *
 * The kinds mean (see `ErrorKind`): `refused` — definitively not done, repeating the same request fails
 * again; `retryable` — provably not done, repeating may work; `rate-limited` — a limiter refused it, nothing
 * done; `ambiguous` — a write may have taken effect, look it up before doing anything else; `auth` — keys,
 * permissions or a lockout, retrying makes it worse.
 *
 * Decisions beyond Kraken's own table:
 * - `ambiguous` is only ever produced for writes. A read (OpenOrders, QueryOrders, Ticker, …) has no effect a
 *   repeat could duplicate, so every outcome that would be ambiguous for a write (timeout, reset after sending,
 *   5xx, an HTML page, an internal error) is `retryable` for a read. Placement can therefore rely on
 *   "ambiguous ⇔ the order may exist", and lookups can retry on `retryable` alone.
 * - `EGeneral:Internal error` and `EDatabase:Internal error` come from inside Kraken, after the request reached
 *   it; nothing says at which stage it failed, so for a write it may have happened: `ambiguous`.
 * - An unknown `E…` string on a write is `ambiguous` (we cannot know it did not happen, and a lookup never
 *   duplicates an order); on a read it is `refused` (nothing suggests a repeat would fare better, and a bounded
 *   retry loop on an unknown error only spends the REST budget). Unknown strings in categories whose every
 *   known member is a refusal (`EOrder`, `EQuery`, `EFunding`, `ETrade`, `EBM`) are `refused`; unknown
 *   `EAuth` strings are `auth`.
 * - `EService:Deadline elapsed` is `retryable`: Kraken documents that the engine did not accept the request.
 * - When one response carries several errors, the most cautious kind wins:
 *   auth > ambiguous > refused > rate-limited > retryable.
 */

/** Whether a call can change state on the exchange. */
export type CallEffect = 'read' | 'write';

/** Private endpoints that only read. Any private endpoint not listed is treated as a write (the safe side). */
const READ_ENDPOINTS: ReadonlySet<string> = new Set([
  'Balance',
  'BalanceEx',
  'TradeBalance',
  'OpenOrders',
  'ClosedOrders',
  'QueryOrders',
  'OrderAmends',
  'TradesHistory',
  'QueryTrades',
  'OpenPositions',
  'Ledgers',
  'QueryLedgers',
  'TradeVolume',
  'GetWebSocketsToken',
]);

/** `read` for public endpoints and known read-only private ones; `write` for everything else. */
export const effectOf = (endpoint: string): CallEffect =>
  isPublicEndpoint(endpoint) || READ_ENDPOINTS.has(endpoint) ? 'read' : 'write';

/** One error string's verdict. */
export interface CodeVerdict {
  readonly kind: ErrorKind;
  /** Epoch ms, when the exchange said when to come back (`EService:Throttled:<unix ts>`). */
  readonly retryAt?: number;
}

const startsWithAny = (...prefixes: readonly string[]) =>
  P.when((code: unknown) => typeof code === 'string' && prefixes.some((prefix) => code.startsWith(prefix)));

const THROTTLED = /^EService:\s*Throttled:\s*(\d+(?:\.\d+)?)\s*$/;

const throttled = (code: string): CodeVerdict => {
  const seconds = THROTTLED.exec(code)?.[1];
  return seconds === undefined ? { kind: 'rate-limited' } : { kind: 'rate-limited', retryAt: Math.round(Number(seconds) * 1000) };
};

/** A write may have happened; a read has nothing that could have happened twice. */
const mayHaveHappened = (effect: CallEffect): CodeVerdict => ({ kind: effect === 'write' ? 'ambiguous' : 'retryable' });

/**
 * Classifies one Kraken error string (`EOrder:Insufficient funds`, `EService:Throttled:1700000000`, …).
 * Prefixes are matched, since Kraken appends details after further colons.
 *
 * @param code the error string as it came in the envelope's `error` array
 * @param effect whether the call that failed was a read or a write
 * @returns the kind, and when Kraken said so, the epoch ms to wait for
 */
export function classifyKrakenCode(code: string, effect: CallEffect): CodeVerdict {
  return match(code)
    .returnType<CodeVerdict>()
    .with(startsWithAny('EAPI:Invalid nonce'), () => ({ kind: 'retryable' }))
    .with(
      startsWithAny(
        'EGeneral:Temporary lockout',
        'EGeneral:Permission denied',
        'EAPI:Invalid key',
        'EAPI:Invalid signature',
        'EAuth:Account temporary disabled',
        'EAuth:Account unconfirmed',
        'EAuth:Failed',
        'ETrade:User Locked',
      ),
      () => ({ kind: 'auth' }),
    )
    .with(P.string.regex(/^EService:\s*Throttled/), throttled)
    .with(
      startsWithAny(
        'EAPI:Rate limit exceeded',
        'EOrder:Rate limit exceeded',
        'EOrder:Domain rate limit exceeded',
        'EGeneral:Too many requests',
        'EAuth:Rate limit exceeded',
        'EAuth:Too many requests',
      ),
      () => ({ kind: 'rate-limited' }),
    )
    .with(
      startsWithAny(
        'EService:Unavailable',
        'EService:Busy',
        'EService:Market in cancel_only mode',
        'EService:Market in post_only mode',
        'EService:Market in limit_only mode',
        'EService:Deadline elapsed',
        'EAPI:Invalid token',
        'ESession:Invalid session',
      ),
      () => ({ kind: 'retryable' }),
    )
    .with(startsWithAny('EGeneral:Internal error', 'EDatabase:Internal error'), () => mayHaveHappened(effect))
    .with(
      startsWithAny(
        'EGeneral:Invalid arguments',
        'EGeneral:Unknown method',
        'EAPI:Bad request',
        'EOrder:',
        'EQuery:',
        'EFunding:',
        'ETrade:',
        'EBM:',
      ),
      () => ({ kind: 'refused' }),
    )
    .with(startsWithAny('EAuth:'), () => ({ kind: 'auth' }))
    .otherwise(() => ({ kind: effect === 'write' ? 'ambiguous' : 'refused' }));
}

const CAUTION: Readonly<Record<ErrorKind, number>> = {
  auth: 4,
  ambiguous: 3,
  refused: 2,
  'rate-limited': 1,
  retryable: 0,
};

/** Kraken warnings (`W…`) ride along in the same array and never make a call fail. */
export const isWarning = (code: string): boolean => code.startsWith('W');

/**
 * The `ExchangeError` for a Kraken envelope whose `error` array is not empty (warnings are ignored).
 *
 * @param codes the envelope's `error` strings
 * @param endpoint the method, e.g. `AddOrder`
 * @param httpStatus the HTTP status the envelope came with
 */
/** What Kraken's error strings mean for the streams (the facts an `ExchangeError` carries past the port). */
export function factsOf(codes: readonly string[]): ErrorFacts {
  const has = (prefix: string): boolean => codes.some((code) => code.startsWith(prefix));
  return {
    limiter: has('EAPI:Rate limit') || has('EAuth:Rate limit') ? 'rest' : has('EOrder:Rate limit') || has('EOrder:Domain rate limit') ? 'trading' : null,
    nonceRejected: has('EAPI:Invalid nonce'),
    orderGone: has('EOrder:Unknown order') || has('EOrder:Invalid order'),
  };
}

/** An `ExchangeError` with the facts its Kraken codes imply: every error src/kraken raises is made here. */
export const krakenError = (init: Omit<ExchangeErrorInit, 'facts'>): ExchangeError => new ExchangeError({ ...init, facts: factsOf(init.codes) });

export function classifyKrakenErrors(codes: readonly string[], endpoint: string, httpStatus?: number): ExchangeError {
  const errors = codes.filter((code) => !isWarning(code));
  const effect = effectOf(endpoint);
  const verdicts = errors.map((code) => classifyKrakenCode(code, effect));
  const worst = verdicts.reduce<CodeVerdict | undefined>(
    (acc, verdict) => (acc === undefined || CAUTION[verdict.kind] > CAUTION[acc.kind] ? verdict : acc),
    undefined,
  ) ?? { kind: effect === 'write' ? 'ambiguous' : 'refused' };
  const retryAt = verdicts.reduce<number | undefined>(
    (acc, verdict) => (verdict.retryAt === undefined ? acc : Math.max(acc ?? 0, verdict.retryAt)),
    undefined,
  );
  return krakenError({
    kind: worst.kind,
    codes: errors.length > 0 ? errors : ['empty error array'],
    endpoint,
    ...(worst.kind === 'rate-limited' && retryAt !== undefined ? { retryAt } : {}),
    ...(httpStatus !== undefined ? { httpStatus } : {}),
  });
}

/**
 * What went wrong below Kraken's envelope. `connect` failures happen before a byte is sent; everything else
 * may have reached the exchange.
 */
export type TransportFailure =
  /** No connection was made (refused, DNS, unreachable, TLS handshake): nothing was sent. */
  | { readonly type: 'connect'; readonly code: string }
  /** Our request timeout fired after the request was (or may have been) sent. */
  | { readonly type: 'timeout'; readonly afterMs: number }
  /** The connection broke while sending or awaiting the response (reset, broken pipe, premature close). */
  | { readonly type: 'network'; readonly code: string }
  /** A non-2xx status without a Kraken envelope in its body. */
  | { readonly type: 'http'; readonly status: number; readonly contentType: string; readonly retryAt?: number }
  /** A 2xx response that does not read as Kraken's (HTML, truncated JSON, a result missing a field). */
  | { readonly type: 'malformed'; readonly status: number; readonly detail: string };

/** Node's error codes for a connection that never got as far as sending the request. */
export const CONNECT_ERROR_CODES: ReadonlySet<string> = new Set([
  'ECONNREFUSED',
  'ENOTFOUND',
  'EAI_AGAIN',
  'EAI_FAIL',
  'EAI_NONAME',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'EHOSTDOWN',
  'ENETDOWN',
  'EADDRNOTAVAIL',
  'CERT_HAS_EXPIRED',
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'SELF_SIGNED_CERT_IN_CHAIN',
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'ERR_TLS_CERT_ALTNAME_INVALID',
]);

const describeFailure = (failure: TransportFailure): string =>
  match(failure)
    .with({ type: 'connect' }, (f) => `connection failed before sending (${f.code})`)
    .with({ type: 'timeout' }, (f) => `no response within ${f.afterMs} ms`)
    .with({ type: 'network' }, (f) => `connection broken after sending (${f.code})`)
    .with({ type: 'http' }, (f) => `HTTP ${f.status} without a Kraken envelope (${f.contentType || 'no content type'})`)
    .with({ type: 'malformed' }, (f) => `HTTP ${f.status} with a response Kraken would not send (${f.detail})`)
    .exhaustive();

const classifyHttpStatus = (status: number, effect: CallEffect): ErrorKind =>
  match(status)
    // The server gave up waiting for the request itself: it was not processed.
    .with(408, () => 'retryable' as const)
    // An edge rate limit (Kraken's own limits come as envelope errors with HTTP 200).
    .with(429, () => 'rate-limited' as const)
    // The edge refused the request's size outright: the same request fails again, and was never forwarded.
    .with(P.union(413, 414, 431), () => 'refused' as const)
    // Other 4xx pages could come from a proxy either side of Kraken: a write may have happened.
    .with(P.number.between(400, 499), () => (effect === 'write' ? 'ambiguous' : 'refused'))
    // 5xx, Cloudflare's 52x, and anything else odd: the request may have reached the engine.
    .otherwise(() => mayHaveHappened(effect).kind);

/**
 * The `ExchangeError` for a failure below Kraken's envelope (see the decisions at the top of this file).
 *
 * @param failure what the transport saw
 * @param endpoint the method, e.g. `AddOrder`
 */
export function classifyTransportFailure(failure: TransportFailure, endpoint: string): ExchangeError {
  const effect = effectOf(endpoint);
  const kind = match(failure)
    .returnType<ErrorKind>()
    .with({ type: 'connect' }, () => 'retryable')
    .with({ type: P.union('timeout', 'network', 'malformed') }, () => mayHaveHappened(effect).kind)
    .with({ type: 'http' }, (f) => classifyHttpStatus(f.status, effect))
    .exhaustive();
  const status = failure.type === 'http' || failure.type === 'malformed' ? failure.status : undefined;
  const retryAt = failure.type === 'http' && kind === 'rate-limited' ? failure.retryAt : undefined;
  return krakenError({
    kind,
    codes: [describeFailure(failure)],
    endpoint,
    ...(status !== undefined ? { httpStatus: status } : {}),
    ...(retryAt !== undefined ? { retryAt } : {}),
  });
}
