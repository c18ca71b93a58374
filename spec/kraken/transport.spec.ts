import { afterEach, beforeEach, describe, expect, it } from '@jest/globals';
import { inspect } from 'node:util';
import { firstValueFrom, retry } from 'rxjs';
import { Credentials } from '../../src/kraken/credentials';
import { NonceSource } from '../../src/kraken/nonce';
import { PrivateLane } from '../../src/kraken/private-lane';
import { signRequest } from '../../src/kraken/sign';
import { type KrakenTransport, createKrakenTransport } from '../../src/kraken/transport';
import { IdleClock } from '../../src/time/idle-clock';
import { LoopbackServer, errorOf, html, json } from './support/loopback-server';

const secret = 'kQH5HW/8p1uGOVjbgWA7FunAmGO8lsSUXNsu3eow76sz84Q18fWxnyRzBHCd3pd5nE9qa99HAZtuZuj6F1huXg==';
const apiKey = 'LOOPBACK-KEY-0001';

const nonceOf = (body: string): string => new URLSearchParams(body).get('nonce') ?? '';

let server: LoopbackServer;
let lane: PrivateLane;
let transport: KrakenTransport;

beforeEach(async () => {
  server = await LoopbackServer.start();
  lane = new PrivateLane();
  transport = createKrakenTransport({ baseUrl: `${server.url}/`, timeoutMs: 1000, credentials: new Credentials(apiKey, secret), lane });
});

afterEach(async () => {
  await server.stop();
});

describe('public GET', () => {
  it('sends GET /0/public/<method>?<query> and emits the result', async () => {
    server.handler = (_req, res) => json(res, { error: [], result: { unixtime: 1688669448 } });
    const result = await firstValueFrom(transport.publicGet('Ticker', { pair: 'XBTUSD,ETHUSD', skipped: undefined }));
    expect(result).toEqual({ unixtime: 1688669448 });
    const [request] = server.requests;
    expect(request?.method).toBe('GET');
    expect(request?.url).toBe('/0/public/Ticker?pair=XBTUSD%2CETHUSD');
    expect(request?.headers['user-agent']).toMatch(/^kraken-rx-execution/);
    expect(request?.headers['api-key']).toBeUndefined();
  });

  it('leaves the query out when there are no parameters, and accepts warnings next to a result', async () => {
    server.handler = (_req, res) => json(res, { error: ['WGeneral:Deprecated'], result: { status: 'online' } });
    expect(await firstValueFrom(transport.publicGet('SystemStatus'))).toEqual({ status: 'online' });
    expect(server.requests[0]?.url).toBe('/0/public/SystemStatus');
  });
});

describe('private POST', () => {
  it('posts a form body that starts with the nonce, encodes + as %2B, and carries a verifiable signature', async () => {
    server.handler = (_req, res) => json(res, { error: [], result: { txid: ['OUF4EM-FRGI2-MQMWZD'], descr: { order: 'x' } } });
    await firstValueFrom(transport.privatePost('AddOrder', { pair: 'XBTUSD', type: 'buy', ordertype: 'limit', price: '37500', volume: '1.25', starttm: '+5', cl_ord_id: 'a b&c' }));
    const request = server.requests[0]!;
    expect(request.method).toBe('POST');
    expect(request.url).toBe('/0/private/AddOrder');
    const nonce = nonceOf(request.body);
    expect(request.body).toBe(`nonce=${nonce}&pair=XBTUSD&type=buy&ordertype=limit&price=37500&volume=1.25&starttm=%2B5&cl_ord_id=a+b%26c`);
    expect(request.headers['content-type']).toBe('application/x-www-form-urlencoded; charset=utf-8');
    expect(request.headers['api-key']).toBe(apiKey);
    expect(request.headers['api-sign']).toBe(signRequest('/0/private/AddOrder', nonce, request.body, secret));
    expect(request.headers['user-agent']).toMatch(/^kraken-rx-execution/);
  });

  it('refuses a params object that carries its own nonce', () => {
    expect(() => transport.privatePost('Balance', { nonce: '1' })).toThrow('the transport sets the nonce');
  });

  it('errors with auth when no credentials are configured', async () => {
    const anonymous = createKrakenTransport({ baseUrl: server.url, timeoutMs: 1000 });
    const error = await errorOf(firstValueFrom(anonymous.privatePost('Balance')));
    expect(error.kind).toBe('auth');
    expect(server.requests).toHaveLength(0);
  });
});

