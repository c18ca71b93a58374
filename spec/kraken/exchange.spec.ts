import { afterEach, beforeEach, describe, expect, it } from '@jest/globals';
import { Decimal } from 'decimal.js';
import { firstValueFrom } from 'rxjs';
import { Credentials } from '../../src/kraken/credentials';
import { KrakenExchange, addOrderParamsOf, createKrakenExchange } from '../../src/kraken/exchange';
import { PrivateLane } from '../../src/kraken/private-lane';
import { ExchangeError } from '../../src/model/errors';
import { type OrderRequest } from '../../src/model/order';
import { SECRET, assetPairs, closedMarketOrder, openLimitOrder, tickers } from './support/fixtures';
import { LoopbackServer, answerFrom, errorOf } from './support/loopback-server';

let server: LoopbackServer;
let exchange: KrakenExchange;
let results: Record<string, unknown>;

const sent = (index = 0): URLSearchParams => {
  const request = server.requests[index]!;
  return request.method === 'GET' ? new URLSearchParams(request.url.split('?')[1] ?? '') : new URLSearchParams(request.body);
};

const limitBuy: OrderRequest = {
  clientOrderId: '6d1b345e-2821-40e2-ad83-4ecb18a06876',
  pair: 'XXBTZUSD',
  side: 'buy',
  orderType: 'limit',
  volume: new Decimal('0.00012345'),
  price: new Decimal('30010.1'),
};

beforeEach(async () => {
  server = await LoopbackServer.start();
  results = {};
  server.handler = answerFrom(results);
  exchange = createKrakenExchange({ url: server.url, credentials: new Credentials('EXCHANGE-KEY', SECRET), timeoutMs: 1000, lane: new PrivateLane() });
});

afterEach(async () => {
  await server.stop();
});

describe('addOrderParamsOf', () => {
  it('maps a limit order to Kraken fields with plain decimal strings', () => {
    expect(addOrderParamsOf(limitBuy)).toEqual({
      pair: 'XXBTZUSD', type: 'buy', ordertype: 'limit', volume: '0.00012345', price: '30010.1',
      cl_ord_id: '6d1b345e-2821-40e2-ad83-4ecb18a06876',
    });
  });

  it('never uses exponent notation', () => {
    const tiny = addOrderParamsOf({ ...limitBuy, volume: new Decimal('1e-8'), price: new Decimal('1e21') });
    expect(tiny.volume).toBe('0.00000001');
    expect(tiny.price).toBe('1000000000000000000000');
  });

  it('maps stop-loss-limit prices, post-only, time in force and the deadline as RFC3339', () => {
    const params = addOrderParamsOf({
      ...limitBuy, side: 'sell', orderType: 'stop-loss-limit', price: new Decimal('28000'), price2: new Decimal('27900.5'),
      postOnly: true, timeInForce: 'GTC', deadline: Date.UTC(2026, 10, 22, 3, 0, 5, 250),
    });
    expect(params).toMatchObject({ ordertype: 'stop-loss-limit', price: '28000', price2: '27900.5', oflags: 'post', timeinforce: 'GTC', deadline: '2026-11-22T03:00:05.250Z' });
  });

  it('sends validate only when it is true', () => {
    expect(addOrderParamsOf({ ...limitBuy, validate: true }).validate).toBe('true');
    expect('validate' in addOrderParamsOf({ ...limitBuy, validate: false })).toBe(false);
    expect('validate' in addOrderParamsOf(limitBuy)).toBe(false);
    expect('oflags' in addOrderParamsOf({ ...limitBuy, postOnly: false })).toBe(false);
  });

  it('refuses non-positive amounts before anything is sent', () => {
    expect(() => addOrderParamsOf({ ...limitBuy, volume: new Decimal(0) })).toThrow('volume must be a positive number, got 0');
    expect(() => addOrderParamsOf({ ...limitBuy, price: new Decimal(-1) })).toThrow('price must be a positive number, got -1');
    expect(() => addOrderParamsOf({ ...limitBuy, volume: new Decimal(NaN) })).toThrow(ExchangeError);
  });
});

