import { firstValueFrom } from 'rxjs';
import { createKrakenClient, type KrakenClient } from '../../src/kraken/client';
import { Credentials } from '../../src/kraken/credentials';
import { type ExchangeError } from '../../src/model/errors';
import { type PaperExchange, startPaperExchange } from '../../src/paper';
import { ManualClock } from './harness';

/** The project's own Kraken client, unchanged, against the paper exchange: every answer must parse. */
describe('paper exchange through the Kraken client', () => {
  let exchange: PaperExchange;
  let kraken: KrakenClient;
  let clock: ManualClock;

  const connect = (ex: PaperExchange, timeoutMs = 2_000): KrakenClient =>
    createKrakenClient({ url: ex.url, credentials: new Credentials(ex.apiKey, ex.apiSecret), timeoutMs });
  const failureOf = async (p: Promise<unknown>): Promise<ExchangeError> => {
    try {
      await p;
    } catch (e) {
      return e as ExchangeError;
    }
    throw new Error('expected a failure');
  };

  beforeEach(async () => {
    clock = new ManualClock();
    exchange = await startPaperExchange({ tier: 'starter', seed: 3, clock: clock.now, faults: { timeoutHoldMs: 5_000 } });
    kraken = connect(exchange);
  });
  afterEach(() => exchange.close());

  it('reads the public endpoints', async () => {
    expect((await firstValueFrom(kraken.time())).unixtime).toBe(Math.floor(clock.now() / 1000));
    expect((await firstValueFrom(kraken.systemStatus())).status).toBe('online');
    expect([...(await firstValueFrom(kraken.assets())).keys()]).toContain('XXBT');
    const pairs = await firstValueFrom(kraken.assetPairs());
    expect(pairs.size).toBe(8);
    const ticker = await firstValueFrom(kraken.ticker(['XBTUSD']));
    expect([...ticker.keys()]).toEqual(['XXBTZUSD']);
  });

  it('places, lists, queries and cancels orders of every type with a client order id', async () => {
    const limit = await firstValueFrom(kraken.addOrder({ pair: 'XBTUSD', type: 'buy', ordertype: 'limit', price: '59000.0', volume: '0.5', cl_ord_id: 'client-limit' }));
    const market = await firstValueFrom(kraken.addOrder({ pair: 'XBTUSD', type: 'buy', ordertype: 'market', volume: '0.1', cl_ord_id: 'client-market' }));
    const stop = await firstValueFrom(kraken.addOrder({ pair: 'XBTUSD', type: 'sell', ordertype: 'stop-loss', price: '55000.0', volume: '0.1', cl_ord_id: 'client-stop' }));
    const takeProfit = await firstValueFrom(kraken.addOrder({ pair: 'XBTUSD', type: 'sell', ordertype: 'take-profit', price: '65000.0', volume: '0.1', cl_ord_id: 'client-tp' }));
    const validated = await firstValueFrom(kraken.addOrder({ pair: 'XBTUSD', type: 'buy', ordertype: 'limit', price: '59000.0', volume: '0.5', validate: 'true' }));
    expect(validated.txids).toEqual([]);

    const open = await firstValueFrom(kraken.openOrders({ cl_ord_id: 'client-limit' }));
    const snapshot = open.get(limit.txids[0] ?? '');
    expect(snapshot?.clientOrderId).toBe('client-limit');
    expect(snapshot?.status).toBe('open');
    expect(snapshot?.volume.toFixed()).toBe('0.5');
    expect(snapshot?.limitPrice?.toFixed()).toBe('59000');

    exchange.setPrice('XBTUSD', '58950');
    const queried = await firstValueFrom(kraken.queryOrders([...limit.txids, ...market.txids, ...stop.txids, ...takeProfit.txids]));
    expect(queried.get(limit.txids[0] ?? '')?.volumeExecuted.toFixed()).toBe('0.5');
    expect(queried.get(market.txids[0] ?? '')?.status).toBe('closed');
    expect(queried.get(stop.txids[0] ?? '')?.status).toBe('open');

    expect(await firstValueFrom(kraken.cancelOrder({ cl_ord_id: 'client-stop' }))).toEqual({ count: 1, pending: false });
    const closed = await firstValueFrom(kraken.closedOrders({ cl_ord_id: 'client-stop' }));
    expect(closed.count).toBe(1);
    expect([...closed.orders.values()][0]?.status).toBe('canceled');

    const balances = await firstValueFrom(kraken.balance());
    expect(balances.get('XXBT')?.toFixed()).toBe('10.6');
    const ex = await firstValueFrom(kraken.balanceEx());
    expect(ex.size).toBeGreaterThan(0);
    expect((await firstValueFrom(kraken.cancelAll())).count).toBe(1);
    expect((await firstValueFrom(kraken.cancelAllOrdersAfter(60))).triggerTime).toBe('2026-01-05T12:01:00Z');
  });

  it('surfaces each error class the handler relies on', async () => {
    const refused = await failureOf(firstValueFrom(kraken.addOrder({ pair: 'XBTUSD', type: 'buy', ordertype: 'limit', price: '59000.0', volume: '100' })));
    expect([refused.kind, refused.codes]).toEqual(['refused', ['EOrder:Insufficient funds']]);

    const unknown = await failureOf(firstValueFrom(kraken.cancelOrder({ txid: 'OAAAAA-BBBBB-CCCCCC' })));
    expect([unknown.kind, unknown.codes]).toEqual(['refused', ['EOrder:Unknown order']]);

    exchange.faults.inject('AddOrder', 'service-unavailable');
    const retryable = await failureOf(firstValueFrom(kraken.addOrder({ pair: 'XBTUSD', type: 'buy', ordertype: 'limit', price: '59000.0', volume: '0.1' })));
    expect([retryable.kind, retryable.codes]).toEqual(['retryable', ['EService:Unavailable']]);

    exchange.faults.inject('AddOrder', 'accept-then-drop');
    const dropped = await failureOf(firstValueFrom(kraken.addOrder({ pair: 'XBTUSD', type: 'buy', ordertype: 'limit', price: '59000.0', volume: '0.1', cl_ord_id: 'amb-1' })));
    expect(dropped.kind).toBe('ambiguous');
    expect(exchange.inspect.acceptedCount('amb-1')).toBe(1);

    exchange.faults.inject('AddOrder', 'html-5xx-placed');
    const html = await failureOf(firstValueFrom(kraken.addOrder({ pair: 'XBTUSD', type: 'buy', ordertype: 'limit', price: '59000.0', volume: '0.1', cl_ord_id: 'amb-2' })));
    expect([html.kind, html.httpStatus]).toEqual(['ambiguous', 520]);
    expect(exchange.inspect.acceptedCount('amb-2')).toBe(1);

    const impatient = connect(exchange, 150);
    exchange.faults.inject('AddOrder', 'accept-then-timeout');
    const timedOut = await failureOf(firstValueFrom(impatient.addOrder({ pair: 'XBTUSD', type: 'buy', ordertype: 'limit', price: '59000.0', volume: '0.1', cl_ord_id: 'amb-3' })));
    expect(timedOut.kind).toBe('ambiguous');
    expect(exchange.inspect.acceptedCount('amb-3')).toBe(1);

    for (let i = 0; i < 15; i++) await firstValueFrom(kraken.openOrders());
    const limited = await failureOf(firstValueFrom(kraken.openOrders()));
    expect([limited.kind, limited.codes]).toEqual(['rate-limited', ['EAPI:Rate limit exceeded']]);

    const stranger = createKrakenClient({ url: exchange.url, credentials: new Credentials('someone-else', Buffer.alloc(64, 7).toString('base64')), timeoutMs: 2_000 });
    const auth = await failureOf(firstValueFrom(stranger.balance()));
    expect([auth.kind, auth.codes]).toEqual(['auth', ['EAPI:Invalid key']]);
  });
});