describe('envelope errors', () => {
  it('turns an E-string into a classified ExchangeError', async () => {
    server.handler = (_req, res) => json(res, { error: ['EOrder:Insufficient funds'] });
    const error = await errorOf(firstValueFrom(transport.privatePost('AddOrder', { pair: 'XBTUSD' })));
    expect(error.kind).toBe('refused');
    expect(error.codes).toEqual(['EOrder:Insufficient funds']);
    expect(error.endpoint).toBe('AddOrder');
    expect(error.httpStatus).toBe(200);
  });

  it('gives the throttle time of EService:Throttled as retryAt', async () => {
    server.handler = (_req, res) => json(res, { error: ['EService:Throttled:1700000000'], result: null });
    const error = await errorOf(firstValueFrom(transport.privatePost('OpenOrders')));
    expect(error.kind).toBe('rate-limited');
    expect(error.retryAt).toBe(1_700_000_000_000);
  });

  it('treats an envelope without result as ambiguous for a write', async () => {
    server.handler = (_req, res) => json(res, { error: [] });
    expect((await errorOf(firstValueFrom(transport.privatePost('AddOrder')))).kind).toBe('ambiguous');
    expect((await errorOf(firstValueFrom(transport.privatePost('OpenOrders')))).kind).toBe('retryable');
  });
});

