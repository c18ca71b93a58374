import { startPaperExchange } from '../../src/paper';
import { result, TestClient } from './harness';

describe('paper exchange: concurrent clients', () => {
  it('serves 1,000 mixed requests from 5 concurrent clients without losing an order', async () => {
    const exchange = await startPaperExchange({ tier: 'unlimited', seed: 11, balances: { USD: '100000000', XBT: '1000', ETH: '10000' } });
    try {
      const clients = [exchange, ...Array.from({ length: 4 }, () => exchange.addApiKey())].map((c) => new TestClient(exchange.url, c));
      const acknowledged = new Map<string, string>();
      let errors = 0;
      const run = async (client: TestClient, id: number): Promise<void> => {
        const mine: string[] = [];
        for (let i = 0; i < 200; i++) {
          switch (i % 5) {
            case 0:
            case 1: {
              const clOrdId = `c${id}-${i}`;
              const side = i % 2 === 0 ? 'buy' : 'sell';
              const pair = id % 2 === 0 ? 'XBTUSD' : 'ETHUSD';
              const price = pair === 'XBTUSD' ? (side === 'buy' ? '59000.0' : '61000.0') : side === 'buy' ? '2900.00' : '3100.00';
              const added = await client.private('AddOrder', { pair, type: side, ordertype: 'limit', price, volume: '0.01', cl_ord_id: clOrdId });
              const txid = result<{ txid: string[] }>(added).txid[0] ?? '';
              acknowledged.set(clOrdId, txid);
              mine.push(txid);
              break;
            }
            case 2:
              if ((await client.private('OpenOrders')).error.length > 0) errors++;
              break;
            case 3: {
              const victim = mine.shift();
              if (victim && (await client.private('CancelOrder', { txid: victim })).error.length > 0) errors++;
              break;
            }
            default:
              if ((await client.public('Ticker', { pair: 'XBTUSD,ETHUSD' })).error.length > 0) errors++;
              exchange.step();
          }
        }
      };
      await Promise.all(clients.map((c, i) => run(c, i)));

      expect(errors).toBe(0);
      expect(acknowledged.size).toBe(400);
      const requests = [...exchange.inspect.requestCounts().values()].reduce((a, b) => a + b, 0);
      expect(requests).toBe(1000);
      for (const [clOrdId, txid] of acknowledged) {
        const orders = exchange.inspect.ordersByClOrdId(clOrdId);
        expect(orders.map((o) => o.txid)).toEqual([txid]);
      }
      expect(exchange.inspect.orders()).toHaveLength(400);
      expect(new Set(exchange.inspect.orders().map((o) => o.txid)).size).toBe(400);
      for (const b of exchange.inspect.balances().values()) expect(b.balance.gte(0)).toBe(true);
    } finally {
      await exchange.close();
    }
  });
});
