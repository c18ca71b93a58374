import fetch from 'cross-fetch';
import { startPaperExchange } from '../../src/paper';
import { paperWithClient, result, TestClient } from './harness';

describe('paper exchange: start-up options', () => {
  it('restricts the catalogue, sets opening prices and balances', async () => {
    const { exchange, client } = await paperWithClient({ pairs: ['BTC/USD', 'SOLUSD'], prices: { XBTUSD: '42000' }, balances: { USD: '1234.5', SOL: '2' } });
    try {
      expect(Object.keys(result(await client.public('AssetPairs')))).toEqual(['XXBTZUSD', 'SOLUSD']);
      expect(await client.public('Ticker', { pair: 'ETHUSD' })).toEqual({ error: ['EQuery:Unknown asset pair'] });
      expect(exchange.inspect.quote('XBTUSD').last.toFixed()).toBe('42000');
      expect(result(await client.private('Balance'))).toEqual({ ZUSD: '1234.5000', SOL: '2.0000000000' });
    } finally {
      await exchange.close();
    }
  });

  it('refuses unknown pair and asset names and a secret that is not 64 bytes of base64', async () => {
    await expect(startPaperExchange({ pairs: ['XBTJPY'] })).rejects.toThrow('unknown pair XBTJPY');
    await expect(startPaperExchange({ balances: { NOPE: '1' } })).rejects.toThrow('unknown asset NOPE');
    await expect(startPaperExchange({ apiKey: 'k', apiSecret: Buffer.alloc(32).toString('base64') })).rejects.toThrow('64 bytes');
  });

  it('uses given credentials, listens on the port asked for, and frees it on close', async () => {
    const secret = Buffer.alloc(64, 9).toString('base64');
    const first = await startPaperExchange({ apiKey: 'my-key', apiSecret: secret });
    const port = Number(new URL(first.url).port);
    await first.close();
    const again = await startPaperExchange({ port, apiKey: 'my-key', apiSecret: secret });
    try {
      expect(again.url).toBe(`http://127.0.0.1:${port}`);
      expect([again.apiKey, again.apiSecret]).toEqual(['my-key', secret]);
      const client = new TestClient(again.url, again);
      expect((await client.private('Balance')).error).toEqual([]);
      expect((await fetch(`${again.url}/0/public/Time`)).status).toBe(200);
    } finally {
      await again.close();
    }
  });

  it('gives extra API keys their own nonce and REST counter on the same account', async () => {
    const { exchange, client, clock } = await paperWithClient({ tier: 'starter' });
    try {
      const other = new TestClient(exchange.url, exchange.addApiKey(), clock.now);
      await client.private('AddOrder', { pair: 'XBTUSD', type: 'buy', ordertype: 'limit', price: '59000.0', volume: '0.1', cl_ord_id: 'shared' });
      expect(Object.keys(result<{ open: object }>(await other.private('OpenOrders', { cl_ord_id: 'shared' })).open)).toHaveLength(1);
      expect(exchange.inspect.ordersByClOrdId('shared')).toHaveLength(1);
    } finally {
      await exchange.close();
    }
  });
});