describe('transport failures', () => {
  it('an HTML 502 page is ambiguous for AddOrder and retryable for a read', async () => {
    server.handler = (_req, res) => html(res, 502);
    const write = await errorOf(firstValueFrom(transport.privatePost('AddOrder', { pair: 'XBTUSD' })));
    expect(write.kind).toBe('ambiguous');
    expect(write.httpStatus).toBe(502);
    expect(write.message).toBe('AddOrder: HTTP 502 without a Kraken envelope (text/html)');
    expect((await errorOf(firstValueFrom(transport.publicGet('Ticker')))).kind).toBe('retryable');
  });

  it('an HTML page with HTTP 200 is ambiguous for a write', async () => {
    server.handler = (_req, res) => html(res, 200);
    const error = await errorOf(firstValueFrom(transport.privatePost('CancelOrder', { txid: 'O1' })));
    expect(error.kind).toBe('ambiguous');
    expect(error.message).toContain('not JSON, text/html');
  });

  it('an edge 429 is rate-limited with its Retry-After', async () => {
    server.handler = (_req, res) => html(res, 429, { 'Retry-After': '7' });
    const now = Date.UTC(2026, 0, 5, 12, 0, 0);
    const clocked = createKrakenTransport({ baseUrl: server.url, timeoutMs: 500, clock: () => now });
    const error = await errorOf(firstValueFrom(clocked.publicGet('Ticker')));
    expect(error.kind).toBe('rate-limited');
    // Seven seconds from the moment the answer was read, on the transport's clock.
    expect(error.retryAt).toBe(now + 7000);
  });

  it('times out: ambiguous for AddOrder, and the request is aborted', async () => {
    server.handler = () => undefined; // never answers
    // The timeout's timer is on a virtual clock: it fires when the test lets 40 ms pass, not before.
    const clock = new IdleClock();
    const quick = createKrakenTransport({ baseUrl: server.url, timeoutMs: 40, credentials: new Credentials(apiKey, secret), lane, timers: clock.timers });
    let failed = false;
    const failure = errorOf(firstValueFrom(quick.privatePost('AddOrder', { pair: 'XBTUSD' }))).finally(() => {
      failed = true;
    });
    await server.arrivals(1);
    await clock.advance(39);
    expect(failed).toBe(false);
    await clock.advance(1);
    const error = await failure;
    expect(error.kind).toBe('ambiguous');
    expect(error.message).toBe('AddOrder: no response within 40 ms');
    await server.requests[0]?.finished;
    expect(server.requests[0]?.aborted).toBe(true);
  });

  it('a connection reset after sending is ambiguous for AddOrder', async () => {
    server.handler = (_req, res) => res.socket?.destroy();
    const error = await errorOf(firstValueFrom(transport.privatePost('AddOrder', { pair: 'XBTUSD' })));
    expect(error.kind).toBe('ambiguous');
    expect(error.message).toMatch(/connection broken after sending \(ECONNRESET\)/);
  });

  it('connection refused is retryable: nothing was sent', async () => {
    const closedUrl = server.url;
    await server.stop();
    const refused = createKrakenTransport({ baseUrl: closedUrl, timeoutMs: 500, credentials: new Credentials(apiKey, secret), lane });
    const error = await errorOf(firstValueFrom(refused.privatePost('AddOrder', { pair: 'XBTUSD' })));
    expect(error.kind).toBe('retryable');
    expect(error.message).toBe('AddOrder: connection failed before sending (ECONNREFUSED)');
    server = await LoopbackServer.start();
  });

  it('unsubscribing aborts the request on the wire', async () => {
    server.handler = () => undefined;
    const subscription = transport.privatePost('OpenOrders').subscribe({ error: () => undefined });
    await server.arrivals(1);
    subscription.unsubscribe();
    await server.requests[0]?.finished;
    expect(server.requests[0]?.aborted).toBe(true);
    // The lane is free again: the next call goes through at once.
    server.handler = (_req, res) => json(res, { error: [], result: { open: {} } });
    expect(await firstValueFrom(transport.privatePost('OpenOrders'))).toEqual({ open: {} });
  });

  it('never puts the secret, the signature or the key into an error', async () => {
    const signatures: string[] = [];
    const failures = [
      (_req: unknown, res: Parameters<typeof html>[0]) => html(res, 502),
      (_req: unknown, res: Parameters<typeof html>[0]) => json(res, { error: ['EAPI:Invalid signature'] }),
      (_req: unknown, res: Parameters<typeof html>[0]) => res.socket?.destroy(),
      (_req: unknown, res: Parameters<typeof html>[0]) => html(res, 200),
    ];
    for (const failure of failures) {
      server.handler = (request, res) => {
        signatures.push(String(request.headers['api-sign']));
        failure(request, res);
      };
      const error = await errorOf(firstValueFrom(transport.privatePost('AddOrder', { pair: 'XBTUSD' })));
      const printed = [error.message, String(error.stack), JSON.stringify(error), inspect(error, { depth: null, showHidden: true })].join('\n');
      for (const forbidden of [secret, secret.slice(0, 20), apiKey, ...signatures]) expect(printed).not.toContain(forbidden);
    }
    expect(signatures).toHaveLength(4);
  });
});

