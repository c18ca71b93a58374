import { type PaperExchange } from '../../src/paper';
import { type ManualClock, paperWithClient, result, type TestClient } from './harness';

interface Added {
  txid: string[];
}
type OrderJson = Record<string, unknown> & { status: string; vol_exec: string; descr: Record<string, string> };

describe('paper exchange: order management and queries', () => {
  let exchange: PaperExchange;
  let client: TestClient;
  let clock: ManualClock;

  beforeEach(async () => {
    ({ exchange, client, clock } = await paperWithClient({ tier: 'unlimited' }));
  });
  afterEach(() => exchange.close());

  const place = async (params: Record<string, string | number> = {}): Promise<string> => {
    const added = result<Added>(await client.private('AddOrder', { pair: 'XBTUSD', type: 'buy', ordertype: 'limit', price: '59000.0', volume: '0.10000000', ...params }));
    const txid = added.txid[0];
    if (!txid) throw new Error('no txid');
    return txid;
  };
  const open = async (params: Record<string, string | number | boolean> = {}) =>
    result<{ open: Record<string, OrderJson> }>(await client.private('OpenOrders', params)).open;
  const closed = async (params: Record<string, string | number | boolean> = {}) =>
    result<{ closed: Record<string, OrderJson>; count: number }>(await client.private('ClosedOrders', params));

  it('lists an open order with every field Kraken shows', async () => {
    const txid = await place({ cl_ord_id: 'open-1' });
    expect((await open())[txid]).toEqual({
      refid: null,
      userref: null,
      cl_ord_id: 'open-1',
      status: 'open',
      reason: null,
      opentm: clock.now() / 1000,
      starttm: 0,
      expiretm: 0,
      descr: { pair: 'XBTUSD', type: 'buy', ordertype: 'limit', price: '59000.0', price2: '0', leverage: 'none', order: 'buy 0.10000000 XBTUSD @ limit 59000.0', close: '' },
      vol: '0.10000000',
      vol_exec: '0.00000000',
      cost: '0.00000',
      fee: '0.00000',
      price: '0.0',
      stopprice: '0.00000',
      limitprice: '0.00000',
      misc: '',
      oflags: 'fciq',
    });
  });

  it('filters OpenOrders by cl_ord_id and by userref, and adds trades on request', async () => {
    const a = await place({ cl_ord_id: 'filter-a' });
    const b = await place({ userref: 77 });
    await place({ userref: 78 });
    expect(Object.keys(await open({ cl_ord_id: 'filter-a' }))).toEqual([a]);
    expect(Object.keys(await open({ userref: 77 }))).toEqual([b]);
    expect(Object.keys(await open({ cl_ord_id: 'none-such' }))).toEqual([]);
    expect((await open({ trades: true }))[a]?.['trades']).toEqual([]);
  });

  it('hides a just-placed order from OpenOrders for the configured lag', async () => {
    exchange.setOpenOrdersLag(2_000);
    const txid = await place({ cl_ord_id: 'laggy' });
    expect(await open({ cl_ord_id: 'laggy' })).toEqual({});
    clock.tick(1_999);
    expect(await open({ cl_ord_id: 'laggy' })).toEqual({});
    clock.tick(1);
    expect(Object.keys(await open({ cl_ord_id: 'laggy' }))).toEqual([txid]);
  });

  it('cancels by txid, by cl_ord_id and by userref, answering count and pending', async () => {
    const a = await place();
    const b = await place({ cl_ord_id: 'cancel-me' });
    await place({ userref: 5 });
    await place({ userref: 5 });
    expect(result(await client.private('CancelOrder', { txid: a }))).toEqual({ count: 1, pending: false });
    expect(result(await client.private('CancelOrder', { cl_ord_id: 'cancel-me' }))).toEqual({ count: 1, pending: false });
    expect(result(await client.private('CancelOrder', { txid: 5 }))).toEqual({ count: 2, pending: false });
    expect(await open()).toEqual({});
    const c = await closed();
    expect(c.closed[a]).toMatchObject({ status: 'canceled', reason: 'User requested', closetm: clock.now() / 1000 });
    expect(c.closed[b]?.['cl_ord_id']).toBe('cancel-me');
  });

  it('answers EOrder:Unknown order for a gone or never-known order', async () => {
    const a = await place();
    expect((await client.private('CancelOrder', { txid: a })).error).toEqual([]);
    expect(await client.private('CancelOrder', { txid: a })).toEqual({ error: ['EOrder:Unknown order'] });
    expect(await client.private('CancelOrder', { txid: 'OAAAAA-BBBBB-CCCCCC' })).toEqual({ error: ['EOrder:Unknown order'] });
    expect(await client.private('CancelOrder', { cl_ord_id: 'never' })).toEqual({ error: ['EOrder:Unknown order'] });
    expect(await client.private('CancelOrder', {})).toEqual({ error: ['EGeneral:Invalid arguments:txid'] });
  });

  it('a partially filled order that is cancelled is canceled with its vol_exec', async () => {
    const txid = await place({ volume: '1.2' });
    exchange.setPrice('XBTUSD', '58900'); // the market trades through 59000: 0.5 fills (liquidity per run)
    expect(result(await client.private('CancelOrder', { txid }))).toEqual({ count: 1, pending: false });
    const order = (await closed()).closed[txid];
    expect(order).toMatchObject({ status: 'canceled', vol: '1.20000000', vol_exec: '0.50000000', cost: '29500.00000', price: '59000.0', reason: 'User requested' });
  });

  it('pages ClosedOrders newest first, 50 per page, with the grand count', async () => {
    const txids: string[] = [];
    for (let i = 0; i < 55; i++) {
      const txid = await place({ cl_ord_id: `page-${i}` });
      clock.tick(1_000);
      expect((await client.private('CancelOrder', { txid })).error).toEqual([]);
      txids.push(txid);
    }
    const first = await closed();
    expect(first.count).toBe(55);
    expect(Object.keys(first.closed)).toEqual(txids.slice().reverse().slice(0, 50));
    const second = await closed({ ofs: 50 });
    expect(Object.keys(second.closed)).toEqual(txids.slice(0, 5).reverse());
    const one = await closed({ cl_ord_id: 'page-3' });
    expect(one.count).toBe(1);
    expect(Object.keys(one.closed)).toEqual([txids[3]]);
  });

  it('QueryOrders returns each txid asked for, open or closed, up to 50', async () => {
    const a = await place();
    const b = await place({ userref: 9 });
    await client.private('CancelOrder', { txid: b });
    const found = result<Record<string, OrderJson>>(await client.private('QueryOrders', { txid: `${a},${b}`, trades: true }));
    expect(Object.keys(found)).toEqual([a, b]);
    expect(found[a]?.status).toBe('open');
    expect(found[b]).toMatchObject({ status: 'canceled', userref: 9, trades: [] });
    expect(await client.private('QueryOrders', {})).toEqual({ error: ['EGeneral:Invalid arguments:txid'] });
    expect(await client.private('QueryOrders', { txid: Array.from({ length: 51 }, () => a).join(',') })).toEqual({ error: ['EGeneral:Invalid arguments:txid'] });
    expect(Object.keys(result(await client.private('QueryOrders', { txid: Array.from({ length: 50 }, () => a).join(',') })))).toEqual([a]);
    expect(await client.private('QueryOrders', { txid: 'OAAAAA-BBBBB-CCCCCC' })).toEqual({ error: ['EOrder:Invalid order'] });
  });

  it('CancelAll cancels every open order', async () => {
    await place();
    await place({ pair: 'ETHUSD', price: '2900.00', volume: '1' });
    expect(result(await client.private('CancelAll'))).toEqual({ count: 2, pending: false });
    expect(await open()).toEqual({});
    expect(result(await client.private('CancelAll'))).toEqual({ count: 0, pending: false });
  });

  it('CancelAllOrdersAfter cancels everything when its timer runs out, and 0 disarms it', async () => {
    expect(result(await client.private('CancelAllOrdersAfter', { timeout: 60 }))).toEqual({ currentTime: '2026-01-05T12:00:00Z', triggerTime: '2026-01-05T12:01:00Z' });
    await place();
    clock.tick(30_000);
    // Re-arming pushes the trigger back.
    expect(result(await client.private('CancelAllOrdersAfter', { timeout: 60 }))).toMatchObject({ triggerTime: '2026-01-05T12:01:30Z' });
    clock.tick(59_000);
    expect(Object.keys(await open())).toHaveLength(1);
    clock.tick(1_000);
    expect(await open()).toEqual({});
    await place();
    clock.tick(120_000);
    expect(Object.keys(await open())).toHaveLength(1); // fired once, then off
    await client.private('CancelAllOrdersAfter', { timeout: 10 });
    expect(result(await client.private('CancelAllOrdersAfter', { timeout: 0 }))).toMatchObject({ triggerTime: '0' });
    clock.tick(20_000);
    expect(Object.keys(await open())).toHaveLength(1);
    expect(await client.private('CancelAllOrdersAfter', { timeout: 86_400 })).toEqual({ error: ['EGeneral:Invalid arguments:timeout'] });
  });

  it('TradesHistory lists fills newest first with the pair key, and BalanceEx shows holds', async () => {
    const txid = await place({ volume: '0.2' });
    exchange.setPrice('XBTUSD', '58000');
    await place({ ordertype: 'market', volume: '0.01' });
    const history = result<{ trades: Record<string, Record<string, unknown>>; count: number }>(await client.private('TradesHistory'));
    expect(history.count).toBe(2);
    const [newest, oldest] = Object.values(history.trades);
    expect(oldest).toMatchObject({ ordertxid: txid, pair: 'XXBTZUSD', type: 'buy', ordertype: 'limit', price: '59000.00000', vol: '0.20000000', cost: '11800.00000', fee: '29.50000', maker: true });
    expect(newest).toMatchObject({ pair: 'XXBTZUSD', ordertype: 'market', price: '58000.10000', vol: '0.01000000', maker: false });
    expect(typeof oldest?.['trade_id']).toBe('number');
  });
});
