import fetch from 'cross-fetch';
import { type PaperExchange } from '../../src/paper';
import { paperWithClient, result, type TestClient } from './harness';

describe('paper exchange: public endpoints', () => {
  let exchange: PaperExchange;
  let client: TestClient;

  beforeAll(async () => {
    ({ exchange, client } = await paperWithClient({ publicRateLimit: false }));
  });
  afterAll(() => exchange.close());

  it('serves Time from its clock, with unixtime and rfc1123', async () => {
    const time = result<{ unixtime: number; rfc1123: string }>(await client.public('Time'));
    expect(time.unixtime).toBe(Math.floor(exchange.now() / 1000));
    expect(time.rfc1123).toBe('Mon, 05 Jan 26 12:00:00 +0000');
  });

  it('reports SystemStatus online with an RFC3339 timestamp', async () => {
    expect(result(await client.public('SystemStatus'))).toEqual({ status: 'online', timestamp: '2026-01-05T12:00:00Z' });
  });

  it('lists Assets by id with altname and decimals, and filters by altname', async () => {
    const all = result<Record<string, { altname: string; decimals: number }>>(await client.public('Assets'));
    expect(all['XXBT']).toMatchObject({ aclass: 'currency', altname: 'XBT', decimals: 10 });
    expect(all['ZUSD']).toMatchObject({ altname: 'USD', decimals: 4 });
    expect(Object.keys(result(await client.public('Assets', { asset: 'XBT,USD' })))).toEqual(['XXBT', 'ZUSD']);
    expect((await client.public('Assets', { asset: 'NOPE' })).error).toEqual(['EQuery:Unknown asset']);
  });

  it('describes AssetPairs with every field a client derives rules from', async () => {
    const pairs = result<Record<string, Record<string, unknown>>>(await client.public('AssetPairs'));
    expect(Object.keys(pairs)).toEqual(expect.arrayContaining(['XXBTZUSD', 'XETHZUSD', 'SOLUSD', 'XXBTZEUR', 'XETHXXBT', 'XXRPZUSD', 'ADAUSD', 'DOTUSD']));
    expect(pairs['XXBTZUSD']).toEqual({
      altname: 'XBTUSD',
      wsname: 'XBT/USD',
      aclass_base: 'currency',
      base: 'XXBT',
      aclass_quote: 'currency',
      quote: 'ZUSD',
      lot: 'unit',
      cost_decimals: 5,
      pair_decimals: 1,
      lot_decimals: 8,
      lot_multiplier: 1,
      leverage_buy: [],
      leverage_sell: [],
      fees: expect.arrayContaining([[0, 0.4]]),
      fees_maker: expect.arrayContaining([[0, 0.25]]),
      fee_volume_currency: 'ZUSD',
      margin_call: 80,
      margin_stop: 40,
      ordermin: '0.00005',
      costmin: '0.5',
      tick_size: '0.1',
      status: 'online',
    });
  });

  it('accepts key, altname, wsname and BTC/USD names in AssetPairs and keys the answer by pair key', async () => {
    for (const name of ['XXBTZUSD', 'XBTUSD', 'XBT/USD', 'BTC/USD']) {
      expect(Object.keys(result(await client.public('AssetPairs', { pair: name })))).toEqual(['XXBTZUSD']);
    }
    expect(result(await client.public('AssetPairs', { pair: 'SOLUSD', info: 'fees' }))).toEqual({
      SOLUSD: { fees: expect.any(Array), fees_maker: expect.any(Array), fee_volume_currency: 'ZUSD' },
    });
    expect((await client.public('AssetPairs', { pair: 'XBTUSD,FOOBAR' })).error).toEqual(['EQuery:Unknown asset pair']);
  });

  it('serves Ticker with string numbers keyed by pair key, whatever name was asked', async () => {
    exchange.setPrice('XBTUSD', '61000');
    for (const name of ['XBTUSD', 'XXBTZUSD', 'XBT/USD']) {
      const ticker = result<Record<string, Record<string, unknown>>>(await client.public('Ticker', { pair: name }));
      expect(Object.keys(ticker)).toEqual(['XXBTZUSD']);
      const t = ticker['XXBTZUSD'];
      expect(t).toMatchObject({ a: ['61000.1', expect.any(String), expect.any(String)], b: ['60999.9', expect.any(String), expect.any(String)], c: ['61000.0', expect.any(String)] });
      for (const k of ['v', 'p', 'l', 'h']) expect(t?.[k]).toEqual([expect.any(String), expect.any(String)]);
      expect(t?.['t']).toEqual([expect.any(Number), expect.any(Number)]);
      expect(typeof t?.['o']).toBe('string');
    }
    const two = result(await client.public('Ticker', { pair: 'ETHUSD,SOLUSD' }));
    expect(Object.keys(two)).toEqual(['XETHZUSD', 'SOLUSD']);
    expect(Object.keys(result(await client.public('Ticker'))).length).toBe(8);
  });

  it('answers an unknown Ticker pair with EQuery:Unknown asset pair', async () => {
    expect(await client.public('Ticker', { pair: 'DOGEBTC' })).toEqual({ error: ['EQuery:Unknown asset pair'] });
  });

  it('answers public calls made with POST as well (some clients do)', async () => {
    const res = await fetch(`${exchange.url}/0/public/Ticker`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: 'pair=ETHUSD' });
    expect(Object.keys(((await res.json()) as { result: object }).result)).toEqual(['XETHZUSD']);
  });

  it('answers unknown methods with EGeneral:Unknown method', async () => {
    expect(await client.public('Foo')).toEqual({ error: ['EGeneral:Unknown method'] });
    const res = await fetch(`${exchange.url}/0/public/Ticker`, { method: 'DELETE' });
    expect(await res.json()).toEqual({ error: ['EGeneral:Unknown method'] });
    const other = await fetch(`${exchange.url}/nothing/here`);
    expect(other.status).toBe(404);
  });

  it('moves prices deterministically for a seed', async () => {
    const a = await paperWithClient({ seed: 99, publicRateLimit: false });
    const b = await paperWithClient({ seed: 99, publicRateLimit: false });
    const c = await paperWithClient({ seed: 100, publicRateLimit: false });
    try {
      const path = async (x: typeof a) => {
        const seen: string[] = [];
        for (let i = 0; i < 5; i++) {
          x.exchange.step();
          seen.push(x.exchange.inspect.quote('XBTUSD').last.toFixed());
        }
        return seen;
      };
      const [pa, pb, pc] = [await path(a), await path(b), await path(c)];
      expect(pa).toEqual(pb);
      expect(pa).not.toEqual(pc);
      expect(new Set(pa).size).toBeGreaterThan(1);
    } finally {
      await Promise.all([a.exchange.close(), b.exchange.close(), c.exchange.close()]);
    }
  });
});

