import fetch from 'cross-fetch';
import { FAULT_KINDS, NETWORK_FAULT_KINDS, type PaperExchange, evenFaultRates } from '../../src/paper';
import { paperOnIdleClock, paperWithClient, result, type TestClient } from './harness';

describe('paper exchange: fault injection', () => {
  let exchange: PaperExchange;
  let client: TestClient;

  beforeEach(async () => {
    ({ exchange, client } = await paperWithClient({ tier: 'unlimited', faults: { timeoutHoldMs: 10_000 } }));
  });
  afterEach(() => exchange.close());

  const order = (clOrdId: string) => ({ pair: 'XBTUSD', type: 'buy', ordertype: 'limit', price: '59000.0', volume: '0.1', cl_ord_id: clOrdId });
  const placed = (clOrdId: string) => exchange.inspect.acceptedCount(clOrdId);

  it('accept-then-drop: the order is placed, then the connection dies unanswered', async () => {
    exchange.faults.inject('AddOrder', 'accept-then-drop');
    await expect(client.privateRaw('AddOrder', order('drop-after'))).rejects.toThrow();
    expect(placed('drop-after')).toBe(1);
    expect(exchange.inspect.ordersByClOrdId('drop-after')[0]?.status).toBe('open');
    // The next request is served normally.
    expect((await client.private('AddOrder', order('after-drop'))).error).toEqual([]);
  });

  it('accept-then-timeout: the order is placed and no answer comes before the client gives up', async () => {
    const held = await paperOnIdleClock({ tier: 'unlimited', faults: { timeoutHoldMs: 10_000 } });
    try {
      held.exchange.faults.inject('AddOrder', 'accept-then-timeout');
      const abort = new AbortController();
      held.clock.timers.setTimeout(() => abort.abort(), 150);
      const started = held.clock.now();
      await expect(held.drive(held.client.private('AddOrder', order('timed-out'), { signal: abort.signal }))).rejects.toThrow();
      // Nothing came back: the client's own give-up ended it, at 150 ms, well before the 10 s hold.
      expect(held.clock.now() - started).toBe(150);
      expect(held.exchange.inspect.acceptedCount('timed-out')).toBe(1);
    } finally {
      await held.exchange.close();
    }
  });

  it('accept-then-timeout: a client that waits longer sees the connection dropped when the hold ends', async () => {
    const held = await paperOnIdleClock({ tier: 'unlimited', faults: { timeoutHoldMs: 10_000 } });
    try {
      held.exchange.faults.inject('AddOrder', 'accept-then-timeout');
      const started = held.clock.now();
      await expect(held.drive(held.client.private('AddOrder', order('held')))).rejects.toThrow();
      expect(held.clock.now() - started).toBe(10_000);
      expect(held.exchange.inspect.acceptedCount('held')).toBe(1);
    } finally {
      await held.exchange.close();
    }
  });

  it('drop-before-accept: the connection dies and nothing is placed; a resend is safe', async () => {
    exchange.faults.inject('AddOrder', 'drop-before-accept');
    await expect(client.privateRaw('AddOrder', order('dropped'))).rejects.toThrow();
    expect(placed('dropped')).toBe(0);
    expect((await client.private('AddOrder', order('dropped'))).error).toEqual([]);
    expect(placed('dropped')).toBe(1);
  });

  it('html-5xx-placed: a Cloudflare-like 520 page although the order was placed', async () => {
    exchange.faults.inject('AddOrder', 'html-5xx-placed');
    const res = await client.privateRaw('AddOrder', order('html-placed'));
    expect(res.status).toBe(520);
    expect(res.headers.get('content-type')).toMatch(/text\/html/);
    expect(await res.text()).toMatch(/<html[\s\S]*520/);
    expect(placed('html-placed')).toBe(1);
  });

  it('html-5xx-not-placed: a 502 page and nothing placed', async () => {
    exchange.faults.inject('AddOrder', 'html-5xx-not-placed');
    const res = await client.privateRaw('AddOrder', order('html-not'));
    expect(res.status).toBe(502);
    expect(await res.text()).toMatch(/<!DOCTYPE html>/);
    expect(placed('html-not')).toBe(0);
  });

  it('service-unavailable and service-busy answer EService errors and place nothing', async () => {
    exchange.faults.inject('AddOrder', 'service-unavailable');
    exchange.faults.inject('AddOrder', 'service-busy');
    expect(await client.private('AddOrder', order('svc'))).toEqual({ error: ['EService:Unavailable'] });
    expect(await client.private('AddOrder', order('svc'))).toEqual({ error: ['EService:Busy'] });
    expect(placed('svc')).toBe(0);
    expect((await client.private('AddOrder', order('svc'))).error).toEqual([]);
  });

  it.each([
    ['invalid-nonce', 'EAPI:Invalid nonce'],
    ['temporary-lockout', 'EGeneral:Temporary lockout'],
    ['rest-rate-limit', 'EAPI:Rate limit exceeded'],
    ['trading-rate-limit', 'EOrder:Rate limit exceeded'],
  ] as const)('%s answers %s at once and places nothing', async (kind, error) => {
    exchange.faults.inject('AddOrder', kind);
    expect(await client.private('AddOrder', order(`inj-${kind}`.slice(0, 18)))).toEqual({ error: [error] });
    expect(placed(`inj-${kind}`.slice(0, 18))).toBe(0);
    expect((await client.private('AddOrder', order(`inj-${kind}`.slice(0, 18)))).error).toEqual([]);
  });

  it('applies a fault after processing on other endpoints too: a dropped CancelOrder did cancel', async () => {
    const txid = result<{ txid: string[] }>(await client.private('AddOrder', order('to-cancel'))).txid[0] ?? '';
    exchange.faults.inject('CancelOrder', 'accept-then-drop');
    await expect(client.privateRaw('CancelOrder', { txid })).rejects.toThrow();
    expect(exchange.inspect.order(txid)?.status).toBe('canceled');
  });

  it('injects N faults in a row, on one endpoint or on any private one (*)', async () => {
    exchange.faults.inject('*', 'service-busy', 2);
    expect(await client.private('Balance')).toEqual({ error: ['EService:Busy'] });
    expect(await client.private('OpenOrders')).toEqual({ error: ['EService:Busy'] });
    expect((await client.private('Balance')).error).toEqual([]);
    expect((await client.public('Time')).error).toEqual([]);
    expect(exchange.faults.applied().map((f) => [f.endpoint, f.kind])).toEqual([
      ['Balance', 'service-busy'],
      ['OpenOrders', 'service-busy'],
    ]);
  });

  it('adds latency per endpoint', async () => {
    const slow = await paperOnIdleClock({ tier: 'unlimited' });
    try {
      slow.exchange.faults.setLatency('Balance', 300);
      const started = slow.clock.now();
      expect((await slow.drive(slow.client.private('Balance'))).error).toEqual([]);
      expect(slow.clock.now() - started).toBe(300);
      await slow.drive(slow.client.private('OpenOrders'));
      expect(slow.clock.now() - started).toBe(300);
    } finally {
      await slow.exchange.close();
    }
  });

  it('draws seeded faults at the configured rates, the same way for the same seed', async () => {
    const kindsFor = async (seed: number): Promise<string[]> => {
      const { exchange: ex } = await paperWithClient({ publicRateLimit: false, faults: { seed, rates: { Time: { 'service-busy': 0.3, 'service-unavailable': 0.2 } } } });
      try {
        const seen: string[] = [];
        for (let i = 0; i < 60; i++) {
          const res = await fetch(`${ex.url}/0/public/Time`);
          const body = (await res.json()) as { error: string[] };
          seen.push(body.error[0] ?? 'ok');
        }
        return seen;
      } finally {
        await ex.close();
      }
    };
    const a = await kindsFor(1);
    expect(await kindsFor(1)).toEqual(a);
    expect(await kindsFor(2)).not.toEqual(a);
    const busy = a.filter((k) => k === 'EService:Busy').length;
    const unavailable = a.filter((k) => k === 'EService:Unavailable').length;
    expect(busy).toBeGreaterThan(5);
    expect(unavailable).toBeGreaterThan(3);
    expect(a.filter((k) => k === 'ok').length).toBeGreaterThan(15);
  });

  it('clear() removes queued faults, rates and latency', async () => {
    exchange.faults.inject('Balance', 'service-busy', 3);
    exchange.faults.setRates('*', { 'service-busy': 1 });
    exchange.faults.clear();
    expect((await client.private('Balance')).error).toEqual([]);
  });
});

describe('paper exchange: the network fault mix', () => {
  it('holds the network and service faults, never a lockout or an injected rate limit', () => {
    expect(NETWORK_FAULT_KINDS).toContain('accept-then-timeout');
    expect(NETWORK_FAULT_KINDS).toContain('invalid-nonce');
    for (const kind of ['temporary-lockout', 'rest-rate-limit', 'trading-rate-limit'] as const) expect(NETWORK_FAULT_KINDS).not.toContain(kind);
    expect(NETWORK_FAULT_KINDS.length).toBe(FAULT_KINDS.length - 3);
  });

  it('spreads a total rate evenly over the kinds it is given', () => {
    const rates = evenFaultRates(['service-busy', 'invalid-nonce'], 0.2);
    expect(rates).toEqual({ 'service-busy': 0.1, 'invalid-nonce': 0.1 });
  });
});
