import { describe, expect, it } from '@jest/globals';
import {
  factsOf,
  type TransportFailure,
  classifyKrakenCode,
  classifyKrakenErrors,
  classifyTransportFailure,
  effectOf,
} from '../../src/kraken/errors';
import { type ErrorKind, isOrderGone } from '../../src/model/errors';

type Row = readonly [code: string, write: ErrorKind, read: ErrorKind];

// Every string of kraken-api.md §6.2, with the kind for a write (AddOrder) and for a read (OpenOrders).
const table: readonly Row[] = [
  ['EGeneral:Invalid arguments', 'refused', 'refused'],
  ['EGeneral:Invalid arguments:volume', 'refused', 'refused'],
  ['EGeneral:Invalid arguments:cl_ord_id', 'refused', 'refused'],
  ['EGeneral:Invalid arguments:Index unavailable', 'refused', 'refused'],
  ['EGeneral:Permission denied', 'auth', 'auth'],
  ['EGeneral:Unknown method', 'refused', 'refused'],
  ['EGeneral:Temporary lockout', 'auth', 'auth'],
  ['EGeneral:Internal error', 'ambiguous', 'retryable'],
  ['EGeneral:Internal error:12345', 'ambiguous', 'retryable'],
  ['EGeneral:Too many requests', 'rate-limited', 'rate-limited'],
  ['EAPI:Invalid key', 'auth', 'auth'],
  ['EAPI:Invalid signature', 'auth', 'auth'],
  ['EAPI:Invalid nonce', 'retryable', 'retryable'],
  ['EAPI:Rate limit exceeded', 'rate-limited', 'rate-limited'],
  ['EAPI:Bad request', 'refused', 'refused'],
  ['EAPI:Invalid token', 'retryable', 'retryable'],
  ['ESession:Invalid session', 'retryable', 'retryable'],
  ['EAuth:Rate limit exceeded', 'rate-limited', 'rate-limited'],
  ['EAuth:Too many requests', 'rate-limited', 'rate-limited'],
  ['EAuth:Account temporary disabled', 'auth', 'auth'],
  ['EAuth:Account unconfirmed', 'auth', 'auth'],
  ['EAuth:Failed', 'auth', 'auth'],
  ['EService:Unavailable', 'retryable', 'retryable'],
  ['EService:Busy', 'retryable', 'retryable'],
  ['EService:Market in cancel_only mode', 'retryable', 'retryable'],
  ['EService:Market in post_only mode', 'retryable', 'retryable'],
  ['EService:Market in limit_only mode', 'retryable', 'retryable'],
  ['EService:Deadline elapsed', 'retryable', 'retryable'],
  ['EService:Throttled:1700000000', 'rate-limited', 'rate-limited'],
  ['EService: Throttled: 1700000000', 'rate-limited', 'rate-limited'],
  ['EOrder:Rate limit exceeded', 'rate-limited', 'rate-limited'],
  ['EOrder:Domain rate limit exceeded', 'rate-limited', 'rate-limited'],
  ['EOrder:Orders limit exceeded', 'refused', 'refused'],
  ['EOrder:Scheduled orders limit exceeded', 'refused', 'refused'],
  ['EOrder:Positions limit exceeded', 'refused', 'refused'],
  ['EOrder:Insufficient funds', 'refused', 'refused'],
  ['EOrder:Insufficient margin', 'refused', 'refused'],
  ['EOrder:Margin allowance exceeded', 'refused', 'refused'],
  ['EOrder:Margin level too low', 'refused', 'refused'],
  ['EOrder:Margin position size exceeded', 'refused', 'refused'],
  ['EOrder:Cannot open position', 'refused', 'refused'],
  ['EOrder:Cannot open opposing position', 'refused', 'refused'],
  ['EOrder:Order minimum not met', 'refused', 'refused'],
  ['EOrder:Cost minimum not met', 'refused', 'refused'],
  ['EOrder:Tick size check failed', 'refused', 'refused'],
  ['EOrder:Invalid price', 'refused', 'refused'],
  ['EOrder:Invalid price:XXBTZEUR price can only be specified up to 1 decimals.', 'refused', 'refused'],
  ['EOrder:Invalid price:Invalid price argument.', 'refused', 'refused'],
  ['EOrder:Invalid order', 'refused', 'refused'],
  ['EOrder:Unknown order', 'refused', 'refused'],
  ['EOrder:Unknown position', 'refused', 'refused'],
  ['EOrder:Reduce only:No position exists', 'refused', 'refused'],
  ['EOrder:Trading agreement required', 'refused', 'refused'],
  ['EOrder:Cancel pending', 'refused', 'refused'],
  ['EQuery:Unknown asset pair', 'refused', 'refused'],
  ['EQuery:Invalid asset pair', 'refused', 'refused'],
  ['EQuery:Unknown asset', 'refused', 'refused'],
  ['ETrade:Invalid request', 'refused', 'refused'],
  ['ETrade:User Locked', 'auth', 'auth'],
  ['EFunding:Invalid reference id', 'refused', 'refused'],
  ['EFunding:Unknown reference id', 'refused', 'refused'],
  ['EFunding:Unknown withdraw key', 'refused', 'refused'],
  ['EFunding:Invalid amount', 'refused', 'refused'],
  ['EFunding:Unknown asset', 'refused', 'refused'],
  ['EFunding:Too many addresses', 'refused', 'refused'],
  ['EFunding:Max fee exceeded', 'refused', 'refused'],
  ['EFunding:No funding method', 'refused', 'refused'],
  ['EFunding:Invalid staking method', 'refused', 'refused'],
  ['EDatabase:Internal error', 'ambiguous', 'retryable'],
  ['EBM:limit exceeded:CAL', 'refused', 'refused'],
  // Unknown strings: a write may have happened; a read is refused.
  ['EGeneral:Something new', 'ambiguous', 'refused'],
  ['EService:Something new', 'ambiguous', 'refused'],
  ['EOrder:Something new', 'refused', 'refused'],
  ['EAuth:Something new', 'auth', 'auth'],
  ['Completely unexpected', 'ambiguous', 'refused'],
];

