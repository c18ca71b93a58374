import { type PaperExchange } from '../../src/paper';
import { paperOnIdleClock, paperWithClient, result, type TestClient } from './harness';

interface Added {
  txid: string[];
}
type OrderJson = Record<string, unknown> & { status: string; vol_exec: string; cost: string; fee: string; price: string; misc: string };

describe('paper exchange: matching', () => {
  let exchange: PaperExchange;
  let client: TestClient;

  beforeEach(async () => {
    ({ exchange, client } = await paperWithClient({ tier: 'unlimited' }));
  });
  afterEach(() => exchange.close());

  const place = async (params: Record<string, string | number>): Promise<string> => {
    const added = result<Added>(await client.private('AddOrder', { pair: 'XBTUSD', volume: '0.10000000', ...params }));
    return added.txid[0] ?? '';
  };
  const query = async (txid: string): Promise<OrderJson> => {
    const found = result<Record<string, OrderJson>>(await client.private('QueryOrders', { txid, trades: true }))[txid];
    if (!found) throw new Error('not found');
    return found;
  };
  const balances = async () => result<Record<string, string>>(await client.private('Balance'));

  it('fills a market buy at once at the ask, with the taker fee in quote', async () => {
    const txid = await place({ type: 'buy', ordertype: 'market', volume: '0.5' });
    expect(await query(txid)).toMatchObject({ status: 'closed', vol_exec: '0.50000000', price: '60000.1', cost: '30000.05000', fee: '120.00020' });
    // 100000 - 30000.05 - 120.0002
    expect(await balances()).toMatchObject({ ZUSD: '69879.9498', XXBT: '10.5000000000' });
  });

  it('fills a market sell at the bid; the quote received is net of the fee', async () => {
    const txid = await place({ type: 'sell', ordertype: 'market', volume: '1' });
    expect(await query(txid)).toMatchObject({ status: 'closed', price: '59999.9', cost: '59999.90000', fee: '239.99960', oflags: 'fcib' });
    expect(await balances()).toMatchObject({ ZUSD: '159759.9004', XXBT: '9.0000000000' });
  });

  it('fills a resting limit in parts as the market trades through it, at its own price with the maker fee', async () => {
    const txid = await place({ type: 'buy', ordertype: 'limit', price: '59500.0', volume: '1.2' });
    exchange.setPrice('XBTUSD', '59600');
    expect((await query(txid)).vol_exec).toBe('0.00000000');
    exchange.setPrice('XBTUSD', '59500');
    expect(await query(txid)).toMatchObject({ status: 'open', vol_exec: '0.50000000', cost: '29750.00000', fee: '74.37500', price: '59500.0' });
    exchange.setPrice('XBTUSD', '59400');
    expect((await query(txid)).vol_exec).toBe('1.00000000');
    exchange.setPrice('XBTUSD', '59450');
    const done = await query(txid);
    expect(done).toMatchObject({ status: 'closed', vol_exec: '1.20000000', cost: '71400.00000', fee: '178.50000' });
    expect(done['trades']).toHaveLength(3);
    expect(done['closetm']).toEqual(expect.any(Number));
    expect(exchange.inspect.balance('XXBT').balance.toFixed()).toBe('11.2');
  });

  it('shares one run of liquidity between orders in time priority', async () => {
    const first = await place({ type: 'sell', ordertype: 'limit', price: '60500.0', volume: '0.4' });
    const second = await place({ type: 'sell', ordertype: 'limit', price: '60500.0', volume: '0.4' });
    exchange.setPrice('XBTUSD', '60600');
    expect((await query(first)).vol_exec).toBe('0.40000000');
    expect((await query(second)).vol_exec).toBe('0.10000000');
  });

  it('a marketable limit takes at the touch at once and rests the remainder', async () => {
    const txid = await place({ type: 'buy', ordertype: 'limit', price: '61000.0', volume: '0.8' });
    const order = await query(txid);
    expect(order).toMatchObject({ status: 'open', vol_exec: '0.50000000', price: '60000.1' });
  });

  it('triggers a stop-loss on the last price and executes it as a market order', async () => {
    const txid = await place({ type: 'sell', ordertype: 'stop-loss', price: '58000.0', volume: '2' });
    exchange.setPrice('XBTUSD', '58000.1');
    expect((await query(txid)).status).toBe('open');
    exchange.setPrice('XBTUSD', '57900');
    expect(await query(txid)).toMatchObject({ status: 'closed', vol_exec: '2.00000000', price: '57899.9', misc: 'stopped', stopprice: '58000.0' });
    expect(exchange.inspect.balance('XBT')).toEqual({ balance: expect.anything(), hold: expect.anything() });
    expect(exchange.inspect.balance('XBT').balance.toFixed()).toBe('8');
  });

  it('triggers a take-profit when the price moves in its favour', async () => {
    const txid = await place({ type: 'sell', ordertype: 'take-profit', price: '62000.0', volume: '1' });
    exchange.setPrice('XBTUSD', '61000');
    expect((await query(txid)).status).toBe('open');
    exchange.setPrice('XBTUSD', '62000');
    expect(await query(txid)).toMatchObject({ status: 'closed', price: '61999.9', misc: 'touched' });
  });

  it('a triggered stop-loss-limit becomes a limit at price2', async () => {
    const txid = await place({ type: 'sell', ordertype: 'stop-loss-limit', price: '58000.0', price2: '57950.0', volume: '0.3' });
    exchange.setPrice('XBTUSD', '57900'); // triggers; 57950 is above the bid, so it rests
    expect(await query(txid)).toMatchObject({ status: 'open', vol_exec: '0.00000000', limitprice: '57950.0', misc: 'stopped' });
    exchange.setPrice('XBTUSD', '57950');
    expect(await query(txid)).toMatchObject({ status: 'closed', vol_exec: '0.30000000', price: '57950.0' });
  });

  it('a buy stop triggers when the price rises to it', async () => {
    const txid = await place({ type: 'buy', ordertype: 'stop-loss', price: '61000.0', volume: '0.1' });
    exchange.setPrice('XBTUSD', '60900');
    expect((await query(txid)).status).toBe('open');
    exchange.setPrice('XBTUSD', '61000');
    expect(await query(txid)).toMatchObject({ status: 'closed', price: '61000.1' });
  });

  it('releases holds as orders fill or are cancelled', async () => {
    const txid = await place({ type: 'sell', ordertype: 'limit', price: '60100.0', volume: '4' });
    expect(exchange.inspect.balance('XXBT').hold.toFixed()).toBe('4');
    exchange.setPrice('XBTUSD', '60200');
    expect(exchange.inspect.balance('XXBT').hold.toFixed()).toBe('3.5');
    await client.private('CancelOrder', { txid });
    expect(exchange.inspect.balance('XXBT').hold.toFixed()).toBe('0');
    expect(exchange.inspect.balance('XXBT').balance.toFixed()).toBe('9.5');
  });

  it('takes the fee in base on a buy with oflags fcib', async () => {
    const txid = await place({ type: 'buy', ordertype: 'market', volume: '1', oflags: 'fcib' });
    expect((await query(txid)).oflags).toBe('fcib');
    // 1 XBT less 0.4 % of it.
    expect(exchange.inspect.balance('XXBT').balance.toFixed(8)).toBe('10.99600000');
    expect(exchange.inspect.balance('ZUSD').balance.toFixed()).toBe('39999.9');
  });

  it('step() moves prices by the seeded walk and fills what it crosses; runs are deterministic', async () => {
    const twin = await paperWithClient({ tier: 'unlimited' });
    try {
      const a = await place({ type: 'buy', ordertype: 'limit', price: '59950.0', volume: '1.5' });
      await twin.client.private('AddOrder', { pair: 'XBTUSD', type: 'buy', ordertype: 'limit', price: '59950.0', volume: '1.5' });
      for (let i = 0; i < 200; i++) {
        exchange.step();
        twin.exchange.step();
      }
      const [mine] = exchange.inspect.orders();
      const [theirs] = twin.exchange.inspect.orders();
      expect(mine?.txid).toBe(a);
      expect(mine?.volumeExecuted.toFixed()).toBe(theirs?.volumeExecuted.toFixed());
      expect(exchange.inspect.quote('XBTUSD').last.toFixed()).toBe(twin.exchange.inspect.quote('XBTUSD').last.toFixed());
      expect(exchange.inspect.quote('XBTUSD').last.toFixed()).not.toBe('60000');
    } finally {
      await twin.exchange.close();
    }
  });

  it('advance(ms) moves the paper clock and steps the market', async () => {
    const before = exchange.now();
    exchange.advance(5_000);
    expect(exchange.now()).toBe(before + 5_000);
    const time = result<{ unixtime: number }>(await client.public('Time'));
    expect(time.unixtime).toBe(Math.floor((before + 5_000) / 1000));
  });

  it('autoTick steps the market on its timers, one step every autoTick ms', async () => {
    const ticking = await paperOnIdleClock({ autoTick: 1_000 });
    try {
      const start = ticking.exchange.inspect.quote('ETHUSD').last.toFixed();
      const tradesPrinted = async (): Promise<number> =>
        result<Record<string, { t: number[] }>>(await ticking.drive(ticking.client.public('Ticker', { pair: 'ETHUSD' })))['XETHZUSD']?.t[0] ?? 0;
      const before = await tradesPrinted();
      await ticking.clock.advance(999);
      expect(await tradesPrinted()).toBe(before);
      await ticking.clock.advance(1);
      const afterOne = await tradesPrinted();
      expect(afterOne).toBeGreaterThan(before);
      await ticking.clock.advance(4_000);
      expect(ticking.exchange.inspect.quote('ETHUSD').last.toFixed()).not.toBe(start);
      // Closing stops the clockwork: nothing is left pending on the clock.
      await ticking.exchange.close();
      expect(ticking.clock.pendingTimers()).toBe(0);
    } finally {
      await ticking.exchange.close();
    }
  });
});