describe('KrakenExchange', () => {
  it('placeOrder posts AddOrder and answers the txid with the client order id', async () => {
    results['AddOrder'] = { descr: { order: 'buy 0.00012345 XBTUSD @ limit 30010.1' }, txid: ['OUF4EM-FRGI2-MQMWZD'] };
    const placed = await firstValueFrom(exchange.placeOrder(limitBuy));
    expect(placed).toEqual({ txid: 'OUF4EM-FRGI2-MQMWZD', clientOrderId: limitBuy.clientOrderId, description: 'buy 0.00012345 XBTUSD @ limit 30010.1' });
    expect(server.requests[0]!.url).toBe('/0/private/AddOrder');
    expect(sent().get('volume')).toBe('0.00012345');
    expect(sent().get('cl_ord_id')).toBe(limitBuy.clientOrderId);
    expect(sent().has('validate')).toBe(false);
  });

  it('a validate-only placement answers an empty txid', async () => {
    results['AddOrder'] = { descr: { order: 'buy 0.00012345 XBTUSD @ limit 30010.1' } };
    expect((await firstValueFrom(exchange.placeOrder({ ...limitBuy, validate: true }))).txid).toBe('');
    expect(sent().get('validate')).toBe('true');
  });

  it('an accepted placement without a txid is ambiguous', async () => {
    results['AddOrder'] = { descr: { order: 'buy' } };
    expect((await errorOf(firstValueFrom(exchange.placeOrder(limitBuy)))).kind).toBe('ambiguous');
  });

  it('a bad request is refused without a call, on subscription', async () => {
    const placement = exchange.placeOrder({ ...limitBuy, volume: new Decimal(0) });
    const error = await errorOf(firstValueFrom(placement));
    expect(error.kind).toBe('refused');
    expect(server.requests).toHaveLength(0);
  });

  it('cancelOrder by txid or by client order id', async () => {
    results['CancelOrder'] = { count: 1, pending: false };
    await firstValueFrom(exchange.cancelOrder({ txid: 'OABC' }));
    await firstValueFrom(exchange.cancelOrder({ clientOrderId: 'entry-7' }));
    expect(sent(0).get('txid')).toBe('OABC');
    expect(sent(1).get('cl_ord_id')).toBe('entry-7');
    expect(sent(1).has('txid')).toBe(false);
  });

  it('queryOrders answers snapshots and rejects more than 50 txids with a clear error', async () => {
    results['QueryOrders'] = { O1: closedMarketOrder('a') };
    expect((await firstValueFrom(exchange.queryOrders(['O1']))).get('O1')?.averagePrice.toFixed()).toBe('30000');
    const error = await errorOf(firstValueFrom(exchange.queryOrders(Array.from({ length: 51 }, (_, i) => `O${i}`))));
    expect(error.kind).toBe('refused');
    expect(error.message).toContain('at most 50 txids, got 51');
    expect(server.requests).toHaveLength(1);
  });

  it('openOrders and closedOrders by client order id', async () => {
    results['OpenOrders'] = { open: { O1: openLimitOrder('entry-1') } };
    results['ClosedOrders'] = { closed: { O2: closedMarketOrder('entry-2') }, count: 1 };
    expect((await firstValueFrom(exchange.openOrders({ clientOrderId: 'entry-1' }))).get('O1')?.clientOrderId).toBe('entry-1');
    expect((await firstValueFrom(exchange.closedOrders({ clientOrderId: 'entry-2' }))).get('O2')?.status).toBe('closed');
    expect(sent(0).get('cl_ord_id')).toBe('entry-1');
    expect(sent(1).get('cl_ord_id')).toBe('entry-2');
    await firstValueFrom(exchange.openOrders());
    expect(sent(2).has('cl_ord_id')).toBe(false);
  });

  it('ticker answers quotes keyed by pair key', async () => {
    results['Ticker'] = tickers;
    const quotes = await firstValueFrom(exchange.ticker(['BTC/USD']));
    expect(quotes.get('XXBTZUSD')).toEqual({ pair: 'XXBTZUSD', bid: new Decimal('30010'), ask: new Decimal('30010.1'), last: new Decimal('30010.05') });
    expect(sent().get('pair')).toBe('BTC/USD');
  });

  it('pairs loads AssetPairs into a PairBook', async () => {
    results['AssetPairs'] = assetPairs;
    const book = await firstValueFrom(exchange.pairs());
    expect(book.find('BTC/USD')?.key).toBe('XXBTZUSD');
    expect(book.find('ETHUSD')?.tickSize.toFixed()).toBe('0.01');
  });
});