describe('classifyKrakenCode', () => {
  it.each(table)('%s → %s for a write, %s for a read', (code, write, read) => {
    expect(classifyKrakenCode(code, 'write').kind).toBe(write);
    expect(classifyKrakenCode(code, 'read').kind).toBe(read);
  });

  it('reads the retry time of EService:Throttled:<unix ts> in epoch ms', () => {
    expect(classifyKrakenCode('EService:Throttled:1700000000', 'write')).toEqual({ kind: 'rate-limited', retryAt: 1_700_000_000_000 });
    expect(classifyKrakenCode('EService: Throttled: 1700000001', 'read').retryAt).toBe(1_700_000_001_000);
    expect(classifyKrakenCode('EService:Throttled', 'read')).toEqual({ kind: 'rate-limited' });
  });
});

describe('effectOf', () => {
  it.each([
    ['AddOrder', 'write'], ['CancelOrder', 'write'], ['CancelAll', 'write'], ['CancelAllOrdersAfter', 'write'],
    ['AmendOrder', 'write'], ['SomeNewPrivateMethod', 'write'],
    ['OpenOrders', 'read'], ['ClosedOrders', 'read'], ['QueryOrders', 'read'], ['Balance', 'read'],
    ['BalanceEx', 'read'], ['TradesHistory', 'read'], ['Ticker', 'read'], ['AssetPairs', 'read'], ['Time', 'read'],
  ])('%s is a %s', (endpoint, effect) => {
    expect(effectOf(endpoint)).toBe(effect);
  });
});

describe('classifyKrakenErrors', () => {
  it('builds an ExchangeError with the codes, endpoint and status', () => {
    const error = classifyKrakenErrors(['EOrder:Insufficient funds'], 'AddOrder', 200);
    expect(error.kind).toBe('refused');
    expect(error.codes).toEqual(['EOrder:Insufficient funds']);
    expect(error.endpoint).toBe('AddOrder');
    expect(error.httpStatus).toBe(200);
    expect(error.message).toBe('AddOrder: EOrder:Insufficient funds');
  });

  it('carries the throttle time as retryAt', () => {
    const error = classifyKrakenErrors(['EService:Throttled:1700000000'], 'OpenOrders');
    expect(error.kind).toBe('rate-limited');
    expect(error.retryAt).toBe(1_700_000_000_000);
  });

  it('ignores warnings next to an error', () => {
    const error = classifyKrakenErrors(['WGeneral:Deprecated', 'EService:Busy'], 'AddOrder');
    expect(error.kind).toBe('retryable');
    expect(error.codes).toEqual(['EService:Busy']);
  });

  it.each([
    [['EService:Busy', 'EOrder:Insufficient funds'], 'refused'],
    [['EAPI:Rate limit exceeded', 'EService:Unavailable'], 'rate-limited'],
    [['EGeneral:Internal error', 'EOrder:Invalid price'], 'ambiguous'],
    [['EAPI:Invalid key', 'EGeneral:Internal error'], 'auth'],
  ])('lets the most cautious kind win among %j → %s', (codes, kind) => {
    expect(classifyKrakenErrors(codes, 'AddOrder').kind).toBe(kind);
  });

  it('an order-gone cancel stays recognisable for the streams', () => {
    expect(isOrderGone(classifyKrakenErrors(['EOrder:Unknown order'], 'CancelOrder'))).toBe(true);
    expect(isOrderGone(classifyKrakenErrors(['EOrder:Invalid order'], 'CancelOrder'))).toBe(true);
    expect(isOrderGone(classifyKrakenErrors(['EOrder:Insufficient funds'], 'CancelOrder'))).toBe(false);
  });
});