describe('paper exchange: system status', () => {
  it('reports the status set and behaves as Kraken documents for each', async () => {
    const { exchange, client } = await paperWithClient({ tier: 'unlimited' });
    try {
      const limit = { pair: 'XBTUSD', type: 'buy', ordertype: 'limit', price: '59000.0', volume: '0.1' };
      const resting = result<{ txid: string[] }>(await client.private('AddOrder', limit)).txid[0] ?? '';

      exchange.setSystemStatus('cancel_only');
      expect(result(await client.public('SystemStatus'))).toMatchObject({ status: 'cancel_only' });
      expect(await client.private('AddOrder', limit)).toEqual({ error: ['EService:Market in cancel_only mode'] });
      exchange.setPrice('XBTUSD', '58000');
      expect(exchange.inspect.order(resting)?.volumeExecuted.toFixed()).toBe('0');

      exchange.setSystemStatus('post_only');
      expect(await client.private('AddOrder', limit)).toEqual({ error: ['EService:Market in post_only mode'] });
      expect((await client.private('AddOrder', { ...limit, price: '57000.0', oflags: 'post' })).error).toEqual([]);

      exchange.setSystemStatus('maintenance');
      expect(await client.private('CancelOrder', { txid: resting })).toEqual({ error: ['EService:Unavailable'] });

      exchange.setSystemStatus('online');
      expect(result(await client.private('CancelOrder', { txid: resting }))).toEqual({ count: 1, pending: false });
    } finally {
      await exchange.close();
    }
  });
});
