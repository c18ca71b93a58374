import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { type PaperExchange, startPaperExchange } from '../../src/paper';

interface CcxtProSeen {
  failed?: string;
  ticker: { symbol: string; last: number; bid: number; ask: number };
  placed: { id: string };
  trades: { order: string; symbol: string; side: string; amount: number; price: number }[];
  resting: string;
  orders: { id: string; status: string }[];
  cancelled: { success: boolean; result: Record<string, unknown> };
}

/** Runs ccxt pro in its own node process (its ESM dependencies do not load under jest on Node 20). */
function driveCcxtPro(exchange: PaperExchange): Promise<CcxtProSeen> {
  return new Promise((resolve, reject) => {
    execFile(
      process.execPath,
      [join(__dirname, 'support', 'ccxt-pro-driver.js'), exchange.url, exchange.wsUrl, exchange.apiKey, exchange.apiSecret],
      { timeout: 30_000 },
      (error, stdout) => {
        const line = stdout.trim().split('\n').pop() ?? '';
        try {
          resolve(JSON.parse(line) as CcxtProSeen);
        } catch {
          reject(error ?? new Error(`ccxt pro driver printed no result: ${stdout}`));
        }
      },
    );
  });
}

/**
 * A widely used third-party Kraken WebSocket v2 client (ccxt pro's `kraken` class, unmodified), pointed at the
 * paper exchange's `/v2`: it reads the ticker, places orders over the socket, sees its fill in watchMyTrades and
 * its resting order in watchOrders, and cancels over the socket — the shapes are Kraken's as ccxt reads them.
 */
describe('paper exchange WebSocket v2 through ccxt pro', () => {
  let exchange: PaperExchange;
  let seen: CcxtProSeen;

  beforeAll(async () => {
    exchange = await startPaperExchange({ tier: 'unlimited', seed: 21 });
    exchange.setPrice('XBTUSD', '60500');
    seen = await driveCcxtPro(exchange);
  }, 40_000);
  afterAll(() => exchange.close());

  it('ran the whole scenario', () => {
    expect(seen.failed).toBeUndefined();
  });

  it('reads the ticker from the ticker channel', () => {
    expect(seen.ticker).toEqual({ symbol: 'BTC/USD', last: 60500, bid: 60499.9, ask: 60500.1 });
  });

  it('places a market order over the socket and sees its fill in watchMyTrades', () => {
    const order = exchange.inspect.order(seen.placed.id);
    expect(order?.status).toBe('closed');
    expect(seen.trades).toEqual([{ order: seen.placed.id, symbol: 'BTC/USD', side: 'buy', amount: 0.01, price: 60500.1 }]);
  });

  it('sees the resting limit in watchOrders and cancels it over the socket', () => {
    expect(seen.orders).toContainEqual({ id: seen.resting, status: 'open' });
    expect(seen.cancelled).toEqual({ success: true, result: { order_id: seen.resting } });
    expect(exchange.inspect.order(seen.resting)?.status).toBe('canceled');
  });
});
