/**
 * How an exchange failure bears on what to do next. Placement relies on this to never duplicate an order.
 *
 * - `refused`: the exchange definitively refused this request (bad input, funds, unknown order). Nothing was placed.
 * - `retryable`: the request provably did not take effect (service unavailable/busy, invalid nonce, connection refused).
 * - `rate-limited`: a rate limiter refused it; nothing took effect. `retryAt` is set when the exchange said when.
 * - `ambiguous`: the request may have reached the exchange (timeout, reset after sending, 5xx, HTML page).
 * - `auth`: credentials, permissions or a lockout; retrying makes it worse.
 */
export type ErrorKind = 'refused' | 'retryable' | 'rate-limited' | 'ambiguous' | 'auth';

/**
 * What the exchange's error strings mean for the streams, read once at the edge (src/kraken) so that nothing past
 * the port looks at an exchange's codes.
 */
export interface ErrorFacts {
  /** Which of the key's counters refused the call: the REST counter, a pair's trading counter, or none. */
  readonly limiter: 'rest' | 'trading' | null;
  /** The nonce was refused (another call on the key overtook it): re-signing with a fresh nonce may pass. */
  readonly nonceRejected: boolean;
  /** A cancel or lookup of an order that is no longer open (filled, cancelled, never existed): go and look. */
  readonly orderGone: boolean;
}

export const NO_FACTS: ErrorFacts = { limiter: null, nonceRejected: false, orderGone: false };

export interface ExchangeErrorInit {
  readonly kind: ErrorKind;
  /** The exchange's error strings (e.g. `EOrder:Insufficient funds`) or a transport description. */
  readonly codes: readonly string[];
  /** The endpoint, e.g. `AddOrder`. */
  readonly endpoint: string;
  /** Epoch ms before which the call should not be repeated, when the exchange said so. */
  readonly retryAt?: number;
  /** The HTTP status, when there was a response. */
  readonly httpStatus?: number;
  /** What the codes mean (src/kraken reads them); none by default. */
  readonly facts?: Partial<ErrorFacts>;
}

/** The one error type that exchange ports raise. Its message never contains credentials. */
export class ExchangeError extends Error {
  readonly kind: ErrorKind;
  readonly codes: readonly string[];
  readonly endpoint: string;
  readonly retryAt: number | undefined;
  readonly httpStatus: number | undefined;
  readonly facts: ErrorFacts;

  constructor(init: ExchangeErrorInit) {
    super(`${init.endpoint}: ${init.codes.join('; ') || init.kind}`);
    this.name = 'ExchangeError';
    this.kind = init.kind;
    this.codes = init.codes;
    this.endpoint = init.endpoint;
    this.retryAt = init.retryAt;
    this.httpStatus = init.httpStatus;
    this.facts = { ...NO_FACTS, ...init.facts };
  }

  /** True when one of the codes starts with `prefix` (Kraken appends details after further colons). */
  hasCode(prefix: string): boolean {
    return this.codes.some((code) => code.startsWith(prefix));
  }
}

export const isExchangeError = (e: unknown): e is ExchangeError => e instanceof ExchangeError;

/** Cancel of an order that is no longer open (filled, cancelled, never existed): go and look, don't assume. */
export const isOrderGone = (e: unknown): boolean =>
  isExchangeError(e) && e.facts.orderGone;
