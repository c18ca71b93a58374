import { connect } from 'node:net';
import fetch from 'cross-fetch';
import { signRequest } from '../../src/kraken/sign';
import { type PaperExchange } from '../../src/paper';
import { paperWithClient, result, type TestClient } from './harness';

describe('paper exchange: bad requests never crash it or corrupt its state', () => {
  let exchange: PaperExchange;
  let client: TestClient;

  beforeEach(async () => {
    ({ exchange, client } = await paperWithClient({ tier: 'unlimited', maxBodyBytes: 16 * 1024 }));
  });
  afterEach(() => exchange.close());

  const post = (path: string, body: string, headers: Record<string, string> = {}) =>
    fetch(`${exchange.url}${path}`, { method: 'POST', headers: { 'API-Key': exchange.apiKey, 'API-Sign': 'x', ...headers }, body });

  it('survives garbage, wrong methods, unknown endpoints, huge bodies and raw non-HTTP bytes', async () => {
    await client.private('AddOrder', { pair: 'XBTUSD', type: 'buy', ordertype: 'limit', price: '59000.0', volume: '0.1', cl_ord_id: 'keep-me' });
    const before = JSON.stringify(result(await client.private('BalanceEx')));

    expect(await (await post('/0/private/AddOrder', '%%%&&&==\u0000\u00ff')).json()).toEqual({ error: ['EAPI:Invalid signature'] });
    expect(await (await post('/0/private/AddOrder', '{not json', { 'Content-Type': 'application/json' })).json()).toEqual({ error: ['EAPI:Bad request'] });
    expect(await (await post('/0/private/AddOrder', '[1,2,3]', { 'Content-Type': 'application/json' })).json()).toEqual({ error: ['EAPI:Bad request'] });
    expect(await (await fetch(`${exchange.url}/0/private/Balance`)).json()).toEqual({ error: ['EGeneral:Unknown method'] });
    expect(await client.private('Withdraw', { asset: 'XBT' })).toEqual({ error: ['EGeneral:Unknown method'] });
    expect(await client.private('Ticker')).toEqual({ error: ['EGeneral:Unknown method'] });
    const huge = await post('/0/private/AddOrder', `nonce=1&pad=${'x'.repeat(200_000)}`);
    expect(huge.status).toBe(413);
    expect((await fetch(`${exchange.url}/0/public/Ticker?pair=%zz`)).status).toBe(200);

    await new Promise<void>((resolve) => {
      const socket = connect(Number(new URL(exchange.url).port), '127.0.0.1', () => socket.end('\u0016\u0003\u0001 not http at all\r\n\r\n'));
      socket.on('error', () => resolve());
      socket.on('close', () => resolve());
    });

    const answer = await new Promise<string>((resolve) => {
      let received = '';
      const socket = connect(Number(new URL(exchange.url).port), '127.0.0.1', () => socket.write('GET //[bad HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n'));
      socket.on('data', (chunk: Buffer) => (received += chunk.toString('utf8')));
      socket.on('error', () => resolve(received));
      socket.on('close', () => resolve(received));
    });
    expect(answer).toMatch(/^HTTP\/1\.1 400/);

    expect(JSON.stringify(result(await client.private('BalanceEx')))).toBe(before);
    expect(exchange.inspect.orders().map((o) => o.clOrdId)).toEqual(['keep-me']);
    expect((await client.public('Time')).error).toEqual([]);
  });

  it('answers malformed typed parameters with invalid arguments, in JSON bodies as well', async () => {
    const { exchange: j, client: jc } = await paperWithClient({}, 'json');
    try {
      const nonce = '123456';
      const body = JSON.stringify({ nonce, pair: 'XBTUSD', type: 'buy', ordertype: 'limit', price: { nested: true }, volume: '1' });
      const res = await fetch(`${j.url}/0/private/AddOrder`, {
        method: 'POST',
        headers: { 'API-Key': j.apiKey, 'API-Sign': signRequest('/0/private/AddOrder', nonce, body, j.apiSecret), 'Content-Type': 'application/json' },
        body,
      });
      expect(await res.json()).toEqual({ error: ['EGeneral:Invalid arguments:price'] });
      expect(await jc.private('AddOrder', { pair: 'XBTUSD', type: 'buy', ordertype: 'limit', price: '59000', volume: '1', validate: 'maybe' })).toEqual({ error: ['EGeneral:Invalid arguments:validate'] });
      expect(await jc.private('ClosedOrders', { ofs: -1 })).toEqual({ error: ['EGeneral:Invalid arguments:ofs'] });
      expect(j.inspect.orders()).toHaveLength(0);
    } finally {
      await j.close();
    }
  });
});
