import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { type PaperExchange, startPaperExchange } from '../../src/paper';

interface CcxtSeen {
  failed?: string;
  markets: { symbols: string[]; btc: { id: string; amountMin: number; costMin: number; pricePrecision: number } };
  ticker: { last: number; bid: number; ask: number };
  created: Record<'market' | 'limit' | 'stop' | 'takeProfit', string>;
  fetched: { clientOrderId: string; status: string; price: number; amount: number };
  open: string[];
  closed: { clientOrderId: string; status: string; filled: number }[];
  balance: { btcTotal: number; usdTotal: number; btcUsed: number };
  errors: Record<string, string>;
}

/** Runs ccxt in its own node process (its ESM dependencies do not load under jest on Node 20). */
function driveCcxt(exchange: PaperExchange): Promise<CcxtSeen> {
  return new Promise((resolve, reject) => {
    execFile(
      process.execPath,
      [join(__dirname, 'support', 'ccxt-driver.js'), exchange.url, exchange.apiKey, exchange.apiSecret],
      { timeout: 30_000 },
      (error, stdout) => {
        const line = stdout.trim().split('\n').pop() ?? '';
        try {
          resolve(JSON.parse(line) as CcxtSeen);
        } catch {
          reject(error ?? new Error(`ccxt driver printed no result: ${stdout}`));
        }
      },
    );
  });
}

/**
 * A widely used third-party Kraken client (ccxt's `kraken` class, unmodified), pointed at the paper exchange's
 * URL: it loads markets, reads a ticker, places market / limit / stop-loss / take-profit orders with a client
 * order id, fetches, lists and cancels them, reads the balance, and maps the errors to its own classes.
 */
describe('paper exchange through ccxt', () => {
  let exchange: PaperExchange;
  let seen: CcxtSeen;

  beforeAll(async () => {
    exchange = await startPaperExchange({ tier: 'unlimited', seed: 21 });
    exchange.setPrice('XBTUSD', '60500');
    seen = await driveCcxt(exchange);
  }, 40_000);
  afterAll(() => exchange.close());

  it('ran the whole scenario', () => {
    expect(seen.failed).toBeUndefined();
  });

  it('loads markets with precision and limits from AssetPairs', () => {
    expect(seen.markets.symbols).toEqual(expect.arrayContaining(['BTC/USD', 'ETH/USD', 'SOL/USD', 'BTC/EUR', 'ETH/BTC']));
    expect(seen.markets.btc).toEqual({ id: 'XXBTZUSD', amountMin: 0.00005, costMin: 0.5, pricePrecision: 0.1 });
  });

  it('fetches a ticker', () => {
    expect(seen.ticker).toEqual({ last: 60500, bid: 60499.9, ask: 60500.1 });
  });

  it('places each order type with its client order id, as the exchange recorded it', () => {
    const expected = [
      ['ccxt-market', seen.created.market, 'market'],
      ['ccxt-limit', seen.created.limit, 'limit'],
      ['ccxt-stop', seen.created.stop, 'stop-loss'],
      ['ccxt-tp', seen.created.takeProfit, 'take-profit'],
    ] as const;
    for (const [clOrdId, txid, type] of expected) {
      expect(exchange.inspect.ordersByClOrdId(clOrdId).map((o) => [o.txid, o.orderType])).toEqual([[txid, type]]);
    }
  });

  it('fetches an order, lists open and closed orders, and cancels', () => {
    expect(seen.fetched).toEqual({ clientOrderId: 'ccxt-limit', status: 'open', price: 50000, amount: 0.02 });
    expect(seen.open).toEqual(['ccxt-limit', 'ccxt-stop', 'ccxt-tp']);
    expect(seen.closed).toEqual(
      expect.arrayContaining([
        { clientOrderId: 'ccxt-market', status: 'closed', filled: 0.01 },
        { clientOrderId: 'ccxt-limit', status: 'canceled', filled: 0 },
      ]),
    );
    expect(exchange.inspect.ordersByClOrdId('ccxt-limit')[0]?.status).toBe('canceled');
  });

  it('fetches the balance', () => {
    expect(seen.balance.btcTotal).toBe(10.01);
    expect(seen.balance.usdTotal).toBeGreaterThan(99_000);
  });

  it('maps the paper exchange errors to the same ccxt classes as Kraken errors', () => {
    expect(seen.errors).toEqual({ insufficientFunds: 'InsufficientFunds', unknownOrder: 'OrderNotFound' });
  });
});
