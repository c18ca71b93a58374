import { afterEach, beforeEach, describe, expect, it } from '@jest/globals';
import { firstValueFrom } from 'rxjs';
import { type KrakenClient, createKrakenClient } from '../../src/kraken/client';
import { Credentials } from '../../src/kraken/credentials';
import { PrivateLane } from '../../src/kraken/private-lane';
import { SECRET, assetPairs, closedMarketOrder, openLimitOrder, tickers } from './support/fixtures';
import { LoopbackServer, answerFrom, errorOf } from './support/loopback-server';

let server: LoopbackServer;
let client: KrakenClient;
/** What the fake Kraken answers, per method name. */
let results: Record<string, unknown>;

const params = (index = 0): URLSearchParams => {
  const request = server.requests[index]!;
  return request.method === 'GET' ? new URLSearchParams(request.url.split('?')[1] ?? '') : new URLSearchParams(request.body);
};

beforeEach(async () => {
  server = await LoopbackServer.start();
  results = {};
  server.handler = answerFrom(results);
  client = createKrakenClient({ url: server.url, credentials: new Credentials('CLIENT-KEY', SECRET), timeoutMs: 1000, lane: new PrivateLane() });
});

afterEach(async () => {
  await server.stop();
});

describe('KrakenClient', () => {
  it('addOrder sends the params in order and parses the txids', async () => {
    results['AddOrder'] = { descr: { order: 'buy 1.25000000 XBTUSD @ limit 37500.0' }, txid: ['OUF4EM-FRGI2-MQMWZD'] };
    const placed = await firstValueFrom(client.addOrder({ pair: 'XBTUSD', type: 'buy', ordertype: 'limit', volume: '1.25', price: '37500', cl_ord_id: 'abc' }));
    expect(placed.txids).toEqual(['OUF4EM-FRGI2-MQMWZD']);
    expect(server.requests[0]!.body).toMatch(/^nonce=\d+&pair=XBTUSD&type=buy&ordertype=limit&volume=1\.25&price=37500&cl_ord_id=abc$/);
  });

  it('a malformed AddOrder result is ambiguous: the order may exist', async () => {
    results['AddOrder'] = { txid: 'not-an-array', descr: { order: 'x' } };
    const error = await errorOf(firstValueFrom(client.addOrder({ pair: 'XBTUSD', type: 'buy', ordertype: 'market', volume: '1' })));
    expect(error.kind).toBe('ambiguous');
    expect(error.message).toContain('AddOrder result.txid: expected an array, got string');
  });

  it('cancelOrder by txid or by cl_ord_id', async () => {
    results['CancelOrder'] = { count: 1 };
    expect(await firstValueFrom(client.cancelOrder({ txid: 'OABC' }))).toEqual({ count: 1, pending: false });
    expect(await firstValueFrom(client.cancelOrder({ cl_ord_id: 'my-order' }))).toEqual({ count: 1, pending: false });
    expect(params(0).get('txid')).toBe('OABC');
    expect(params(1).get('cl_ord_id')).toBe('my-order');
  });

  it('openOrders filters by cl_ord_id and parses the orders', async () => {
    results['OpenOrders'] = { open: { 'OQCLML-BW3P3-BUCMWZ': openLimitOrder('entry-1') } };
    const open = await firstValueFrom(client.openOrders({ cl_ord_id: 'entry-1' }));
    expect(open.get('OQCLML-BW3P3-BUCMWZ')?.volumeExecuted.toFixed()).toBe('0.375');
    expect(params().get('cl_ord_id')).toBe('entry-1');
    expect(params().has('trades')).toBe(false);
  });

  it('closedOrders parses the page and the count', async () => {
    results['ClosedOrders'] = { closed: { OX: closedMarketOrder('c-1') }, count: 12 };
    const page = await firstValueFrom(client.closedOrders({ trades: true, closetime: 'close' }));
    expect(page.count).toBe(12);
    expect(page.orders.get('OX')?.status).toBe('closed');
    expect(params().get('trades')).toBe('true');
    expect(params().get('closetime')).toBe('close');
  });

  it('closedOrdersPage sends start and ofs, and refuses an answer without its count as malformed', async () => {
    results['ClosedOrders'] = { closed: { OX: closedMarketOrder('c-1') }, count: 51 };
    const page = await firstValueFrom(client.closedOrdersPage({ start: '1767603600', ofs: 50 }));
    expect([page.count, [...page.orders.keys()]]).toEqual([51, ['OX']]);
    expect([params().get('start'), params().get('ofs')]).toEqual(['1767603600', '50']);
    results['ClosedOrders'] = { closed: { OX: closedMarketOrder('c-1') } };
    const error = await errorOf(firstValueFrom(client.closedOrdersPage({ start: '1767603600', ofs: 0 })));
    expect(error.message).toContain('ClosedOrders result.count');
    // The lookups' closedOrders still reads a count-less answer as one page.
    expect((await firstValueFrom(client.closedOrders({ cl_ord_id: 'c-1' }))).count).toBe(1);
  });

  it('queryOrders joins txids, skips the call for none, and refuses more than 50', async () => {
    results['QueryOrders'] = { O1: closedMarketOrder('a'), O2: openLimitOrder('b') };
    const orders = await firstValueFrom(client.queryOrders(['O1', 'O2']));
    expect([...orders.keys()]).toEqual(['O1', 'O2']);
    expect(params().get('txid')).toBe('O1,O2');
    expect((await firstValueFrom(client.queryOrders([]))).size).toBe(0);
    const tooMany = Array.from({ length: 51 }, (_, i) => `O${i}`);
    const error = await errorOf(firstValueFrom(client.queryOrders(tooMany)));
    expect(error.message).toBe('QueryOrders: QueryOrders takes at most 50 txids, got 51');
    expect(server.requests).toHaveLength(1);
  });

  it('public endpoints: assetPairs, assets, ticker, time, systemStatus', async () => {
    results['AssetPairs'] = assetPairs;
    results['Assets'] = { XXBT: { aclass: 'currency', altname: 'XBT', decimals: 10, display_decimals: 5 } };
    results['Ticker'] = tickers;
    results['Time'] = { unixtime: 1688669448, rfc1123: 'Thu, 06 Jul 23 18:50:48 +0000' };
    results['SystemStatus'] = { status: 'online', timestamp: '2023-07-06T18:52:00Z' };
    expect((await firstValueFrom(client.assetPairs(['XBTUSD', 'ETHUSD']))).get('XETHZUSD')?.tickSize.toFixed()).toBe('0.01');
    expect(server.requests[0]!.url).toBe('/0/public/AssetPairs?pair=XBTUSD%2CETHUSD');
    expect((await firstValueFrom(client.assets())).get('XXBT')?.altname).toBe('XBT');
    expect((await firstValueFrom(client.ticker(['XBTUSD']))).get('XXBTZUSD')?.bid.price.toFixed()).toBe('30010');
    expect((await firstValueFrom(client.time())).unixtime).toBe(1688669448);
    expect((await firstValueFrom(client.systemStatus())).status).toBe('online');
    expect(server.requests.every((r) => r.method === 'GET' && r.headers['api-key'] === undefined)).toBe(true);
  });

  it('account endpoints: balance, balanceEx', async () => {
    results['Balance'] = { ZUSD: '1000.5', XXBT: '0.1' };
    results['BalanceEx'] = { ZUSD: { balance: '1000.5', hold_trade: '200.25' } };
    expect((await firstValueFrom(client.balance())).get('ZUSD')?.toFixed()).toBe('1000.5');
    expect((await firstValueFrom(client.balanceEx())).get('ZUSD')?.available.toFixed()).toBe('800.25');
  });

  it('cancelAll and the dead man’s switch', async () => {
    results['CancelAll'] = { count: 3 };
    results['CancelAllOrdersAfter'] = { currentTime: '2023-03-24T17:41:56Z', triggerTime: '2023-03-24T17:42:56Z' };
    expect(await firstValueFrom(client.cancelAll())).toEqual({ count: 3, pending: false });
    expect((await firstValueFrom(client.cancelAllOrdersAfter(60))).triggerTime).toBe('2023-03-24T17:42:56Z');
    expect(params(1).get('timeout')).toBe('60');
    expect((await errorOf(firstValueFrom(client.cancelAllOrdersAfter(86_400)))).kind).toBe('refused');
    expect(server.requests).toHaveLength(2);
  });

  it('an unknown method comes back refused for a read', async () => {
    expect((await errorOf(firstValueFrom(client.balance()))).codes).toEqual(['EGeneral:Unknown method']);
  });
});