describe('configuration and injected fetch', () => {
  it('refuses a malformed base URL or timeout at start-up', () => {
    expect(() => createKrakenTransport({ baseUrl: 'api.kraken.com', timeoutMs: 1000 })).toThrow('is not a valid URL');
    expect(() => createKrakenTransport({ baseUrl: 'ftp://api.kraken.com', timeoutMs: 1000 })).toThrow('must be http or https');
    expect(() => createKrakenTransport({ baseUrl: 'https://api.kraken.com?x=1', timeoutMs: 1000 })).toThrow('query or fragment');
    expect(() => createKrakenTransport({ baseUrl: 'https://api.kraken.com', timeoutMs: 0 })).toThrow('timeoutMs must be positive');
  });

  it('a DNS failure is retryable, read from the error code (also on a cause), never from its message', async () => {
    const dnsFailure = Object.assign(new Error(`getaddrinfo ENOTFOUND api.kraken.com ${secret}`), { code: 'ENOTFOUND' });
    const viaCause = Object.assign(new TypeError('fetch failed'), { cause: { code: 'EAI_AGAIN' } });
    for (const failure of [dnsFailure, viaCause]) {
      const failing = createKrakenTransport({
        baseUrl: 'https://api.kraken.com', timeoutMs: 1000, credentials: new Credentials(apiKey, secret), lane,
        fetch: () => Promise.reject(failure),
      });
      const error = await errorOf(firstValueFrom(failing.privatePost('AddOrder')));
      expect(error.kind).toBe('retryable');
      expect(error.message).not.toContain(secret);
    }
  });

  it('a completed request is not aborted afterwards (no DOMException per request); an unfinished one is', async () => {
    const signals: AbortSignal[] = [];
    let answer: (() => void) | null = null;
    let secondArrived!: () => void;
    const second = new Promise<void>((resolve) => (secondArrived = resolve));
    const inMemory = createKrakenTransport({
      baseUrl: 'https://api.kraken.com', timeoutMs: 1000, credentials: new Credentials(apiKey, secret), lane,
      fetch: (_url, init) => {
        signals.push(init.signal);
        if (signals.length === 2) secondArrived();
        const response = { status: 200, headers: { get: () => 'application/json' }, text: () => Promise.resolve('{"error":[],"result":{"count":1}}') };
        return signals.length === 1 ? Promise.resolve(response) : new Promise((resolve) => (answer = () => resolve(response)));
      },
    });
    await expect(firstValueFrom(inMemory.privatePost('CancelOrder', { txid: 'O1' }))).resolves.toEqual({ count: 1 });
    expect(signals[0]?.aborted).toBe(false);
    const pending = inMemory.privatePost('CancelOrder', { txid: 'O2' }).subscribe();
    await second;
    pending.unsubscribe();
    expect(signals[1]?.aborted).toBe(true);
    expect(answer).not.toBeNull();
  });

  it('a fetch that throws synchronously still ends in a classified error and frees the lane', async () => {
    const throwing = createKrakenTransport({
      baseUrl: 'https://api.kraken.com', timeoutMs: 1000, credentials: new Credentials(apiKey, secret), lane,
      fetch: () => {
        throw new Error('boom');
      },
    });
    const error = await errorOf(firstValueFrom(throwing.privatePost('AddOrder')));
    expect(error.kind).toBe('ambiguous');
    expect(lane.queued).toBe(0);
    expect((await errorOf(firstValueFrom(throwing.privatePost('Balance')))).kind).toBe('retryable');
  });
});

