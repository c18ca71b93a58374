import { afterEach, beforeEach, describe, expect, it } from '@jest/globals';
import { HEARTBEAT_MS, WS_TOKEN_TTL_MS } from '../../src/paper';
import { result } from './harness';
import { type Frame, WsProbe, paperWs } from './ws-harness';

type Rig = Awaited<ReturnType<typeof paperWs>>;

const data = (frame: Frame | undefined): Frame[] => (frame?.['data'] ?? []) as Frame[];

describe('paper exchange WebSocket v2 (loopback, idle clock)', () => {
  let rig: Rig;
  beforeEach(async () => {
    rig = await paperWs();
  });
  afterEach(async () => {
    await rig.close();
  });

  it('greets a new connection with the status frame, its connection id a u64 written exactly', async () => {
    const probe = await rig.connect();
    expect(probe.frames).toHaveLength(1);
    const status = probe.frames[0];
    expect(status).toMatchObject({ channel: 'status', type: 'update' });
    const [entry] = data(status);
    expect(entry).toMatchObject({ api_version: 'v2', system: 'online', version: '2.0.10' });
    const id = String(entry?.['connection_id']);
    expect(id).toMatch(/^#\d+$/);
    expect(BigInt(id.slice(1)) > BigInt(Number.MAX_SAFE_INTEGER)).toBe(true);
    expect(rig.exchange.wsConnections()).toBe(1);
  });

  it('answers an upgrade on any other path with 404 and no socket', async () => {
    const probe = new WsProbe(rig.exchange.wsUrl.replace('/v2', '/v1'), rig.clock);
    await rig.clock.settle();
    expect(probe.open).toBe(false);
    expect(probe.closed?.code).toBe(1006);
    expect(rig.exchange.wsConnections()).toBe(0);
  });

  it('GetWebSocketsToken gives a token that expires in 900 s and costs one unit of the REST counter', async () => {
    const envelope = await rig.rest.private('GetWebSocketsToken');
    expect(result(envelope)).toEqual({ token: expect.stringMatching(/^[A-Za-z0-9+/]{43}$/), expires: 900 });
    // Starter: 15 units at one instant; this was the first.
    for (let i = 0; i < 14; i++) result(await rig.rest.private('GetWebSocketsToken'));
    expect((await rig.rest.private('GetWebSocketsToken')).error).toEqual(['EAPI:Rate limit exceeded']);
  });

  it('subscribes executions with Kraken’s ack, then a snapshot of open orders and recent fills, sequence 1', async () => {
    result(await rig.rest.private('AddOrder', { pair: 'XBTUSD', type: 'buy', ordertype: 'market', volume: '0.01', cl_ord_id: 'filled-1' }));
    result(await rig.rest.private('AddOrder', { pair: 'XBTUSD', type: 'buy', ordertype: 'limit', price: '50000', volume: '0.02', cl_ord_id: 'resting-1' }));
    const probe = await rig.connect();
    await probe.request({ method: 'subscribe', params: { channel: 'executions', token: await rig.token(), snap_orders: true, snap_trades: true }, req_id: 1 });
    const [ack, snapshot] = probe.since(1);
    expect(ack).toEqual({
      method: 'subscribe',
      req_id: '#1',
      result: { channel: 'executions', maxratecount: '#60', snap_orders: true, snap_trades: true },
      success: true,
      time_in: '2026-01-05T09:00:00.000000Z',
      time_out: '2026-01-05T09:00:00.000000Z',
    });
    expect(snapshot).toMatchObject({ channel: 'executions', type: 'snapshot', sequence: '#1' });
    const [trade, order] = data(snapshot);
    expect(trade).toMatchObject({ exec_type: 'trade', cl_ord_id: 'filled-1', symbol: 'BTC/USD', side: 'buy', last_qty: '#0.01', last_price: '#60000.1', liquidity_ind: 't' });
    expect(order).toMatchObject({
      exec_type: 'new',
      order_status: 'new',
      cl_ord_id: 'resting-1',
      symbol: 'BTC/USD',
      order_type: 'limit',
      order_qty: '#0.02',
      limit_price: '#50000',
      cum_qty: '#0',
    });
    expect(data(snapshot)).toHaveLength(2);
  });

  it('leaves the snapshot out as asked (snap_orders false, snap_trades default false)', async () => {
    result(await rig.rest.private('AddOrder', { pair: 'XBTUSD', type: 'buy', ordertype: 'limit', price: '50000', volume: '0.02' }));
    const probe = await rig.connect();
    await probe.request({ method: 'subscribe', params: { channel: 'executions', token: await rig.token(), snap_orders: false }, req_id: 2 });
    expect(probe.since(1)[0]?.['result']).toMatchObject({ snap_orders: false, snap_trades: false });
    expect(data(probe.of('executions')[0])).toEqual([]);
  });

  it('streams a REST AddOrder and its fill at setPrice: pending_new, new, trade, filled, in sequence, numbers exact', async () => {
    const probe = await rig.connect();
    await probe.request({ method: 'subscribe', params: { channel: 'executions', token: await rig.token() }, req_id: 1 });
    const placed = result<{ txid: string[] }>(
      await rig.rest.private('AddOrder', { pair: 'XBTUSD', type: 'buy', ordertype: 'limit', price: '59000.5', volume: '0.01', userref: 7 }),
    );
    const txid = placed.txid[0];
    await rig.clock.settle();
    rig.exchange.setPrice('XBTUSD', '59000');
    await rig.clock.settle();
    const updates = probe.of('executions').slice(1);
    expect(updates.map((u) => u['sequence'])).toEqual(['#2', '#3', '#4', '#5']);
    const entries = updates.map((u) => data(u)[0]);
    expect(entries.map((e) => [e?.['exec_type'], e?.['order_status']])).toEqual([
      ['pending_new', 'pending_new'],
      ['new', 'new'],
      ['trade', 'partially_filled'],
      ['filled', 'filled'],
    ]);
    expect(entries[0]).not.toHaveProperty('cl_ord_id');
    expect(entries[0]).toMatchObject({ order_id: txid, order_userref: '#7', symbol: 'BTC/USD', order_qty: '#0.01', limit_price: '#59000.5' });
    // Sparse, as Kraken's: `new` carries no symbol.
    expect(entries[1]).not.toHaveProperty('symbol');
    const trade = rig.exchange.inspect.trades()[0];
    expect(entries[2]).toMatchObject({
      order_id: txid,
      exec_id: trade?.id,
      last_qty: '#0.01',
      last_price: '#59000.5',
      cost: '#590.005',
      liquidity_ind: 'm',
      fees: [{ asset: 'USD', qty: '#1.47501' }],
      cum_qty: '#0.01',
      avg_price: '#59000.5',
    });
    expect(entries[3]).toMatchObject({ cum_qty: '#0.01', cum_cost: '#590.005' });
  });

  it('add_order goes through the REST validation, engine and balances, echoing req_id and cl_ord_id', async () => {
    const probe = await rig.connect();
    const token = await rig.token();
    await probe.requestText(
      `{"method":"add_order","params":{"order_type":"limit","side":"buy","symbol":"BTC/USD","order_qty":0.01,"limit_price":50000.1,"cl_ord_id":"ws-1","token":"${token}"},"req_id":42}`,
    );
    const [answer] = probe.answers('add_order');
    const order = rig.exchange.inspect.ordersByClOrdId('ws-1')[0];
    expect(answer).toMatchObject({ method: 'add_order', req_id: '#42', success: true, result: { order_id: order?.txid, cl_ord_id: 'ws-1' } });
    expect([order?.volume.toFixed(), order?.price?.toFixed(), order?.status]).toEqual(['0.01', '50000.1', 'open']);
    expect(rig.exchange.inspect.balance('ZUSD').hold.gt(0)).toBe(true);
    // The same checks as AddOrder: too many decimals, funds, the duplicate cl_ord_id.
    await probe.request({ method: 'add_order', params: { order_type: 'limit', side: 'buy', symbol: 'BTC/USD', order_qty: 0.01, limit_price: 50000.12, token }, req_id: 43 });
    await probe.request({ method: 'add_order', params: { order_type: 'market', side: 'buy', symbol: 'BTC/USD', order_qty: 1000, token }, req_id: 44 });
    await probe.request({ method: 'add_order', params: { order_type: 'limit', side: 'buy', symbol: 'BTC/USD', order_qty: 0.01, limit_price: 50000, cl_ord_id: 'ws-1', token }, req_id: 45 });
    expect(probe.answers('add_order').slice(1).map((a) => [a['req_id'], a['success'], a['error']])).toEqual([
      ['#43', false, 'EOrder:Invalid price:XXBTZUSD price can only be specified up to 1 decimals.'],
      ['#44', false, 'EOrder:Insufficient funds'],
      ['#45', false, 'EOrder:Duplicate order'],
    ]);
  });

  it('add_order maps WS v2 terms onto the REST order: triggers.price and limit_price of a stop-loss-limit, gtd with expire_time, post_only', async () => {
    const probe = await rig.connect();
    const token = await rig.token();
    const expireAt = rig.clock.now() + 60_000;
    await probe.request({
      method: 'add_order',
      params: {
        order_type: 'stop-loss-limit',
        side: 'sell',
        symbol: 'BTC/USD',
        order_qty: 0.01,
        triggers: { reference: 'last', price: 57000, price_type: 'static' },
        limit_price: 56900.5,
        time_in_force: 'gtd',
        expire_time: new Date(expireAt).toISOString(),
        cl_ord_id: 'stop-1',
        token,
      },
      req_id: 1,
    });
    await probe.request({
      method: 'add_order',
      params: { order_type: 'limit', side: 'buy', symbol: 'BTC/USD', order_qty: 0.01, limit_price: 50000, post_only: true, cl_ord_id: 'post-1', token },
      req_id: 2,
    });
    await probe.request({
      method: 'add_order',
      params: { order_type: 'limit', side: 'buy', symbol: 'BTC/USD', order_qty: 0.01, limit_price: 50000, margin: true, token },
      req_id: 3,
    });
    const stop = rig.exchange.inspect.ordersByClOrdId('stop-1')[0];
    expect([stop?.orderType, stop?.price?.toFixed(), stop?.price2?.toFixed(), stop?.side]).toEqual(['stop-loss-limit', '57000', '56900.5', 'sell']);
    expect(rig.exchange.inspect.ordersByClOrdId('post-1')[0]?.postOnly).toBe(true);
    expect(probe.answers('add_order').map((a) => a['error'] ?? 'ok')).toEqual(['ok', 'ok', 'EGeneral:Invalid arguments:margin']);
    await rig.clock.advance(60_000);
    expect(rig.exchange.inspect.ordersByClOrdId('stop-1')[0]?.status).toBe('expired');
  });

  it('charges add_order and REST CancelOrder to one trading counter per pair (Kraken: shared across REST and WS)', async () => {
    const probe = await rig.connect();
    const token = await rig.token();
    const errors: string[] = [];
    // Starter: 60 units. Each round: +1 over WS, +8 for cancelling a young order over REST.
    for (let round = 0; round < 7; round++) {
      await probe.request({
        method: 'add_order',
        params: { order_type: 'limit', side: 'buy', symbol: 'BTC/USD', order_qty: 0.01, limit_price: 50000, cl_ord_id: `round-${round}`, token },
        req_id: 100 + round,
      });
      errors.push(...(await rig.rest.private('CancelOrder', { cl_ord_id: `round-${round}` })).error);
    }
    // 6 rounds are 54 units; the 7th add makes 55 and its cancel (+8) does not fit.
    expect(errors).toEqual(['EOrder:Rate limit exceeded']);
    expect(probe.answers('add_order').every((a) => a['success'] === true)).toBe(true);
  });

  it('cancel_order answers once per id, by order_id or cl_ord_id; a never-known order is EOrder:Invalid order, as Kraken’s WS says', async () => {
    const probe = await rig.connect();
    const token = await rig.token();
    const a = result<{ txid: string[] }>(await rig.rest.private('AddOrder', { pair: 'XBTUSD', type: 'buy', ordertype: 'limit', price: '50000', volume: '0.01' })).txid[0];
    result(await rig.rest.private('AddOrder', { pair: 'XBTUSD', type: 'buy', ordertype: 'limit', price: '50000', volume: '0.01', cl_ord_id: 'b' }));
    await probe.request({ method: 'cancel_order', params: { order_id: [a, 'OGONE1-AAAAA-BBBBBB'], token }, req_id: 5 });
    await probe.request({ method: 'cancel_order', params: { cl_ord_id: ['b'], token }, req_id: 6 });
    await probe.request({ method: 'cancel_order', params: { order_id: [a], cl_ord_id: ['b'], token }, req_id: 7 });
    expect(probe.answers('cancel_order').map((f) => [f['req_id'], f['success'], f['result'] ?? f['error']])).toEqual([
      ['#5', true, { order_id: a }],
      ['#5', false, 'EOrder:Invalid order'],
      ['#6', true, { cl_ord_id: 'b' }],
      ['#7', false, 'EGeneral:Invalid arguments:order_id'],
    ]);
    expect(rig.exchange.inspect.openOrders()).toHaveLength(0);
  });

  it('cancel_order of an order already gone (cancelled, filled) answers EOrder:Invalid order and changes nothing; REST CancelOrder says EOrder:Unknown order', async () => {
    const probe = await rig.connect();
    const token = await rig.token();
    const cancelled = result<{ txid: string[] }>(await rig.rest.private('AddOrder', { pair: 'XBTUSD', type: 'buy', ordertype: 'limit', price: '50000', volume: '0.01', cl_ord_id: 'c' })).txid[0] ?? '';
    const filled = result<{ txid: string[] }>(await rig.rest.private('AddOrder', { pair: 'XBTUSD', type: 'buy', ordertype: 'market', volume: '0.01', cl_ord_id: 'f' })).txid[0] ?? '';
    result(await rig.rest.private('CancelOrder', { txid: cancelled }));
    await probe.request({ method: 'cancel_order', params: { order_id: [cancelled, filled], token }, req_id: 8 });
    await probe.request({ method: 'cancel_order', params: { cl_ord_id: ['c', 'f'], token }, req_id: 9 });
    expect(probe.answers('cancel_order').map((f) => [f['req_id'], f['success'], f['error']])).toEqual([
      ['#8', false, 'EOrder:Invalid order'],
      ['#8', false, 'EOrder:Invalid order'],
      ['#9', false, 'EOrder:Invalid order'],
      ['#9', false, 'EOrder:Invalid order'],
    ]);
    expect(probe.answers('cancel_order').every((f) => f['result'] === undefined && f['method'] === 'cancel_order')).toBe(true);
    expect([rig.exchange.inspect.order(cancelled)?.status, rig.exchange.inspect.order(filled)?.status]).toEqual(['canceled', 'closed']);
    expect((await rig.rest.private('CancelOrder', { txid: cancelled })).error).toEqual(['EOrder:Unknown order']);
  });

  it('ticker: one ack per symbol, a snapshot, then an update when the price moves', async () => {
    const probe = await rig.connect();
    await probe.request({ method: 'subscribe', params: { channel: 'ticker', symbol: ['BTC/USD', 'ETH/USD', 'NOPE/USD'] }, req_id: 3 });
    expect(probe.answers('subscribe').map((a) => a['result'] ?? a['error'])).toEqual([
      { channel: 'ticker', event_trigger: 'trades', snapshot: true, symbol: 'BTC/USD' },
      { channel: 'ticker', event_trigger: 'trades', snapshot: true, symbol: 'ETH/USD' },
      'Currency pair not supported NOPE/USD',
    ]);
    expect(probe.of('ticker').map((t) => [t['type'], data(t)[0]?.['symbol'], data(t)[0]?.['last']])).toEqual([
      ['snapshot', 'BTC/USD', '#60000'],
      ['snapshot', 'ETH/USD', '#3000'],
    ]);
    rig.exchange.setPrice('XBTUSD', '61000.3');
    await rig.clock.settle();
    const update = probe.of('ticker').filter((t) => t['type'] === 'update').find((t) => data(t)[0]?.['symbol'] === 'BTC/USD');
    expect(data(update)[0]).toMatchObject({ bid: '#61000.2', ask: '#61000.4', last: '#61000.3', change: '#1000.3', change_pct: '#1.67' });
  });

  it('sends a heartbeat each second of silence once subscribed, and none before', async () => {
    const probe = await rig.connect();
    await rig.clock.advance(5_000);
    expect(probe.of('heartbeat')).toHaveLength(0);
    await probe.request({ method: 'subscribe', params: { channel: 'heartbeat' }, req_id: 1 });
    const subscribedAt = rig.clock.now();
    await rig.clock.advance(3_500);
    expect(probe.arrivedAt.filter((_, i) => probe.frames[i]?.['channel'] === 'heartbeat').map((t) => t - subscribedAt)).toEqual([
      HEARTBEAT_MS,
      2 * HEARTBEAT_MS,
      3 * HEARTBEAT_MS,
    ]);
  });

  it('sends a status frame to every open socket when the engine status changes', async () => {
    const probe = await rig.connect();
    rig.exchange.setSystemStatus('cancel_only');
    await rig.clock.settle();
    expect(probe.of('status').map((f) => data(f)[0]?.['system'])).toEqual(['online', 'cancel_only']);
    expect(data(probe.of('status')[1])[0]?.['connection_id']).toEqual(data(probe.of('status')[0])[0]?.['connection_id']);
  });

  it('answers ping with pong, echoing req_id, and without one when none was sent', async () => {
    const probe = await rig.connect();
    await probe.request({ method: 'ping', req_id: 101 });
    await probe.request({ method: 'ping' });
    expect(probe.answers('pong').map((p) => p['req_id'] ?? null)).toEqual(['#101', null]);
  });

  it('unsubscribe: acked when subscribed, "Subscription Not Found" (as method subscribe) when not; no subscriptions left closes the socket', async () => {
    const probe = await rig.connect();
    await probe.request({ method: 'unsubscribe', params: { channel: 'executions' }, req_id: 1 });
    expect(probe.frames.at(-1)).toMatchObject({ method: 'subscribe', success: false, error: 'Subscription Not Found' });
    await probe.request({ method: 'subscribe', params: { channel: 'executions', token: await rig.token() }, req_id: 2 });
    await probe.request({ method: 'unsubscribe', params: { channel: 'executions' }, req_id: 3 });
    expect(probe.answers('unsubscribe')).toMatchObject([{ req_id: '#3', success: true, result: { channel: 'executions' } }]);
    expect(probe.closed?.code).toBe(1000);
  });
});

describe('paper exchange WebSocket v2: tokens', () => {
  let rig: Rig;
  beforeEach(async () => {
    rig = await paperWs();
  });
  afterEach(async () => {
    await rig.close();
  });

  const subscribe = async (probe: Awaited<ReturnType<Rig['connect']>>, token: string, reqId: number): Promise<Frame | undefined> => {
    await probe.request({ method: 'subscribe', params: { channel: 'executions', token }, req_id: reqId });
    return probe.answers('subscribe').at(-1);
  };

  it('a token unused for 15 minutes is refused with EAPI:Invalid token; one used a moment before is not', async () => {
    const stale = await rig.token();
    await rig.clock.advance(WS_TOKEN_TTL_MS - 1);
    const fresh = await rig.token();
    const probe = await rig.connect();
    expect(await subscribe(probe, stale, 1)).toMatchObject({ success: true });
    const other = await rig.connect();
    await rig.clock.advance(1);
    // `stale` is held by the first connection's subscription now; an unused one would expire at this instant.
    expect(await subscribe(other, fresh, 2)).toMatchObject({ success: true });
    const late = await rig.token();
    await rig.clock.advance(WS_TOKEN_TTL_MS);
    const third = await rig.connect();
    expect(await subscribe(third, late, 3)).toMatchObject({ success: false, error: 'EAPI:Invalid token' });
  });

  it('a token held by an open private subscription does not expire; after that connection closes, 15 minutes of disuse do', async () => {
    const token = await rig.token();
    const holder = await rig.connect();
    expect(await subscribe(holder, token, 1)).toMatchObject({ success: true });
    await rig.clock.advance(3 * WS_TOKEN_TTL_MS);
    const second = await rig.connect();
    expect(await subscribe(second, token, 2)).toMatchObject({ success: true });
    holder.close();
    second.close();
    await rig.clock.settle();
    await rig.clock.advance(WS_TOKEN_TTL_MS);
    const third = await rig.connect();
    expect(await subscribe(third, token, 3)).toMatchObject({ success: false, error: 'EAPI:Invalid token' });
  });

  it('a made-up token, or none, is refused, and add_order without a valid token places nothing', async () => {
    const probe = await rig.connect();
    expect(await subscribe(probe, 'not-a-token', 1)).toMatchObject({ success: false, error: 'EAPI:Invalid token' });
    await probe.request({ method: 'add_order', params: { order_type: 'market', side: 'buy', symbol: 'BTC/USD', order_qty: 0.01 }, req_id: 2 });
    expect(probe.answers('add_order')[0]).toMatchObject({ success: false, error: 'EGeneral:Invalid arguments:token' });
    expect(rig.exchange.inspect.orders()).toHaveLength(0);
  });
});

describe('paper exchange WebSocket v2: faults', () => {
  let rig: Rig;
  beforeEach(async () => {
    rig = await paperWs();
  });
  afterEach(async () => {
    await rig.close();
  });

  it('drop() closes every socket abruptly (1006); drop(1008) with the policy-violation code', async () => {
    const a = await rig.connect();
    const b = await rig.connect();
    rig.exchange.wsFaults.drop();
    await rig.clock.settle();
    expect([a.closed?.code, b.closed?.code]).toEqual([1006, 1006]);
    const c = await rig.connect();
    rig.exchange.wsFaults.drop(1008);
    await rig.clock.settle();
    expect(c.closed?.code).toBe(1008);
    expect(rig.exchange.wsConnections()).toBe(0);
  });

  it('stall() keeps the socket open and reading but sends nothing: no heartbeat, no answer, no executions', async () => {
    const probe = await rig.connect();
    const token = await rig.token();
    await probe.request({ method: 'subscribe', params: { channel: 'executions', token }, req_id: 1 });
    const before = probe.frames.length;
    rig.exchange.wsFaults.stall();
    await probe.request({ method: 'add_order', params: { order_type: 'market', side: 'buy', symbol: 'BTC/USD', order_qty: 0.01, token }, req_id: 2 });
    await rig.clock.advance(10_000);
    expect(probe.frames.length).toBe(before);
    expect(probe.open).toBe(true);
    // It read the request: the order exists (what makes an unanswered write ambiguous).
    expect(rig.exchange.inspect.orders()).toHaveLength(1);
    // A new connection is healthy.
    const fresh = await rig.connect();
    expect(fresh.frames[0]?.['channel']).toBe('status');
  });

  it('skipSequence() makes the next executions message jump a number', async () => {
    const probe = await rig.connect();
    await probe.request({ method: 'subscribe', params: { channel: 'executions', token: await rig.token() }, req_id: 1 });
    rig.exchange.wsFaults.skipSequence();
    result(await rig.rest.private('AddOrder', { pair: 'XBTUSD', type: 'buy', ordertype: 'limit', price: '50000', volume: '0.01' }));
    await rig.clock.settle();
    expect(probe.of('executions').map((f) => f['sequence'])).toEqual(['#1', '#3', '#4']);
  });

  it('setDelay() holds every frame that long, in order, then clear() ends it', async () => {
    const probe = await rig.connect();
    rig.exchange.wsFaults.setDelay(750);
    const sentAt = rig.clock.now();
    probe.closed = undefined;
    void probe.request({ method: 'ping', req_id: 1 });
    void probe.request({ method: 'ping', req_id: 2 });
    await rig.clock.settle();
    expect(probe.answers('pong')).toHaveLength(0);
    await rig.clock.advance(750);
    expect(probe.answers('pong').map((p) => p['req_id'])).toEqual(['#1', '#2']);
    expect(probe.arrivedAt.slice(-2).map((t) => t - sentAt)).toEqual([750, 750]);
    rig.exchange.wsFaults.clear();
    await probe.request({ method: 'ping', req_id: 3 });
    expect(probe.answers('pong')).toHaveLength(3);
  });

  it('refuseToken() refuses the next use of a valid token, once', async () => {
    const probe = await rig.connect();
    const token = await rig.token();
    rig.exchange.wsFaults.refuseToken();
    await probe.request({ method: 'subscribe', params: { channel: 'executions', token }, req_id: 1 });
    await probe.request({ method: 'subscribe', params: { channel: 'executions', token }, req_id: 2 });
    expect(probe.answers('subscribe').map((a) => a['error'] ?? 'ok')).toEqual(['EAPI:Invalid token', 'ok']);
  });
});