describe('classifyTransportFailure', () => {
  type Case = readonly [label: string, failure: TransportFailure, write: ErrorKind, read: ErrorKind];
  const cases: readonly Case[] = [
    ['connection refused', { type: 'connect', code: 'ECONNREFUSED' }, 'retryable', 'retryable'],
    ['DNS failure', { type: 'connect', code: 'ENOTFOUND' }, 'retryable', 'retryable'],
    ['our timeout', { type: 'timeout', afterMs: 50 }, 'ambiguous', 'retryable'],
    ['reset after sending', { type: 'network', code: 'ECONNRESET' }, 'ambiguous', 'retryable'],
    ['HTTP 502 HTML page', { type: 'http', status: 502, contentType: 'text/html' }, 'ambiguous', 'retryable'],
    ['HTTP 504', { type: 'http', status: 504, contentType: 'text/html' }, 'ambiguous', 'retryable'],
    ['Cloudflare 520', { type: 'http', status: 520, contentType: 'text/html' }, 'ambiguous', 'retryable'],
    ['HTTP 500 plain text', { type: 'http', status: 500, contentType: 'text/plain' }, 'ambiguous', 'retryable'],
    ['HTTP 403 HTML page', { type: 'http', status: 403, contentType: 'text/html' }, 'ambiguous', 'refused'],
    ['HTTP 404', { type: 'http', status: 404, contentType: 'text/html' }, 'ambiguous', 'refused'],
    ['HTTP 408', { type: 'http', status: 408, contentType: 'text/html' }, 'retryable', 'retryable'],
    ['HTTP 429', { type: 'http', status: 429, contentType: 'text/html' }, 'rate-limited', 'rate-limited'],
    ['HTTP 413', { type: 'http', status: 413, contentType: 'text/html' }, 'refused', 'refused'],
    ['HTML with HTTP 200', { type: 'malformed', status: 200, detail: 'text/html' }, 'ambiguous', 'retryable'],
    ['truncated JSON', { type: 'malformed', status: 200, detail: 'invalid JSON' }, 'ambiguous', 'retryable'],
  ];

  it.each(cases)('%s → %s for a write, %s for a read', (_label, failure, write, read) => {
    expect(classifyTransportFailure(failure, 'AddOrder').kind).toBe(write);
    expect(classifyTransportFailure(failure, 'OpenOrders').kind).toBe(read);
  });

  it('describes the failure and keeps the HTTP status', () => {
    const error = classifyTransportFailure({ type: 'http', status: 502, contentType: 'text/html' }, 'AddOrder');
    expect(error.httpStatus).toBe(502);
    expect(error.message).toBe('AddOrder: HTTP 502 without a Kraken envelope (text/html)');
    expect(classifyTransportFailure({ type: 'timeout', afterMs: 40 }, 'AddOrder').message).toBe('AddOrder: no response within 40 ms');
  });

  it('keeps an edge retry time only for rate limiting', () => {
    expect(classifyTransportFailure({ type: 'http', status: 429, contentType: '', retryAt: 5_000 }, 'Ticker').retryAt).toBe(5_000);
    expect(classifyTransportFailure({ type: 'http', status: 503, contentType: '', retryAt: 5_000 }, 'Ticker').retryAt).toBeUndefined();
  });
});

describe('factsOf: what the codes mean past the port', () => {
  it.each<[string, ReturnType<typeof factsOf>]>([
    ['EAPI:Rate limit exceeded', { limiter: 'rest', nonceRejected: false, orderGone: false }],
    ['EAuth:Rate limit exceeded', { limiter: 'rest', nonceRejected: false, orderGone: false }],
    ['EOrder:Rate limit exceeded', { limiter: 'trading', nonceRejected: false, orderGone: false }],
    ['EOrder:Domain rate limit', { limiter: 'trading', nonceRejected: false, orderGone: false }],
    ['EAPI:Invalid nonce', { limiter: null, nonceRejected: true, orderGone: false }],
    ['EOrder:Unknown order', { limiter: null, nonceRejected: false, orderGone: true }],
    ['EOrder:Invalid order', { limiter: null, nonceRejected: false, orderGone: true }],
    ['EOrder:Insufficient funds', { limiter: null, nonceRejected: false, orderGone: false }],
  ])('%s', (code, facts) => {
    expect(factsOf([code])).toEqual(facts);
    // Every error the client raises carries them, so the streams never read a code.
    expect(classifyKrakenErrors([code], 'CancelOrder').facts).toEqual(facts);
  });
});