describe('serialised private calls', () => {
  it('never overlaps two private calls on the server, and nonces increase in arrival order', async () => {
    server.handler = (_req, res) => {
      setTimeout(() => json(res, { error: [], result: { count: 1 } }), 15);
    };
    const calls = Array.from({ length: 5 }, (_, i) => firstValueFrom(transport.privatePost('CancelOrder', { txid: `O${i}` })));
    await Promise.all(calls);
    const requests = server.requests;
    expect(requests.map((r) => new URLSearchParams(r.body).get('txid'))).toEqual(['O0', 'O1', 'O2', 'O3', 'O4']);
    for (let i = 1; i < requests.length; i++) {
      expect(requests[i]!.receivedAt).toBeGreaterThanOrEqual(requests[i - 1]!.finishedAt!);
      expect(BigInt(nonceOf(requests[i]!.body)) > BigInt(nonceOf(requests[i - 1]!.body))).toBe(true);
    }
  });

  it('takes the nonce when the call is sent, after its wait, not when it is subscribed', async () => {
    let clock = 1_000;
    const clocked = new PrivateLane(new NonceSource(() => clock));
    const timed = createKrakenTransport({ baseUrl: server.url, timeoutMs: 1000, credentials: new Credentials(apiKey, secret), lane: clocked });
    const held: Array<() => void> = [];
    server.handler = (_req, res) => held.push(() => json(res, { error: [], result: {} }));
    const first = firstValueFrom(timed.privatePost('Balance'));
    const second = firstValueFrom(timed.privatePost('Balance'));
    await server.arrivals(1);
    clock = 5_000; // time passes while the second call waits its turn
    held.shift()!();
    await server.arrivals(2);
    held.shift()!();
    await Promise.all([first, second]);
    expect(nonceOf(server.requests[0]!.body)).toBe('1000000');
    expect(nonceOf(server.requests[1]!.body)).toBe('5000000');
    expect(server.requests[1]!.headers['api-sign']).toBe(signRequest('/0/private/Balance', '5000000', server.requests[1]!.body, secret));
  });

  it('a retry is a new subscription: re-signed with a fresh nonce', async () => {
    let calls = 0;
    server.handler = (_req, res) => {
      calls += 1;
      json(res, calls === 1 ? { error: ['EAPI:Invalid nonce'] } : { error: [], result: { ok: true } });
    };
    const result = await firstValueFrom(transport.privatePost('Balance').pipe(retry(1)));
    expect(result).toEqual({ ok: true });
    const [first, second] = server.requests;
    expect(nonceOf(second!.body)).not.toBe(nonceOf(first!.body));
    expect(BigInt(nonceOf(second!.body)) > BigInt(nonceOf(first!.body))).toBe(true);
    expect(second!.headers['api-sign']).toBe(signRequest('/0/private/Balance', nonceOf(second!.body), second!.body, secret));
    expect(second!.headers['api-sign']).not.toBe(first!.headers['api-sign']);
  });

  it('a call unsubscribed while waiting its turn never reaches the server', async () => {
    const held: Array<() => void> = [];
    server.handler = (_req, res) => held.push(() => json(res, { error: [], result: {} }));
    const first = firstValueFrom(transport.privatePost('Balance', { asset: 'first' }));
    const dropped = transport.privatePost('Balance', { asset: 'dropped' }).subscribe();
    const third = firstValueFrom(transport.privatePost('Balance', { asset: 'third' }));
    await server.arrivals(1);
    expect(lane.queued).toBe(2);
    dropped.unsubscribe();
    expect(lane.queued).toBe(1);
    held.shift()!();
    await server.arrivals(2);
    held.shift()!();
    await Promise.all([first, third]);
    // One more call behind them: the queue is first-in first-out, so a dropped call that still went out would
    // have reached the server before this one.
    const fourth = firstValueFrom(transport.privatePost('Balance', { asset: 'fourth' }));
    await server.arrivals(3);
    held.shift()!();
    await fourth;
    expect(server.requests.map((r) => new URLSearchParams(r.body).get('asset'))).toEqual(['first', 'third', 'fourth']);
  });

  it('public calls do not wait for private ones', async () => {
    const held: Array<() => void> = [];
    server.handler = (req, res) => {
      if (req.url.startsWith('/0/private/')) held.push(() => json(res, { error: [], result: {} }));
      else json(res, { error: [], result: { unixtime: 1 } });
    };
    const slow = firstValueFrom(transport.privatePost('Balance'));
    await server.arrivals(1);
    expect(await firstValueFrom(transport.publicGet('Time'))).toEqual({ unixtime: 1 });
    held.shift()!();
    await slow;
  });
});

describe('deadline checked at sending', () => {
  it('does not send an AddOrder whose deadline came within 2.5 s while it waited: retryable, nothing on the wire', async () => {
    let now = 1_700_000_000_000;
    const clocked = createKrakenTransport({
      baseUrl: server.url,
      timeoutMs: 1000,
      credentials: new Credentials(apiKey, secret),
      lane,
      clock: () => now,
    });
    server.handler = (_req, res) => json(res, { error: [], result: { txid: ['OAAAAA-BBBBB-CCCCCC'], descr: { order: 'x' } } });
    const deadline = new Date(now + 10_000).toISOString();

    now += 7_600; // the queue held it: 2.4 s left
    const stale = await errorOf(firstValueFrom(clocked.privatePost('AddOrder', { pair: 'XBTUSD', deadline })));
    expect(stale.kind).toBe('retryable');
    expect(stale.codes[0]).toMatch(/not sent: its deadline was 2400 ms away/);
    expect(server.requests).toHaveLength(0);

    now -= 100; // 2.5 s left: sent
    await firstValueFrom(clocked.privatePost('AddOrder', { pair: 'XBTUSD', deadline }));
    expect(server.requests).toHaveLength(1);
  });
});
