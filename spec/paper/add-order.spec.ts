import { type PaperExchange } from '../../src/paper';
import { type ManualClock, paperOnIdleClock, paperWithClient, result, type TestClient } from './harness';

interface Added {
  descr: { order: string };
  txid?: string[];
}

describe('paper exchange: AddOrder', () => {
  let exchange: PaperExchange;
  let client: TestClient;
  let clock: ManualClock;

  beforeEach(async () => {
    ({ exchange, client, clock } = await paperWithClient({ tier: 'unlimited' }));
  });
  afterEach(() => exchange.close());

  const add = (params: Record<string, string | number | boolean>) =>
    client.private('AddOrder', { pair: 'XBTUSD', type: 'buy', ordertype: 'limit', price: '59000.0', volume: '0.10000000', ...params });

  it('places a limit order: descr.order text and one txid in Kraken shape', async () => {
    const added = result<Added>(await add({}));
    expect(added.descr.order).toBe('buy 0.10000000 XBTUSD @ limit 59000.0');
    expect(added.txid).toHaveLength(1);
    expect(added.txid?.[0]).toMatch(/^O[A-Z0-9]{5}-[A-Z0-9]{5}-[A-Z0-9]{6}$/);
    expect(exchange.inspect.orders().map((o) => o.txid)).toEqual(added.txid);
  });

  it('describes every order type as Kraken does', async () => {
    const cases: [Record<string, string>, string][] = [
      [{ ordertype: 'market' }, 'buy 0.10000000 XBTUSD @ market'],
      [{ type: 'sell', ordertype: 'stop-loss', price: '50000.0' }, 'sell 0.10000000 XBTUSD @ stop loss 50000.0'],
      [{ type: 'sell', ordertype: 'take-profit', price: '70000.0' }, 'sell 0.10000000 XBTUSD @ take profit 70000.0'],
      [{ type: 'sell', ordertype: 'stop-loss-limit', price: '50000.0', price2: '49900.0' }, 'sell 0.10000000 XBTUSD @ stop loss 50000.0 -> limit 49900.0'],
      [{ type: 'sell', ordertype: 'take-profit-limit', price: '70000.0', price2: '69900.0' }, 'sell 0.10000000 XBTUSD @ take profit 70000.0 -> limit 69900.0'],
    ];
    for (const [params, text] of cases) expect(result<Added>(await add({ ...params, validate: true })).descr.order).toBe(text);
  });

  it('validate=true checks and describes without placing: no txid', async () => {
    const added = result<Added>(await add({ validate: true }));
    expect(added.descr.order).toBe('buy 0.10000000 XBTUSD @ limit 59000.0');
    expect(added.txid).toBeUndefined();
    expect(exchange.inspect.orders()).toHaveLength(0);
  });

  it.each([
    ['ordertype', { ordertype: 'iceberg' }],
    ['ordertype', { ordertype: 'shout' }],
    ['type', { type: 'hold' }],
    ['volume', { volume: 'ten' }],
    ['volume', { volume: '0' }],
    ['volume', { volume: '0.123456789' }],
    ['price', { price: 'abc' }],
    ['price2', { type: 'sell', ordertype: 'stop-loss-limit', price: '50000.0' }],
    ['oflags', { oflags: 'post,weird' }],
    ['oflags', { oflags: 'fcib,fciq' }],
    ['timeinforce', { timeinforce: 'FOREVER' }],
    ['expiretm', { timeinforce: 'GTD' }],
    ['userref', { userref: 'abc' }],
    ['leverage', { leverage: '5' }],
  ])('refuses bad arguments with EGeneral:Invalid arguments:%s', async (field, params) => {
    expect(await add(params)).toEqual({ error: [`EGeneral:Invalid arguments:${field}`] });
  });

  it('refuses an unknown pair with EQuery:Unknown asset pair', async () => {
    expect(await add({ pair: 'XBTJPY' })).toEqual({ error: ['EQuery:Unknown asset pair'] });
  });

  it('refuses too many price decimals, naming the pair and its decimals', async () => {
    expect(await add({ price: '59000.05' })).toEqual({ error: ['EOrder:Invalid price:XXBTZUSD price can only be specified up to 1 decimals.'] });
    expect(await add({ pair: 'ETHUSD', price: '3000.123' })).toEqual({ error: ['EOrder:Invalid price:XETHZUSD price can only be specified up to 2 decimals.'] });
  });

  it('refuses a price off the tick grid with EOrder:Tick size check failed', async () => {
    // DOTUSD quotes 4 decimals on a 0.0005 grid.
    expect(await add({ pair: 'DOTUSD', price: '7.0003', volume: '1' })).toEqual({ error: ['EOrder:Tick size check failed'] });
    expect(await add({ pair: 'DOTUSD', price: '7.00005', volume: '1' })).toEqual({ error: ['EOrder:Invalid price:DOTUSD price can only be specified up to 4 decimals.'] });
    expect((await add({ pair: 'DOTUSD', price: '6.9995', volume: '1' })).error).toEqual([]);
  });

  it('refuses a volume below ordermin and a cost below costmin', async () => {
    expect(await add({ volume: '0.00001' })).toEqual({ error: ['EOrder:Order minimum not met'] });
    expect(await add({ pair: 'XRPUSD', price: '0.10000', volume: '3' })).toEqual({ error: ['EOrder:Cost minimum not met'] });
  });

  it('refuses an order the balance cannot cover with EOrder:Insufficient funds', async () => {
    expect(await add({ volume: '2' })).toEqual({ error: ['EOrder:Insufficient funds'] });
    expect(await add({ type: 'sell', price: '61000.0', volume: '10.5' })).toEqual({ error: ['EOrder:Insufficient funds'] });
    expect(exchange.inspect.orders()).toHaveLength(0);
  });

  it('holds funds for resting orders: a full-size stop-loss and a full-size take-profit cannot both rest', async () => {
    expect((await add({ type: 'sell', ordertype: 'stop-loss', price: '50000.0', volume: '10' })).error).toEqual([]);
    expect(await add({ type: 'sell', ordertype: 'take-profit', price: '70000.0', volume: '10' })).toEqual({ error: ['EOrder:Insufficient funds'] });
    const held = result<Record<string, { balance: string; hold_trade: string }>>(await client.private('BalanceEx'));
    expect(held['XXBT']).toEqual({ balance: '10.0000000000', hold_trade: '10.0000000000' });
  });

  it('accepts the three cl_ord_id forms and refuses anything else', async () => {
    for (const id of ['6d1b345e-2821-40e2-ad83-4ecb18a06876', 'da8e4ad59b78481c93e589746b0cf91f', 'arb-20240509-00010']) {
      expect((await add({ cl_ord_id: id })).error).toEqual([]);
    }
    for (const id of ['arb-20240509-000100', 'héllo', '']) {
      expect(await add({ cl_ord_id: id })).toEqual({ error: ['EGeneral:Invalid arguments:cl_ord_id'] });
    }
  });

  it('refuses cl_ord_id together with userref', async () => {
    expect(await add({ cl_ord_id: 'x1', userref: 7 })).toEqual({ error: ['EGeneral:Invalid arguments:cl_ord_id'] });
  });

  it('refuses a cl_ord_id already used by an open order, but not by a closed one', async () => {
    const first = result<Added>(await add({ cl_ord_id: 'dup-1' }));
    expect(await add({ cl_ord_id: 'dup-1' })).toEqual({ error: ['EOrder:Duplicate order'] });
    expect(exchange.inspect.acceptedCount('dup-1')).toBe(1);
    expect((await client.private('CancelOrder', { txid: first.txid?.[0] ?? '' })).error).toEqual([]);
    expect((await add({ cl_ord_id: 'dup-1' })).error).toEqual([]);
    expect(exchange.inspect.acceptedCount('dup-1')).toBe(2);
    expect(exchange.inspect.ordersByClOrdId('dup-1').map((o) => o.status)).toEqual(['canceled', 'open']);
  });

  it('keeps userref on the order', async () => {
    const added = result<Added>(await add({ userref: -42 }));
    expect(exchange.inspect.order(added.txid?.[0] ?? '')?.userref).toBe(-42);
  });

  it('checks the deadline: too near or too far is invalid, past is elapsed, in range places', async () => {
    const at = (ms: number) => new Date(clock.now() + ms).toISOString();
    expect(await add({ deadline: at(500) })).toEqual({ error: ['EGeneral:Invalid arguments:deadline'] });
    expect(await add({ deadline: at(61_000) })).toEqual({ error: ['EGeneral:Invalid arguments:deadline'] });
    expect(await add({ deadline: 'tomorrow' })).toEqual({ error: ['EGeneral:Invalid arguments:deadline'] });
    expect(await add({ deadline: at(-1) })).toEqual({ error: ['EService:Deadline elapsed'] });
    expect((await add({ deadline: at(10_000) })).error).toEqual([]);
  });

  it('a deadline that passes while the request waits (latency) is elapsed and nothing is placed', async () => {
    // 3 s of latency on the exchange's clock (virtual: it passes only while nothing else is in flight).
    const { exchange: slow, client: c, clock: idle, drive } = await paperOnIdleClock();
    try {
      slow.faults.setLatency('AddOrder', 3_000);
      const order = { pair: 'XBTUSD', type: 'buy', ordertype: 'limit', price: '59000.0', volume: '0.1' };
      const at = (ms: number): string => new Date(idle.now() + ms).toISOString();
      expect(await drive(c.private('AddOrder', { ...order, deadline: at(2_500) }))).toEqual({ error: ['EService:Deadline elapsed'] });
      expect((await drive(c.private('AddOrder', { ...order, deadline: at(30_000) }))).error).toEqual([]);
      expect(slow.inspect.orders()).toHaveLength(1);
    } finally {
      await slow.close();
    }
  });

  it('refuses a post-only order that would take with EOrder:Post only order, and rests one that would not', async () => {
    expect(await add({ price: '60000.1', oflags: 'post' })).toEqual({ error: ['EOrder:Post only order'] });
    expect(await add({ type: 'sell', price: '59999.9', oflags: 'post' })).toEqual({ error: ['EOrder:Post only order'] });
    const rested = result<Added>(await add({ price: '60000.0', oflags: 'post' }));
    const open = result<{ open: Record<string, { oflags: string; status: string }> }>(await client.private('OpenOrders'));
    expect(open.open[rested.txid?.[0] ?? '']).toMatchObject({ status: 'open', oflags: 'post,fciq' });
  });

  it('refuses the open order beyond the tier limit with EOrder:Orders limit exceeded', async () => {
    const { exchange: starter, client: c, clock: starterClock } = await paperWithClient({ tier: 'starter', balances: { USD: '10000000' } });
    try {
      for (let i = 0; i < 60; i++) {
        starterClock.tick(1_000); // let the trading counter decay: this test is about the open-order limit
        expect((await c.private('AddOrder', { pair: 'SOLUSD', type: 'buy', ordertype: 'limit', price: '100.00', volume: '1' })).error).toEqual([]);
      }
      expect(await c.private('AddOrder', { pair: 'SOLUSD', type: 'buy', ordertype: 'limit', price: '100.00', volume: '1' })).toEqual({ error: ['EOrder:Orders limit exceeded'] });
      // The limit is per pair.
      expect((await c.private('AddOrder', { pair: 'ETHUSD', type: 'buy', ordertype: 'limit', price: '100.00', volume: '1' })).error).toEqual([]);
    } finally {
      await starter.close();
    }
  });

  it('IOC takes what it can at once and cancels the rest', async () => {
    const added = result<Added>(await add({ price: '60000.1', volume: '0.8', timeinforce: 'IOC' }));
    const order = exchange.inspect.order(added.txid?.[0] ?? '');
    expect(order?.status).toBe('canceled');
    expect(order?.volumeExecuted.toFixed()).toBe('0.5');
  });

  it('GTD with expiretm expires at its time, keeping what executed', async () => {
    const added = result<Added>(await add({ timeinforce: 'GTD', expiretm: '+30' }));
    const txid = added.txid?.[0] ?? '';
    clock.tick(29_000);
    expect(exchange.inspect.order(txid)?.status).toBe('open');
    clock.tick(1_000);
    const closed = result<{ closed: Record<string, { status: string; closetm: number }> }>(await client.private('ClosedOrders'));
    expect(closed.closed[txid]).toMatchObject({ status: 'expired', closetm: (clock.now()) / 1000 });
    expect(await add({ timeinforce: 'GTD', expiretm: '+2' })).toEqual({ error: ['EGeneral:Invalid arguments:expiretm'] });
  });

  it('takes pair by key and by altname, and answers in JSON too', async () => {
    expect((await add({ pair: 'XXBTZUSD' })).error).toEqual([]);
    const { exchange: j, client: jc } = await paperWithClient({}, 'json');
    try {
      const added = result<Added>(await jc.private('AddOrder', { pair: 'ETHUSD', type: 'sell', ordertype: 'limit', price: '3100', volume: '1.5', cl_ord_id: 'json-1' }));
      expect(added.descr.order).toBe('sell 1.50000000 ETHUSD @ limit 3100.00');
      expect(j.inspect.ordersByClOrdId('json-1')).toHaveLength(1);
    } finally {
      await j.close();
    }
  });
});
