import { Decimal } from 'decimal.js';
import { type Observable, firstValueFrom, map } from 'rxjs';
import { TestScheduler } from 'rxjs/testing';
import { isExchangeError } from '../../src/model/errors';
import { closeAllTestRuns, createVirtualExchange, startTestRun } from '../../src/testing';

const marbles = (body: (helpers: Parameters<Parameters<TestScheduler['run']>[0]>[0] & { scheduler: TestScheduler }) => void): void => {
  const scheduler = new TestScheduler((actual, expected) => expect(actual).toEqual(expected));
  scheduler.run((helpers) => body({ ...helpers, scheduler }));
};

describe('virtual exchange', () => {
  it('faultAt injects at its frame: a call before it is answered, the first one after it gets the fault', () => {
    marbles(({ scheduler }) => {
      const exchange = createVirtualExchange({ scheduler, latencyMs: 0 });
      exchange.faultAt(50, 'Ticker', 'service-busy');
      const outcomes: string[] = [];
      const callAt = (frame: number): void => {
        scheduler.schedule(() => {
          exchange.port.ticker(['XBTUSD']).subscribe({
            next: () => outcomes.push(`${frame}:ok`),
            error: (e: unknown) => outcomes.push(`${frame}:${isExchangeError(e) ? `${e.kind} ${e.codes.join()}` : 'other'}`),
          });
        }, frame);
      };
      [49, 50, 51].forEach(callAt);
      scheduler.schedule(() => expect(outcomes).toEqual(['49:ok', '50:retryable EService:Busy', '51:ok']), 60);
    });
  });

  it('playPrices moves the last price as each price arrives, and matching runs on it', () => {
    marbles(({ cold, expectObservable, scheduler }) => {
      const exchange = createVirtualExchange({ scheduler, latencyMs: 0, prices: { XBTUSD: '60000' } });
      exchange.playPrices('BTC/USD', cold('--a--b', { a: '59000', b: '61000' }));
      const last = (at: number): void => {
        scheduler.schedule(() => lasts.push(`${at}:${exchange.inspect.quote('XBTUSD').last.toFixed()}`), at);
      };
      const lasts: string[] = [];
      [1, 2, 4, 5].forEach(last);
      const placed = exchange.port.placeOrder({ clientOrderId: 'rest', pair: 'XXBTZUSD', side: 'buy', orderType: 'limit', volume: new Decimal('0.1'), price: new Decimal('59000') });
      expectObservable(placed.pipe(map((p) => p.clientOrderId))).toBe('(a|)', { a: 'rest' });
      scheduler.schedule(() => {
        expect(lasts).toEqual(['1:60000', '2:59000', '4:59000', '5:61000']);
        expect(exchange.inspect.ordersByClOrdId('rest').map((o) => [o.status, o.volumeExecuted.toFixed()])).toEqual([['closed', '0.1']]);
      }, 6);
    });
  });

  it('setPriceAt sets a price at an absolute frame', () => {
    marbles(({ scheduler }) => {
      const exchange = createVirtualExchange({ scheduler });
      exchange.setPriceAt(30, 'ETH/USD', '2500');
      scheduler.schedule(() => expect(exchange.inspect.quote('ETHUSD').last.toFixed()).toBe('3000'), 29);
      scheduler.schedule(() => expect(exchange.inspect.quote('ETHUSD').last.toFixed()).toBe('2500'), 30);
    });
  });

  it('close() ends a price play and throws the error of a broken price stream', () => {
    marbles(({ cold, scheduler }) => {
      const exchange = createVirtualExchange({ scheduler });
      const play = exchange.playPrices('BTC/USD', cold('-a-#', { a: '59000' }, new Error('bad script')));
      scheduler.schedule(() => {
        expect(play.closed).toBe(true);
        expect(() => exchange.close()).toThrow('bad script');
      }, 10);
    });
  });

  it('dates from the idle clock\'s origin: frame f is 2026-01-05T09:00Z + f, unless originMs says otherwise', () => {
    marbles(({ scheduler }) => {
      const exchange = createVirtualExchange({ scheduler });
      const elsewhere = createVirtualExchange({ scheduler, originMs: 1_000 });
      scheduler.schedule(() => {
        expect(new Date(exchange.now()).toISOString()).toBe('2026-01-05T09:00:00.250Z');
        expect(exchange.clock.now()).toBe(exchange.now());
        expect(elsewhere.now()).toBe(1_250);
      }, 250);
    });
  });
  it('a price move with a liquidity fills a resting limit by that much and leaves it open; the next move fills on at the pair\'s depth', () => {
    marbles(({ scheduler }) => {
      const exchange = createVirtualExchange({ scheduler, latencyMs: 0, prices: { XBTUSD: '100' } });
      exchange.port.placeOrder({ clientOrderId: 'thin', pair: 'XXBTZUSD', side: 'buy', orderType: 'limit', volume: new Decimal('1'), price: new Decimal('100') }).subscribe();
      exchange.setPriceAt(10, 'XBTUSD', '100', { liquidity: '0.4' });
      exchange.setPriceAt(20, 'XBTUSD', '100', { liquidity: '0' });
      exchange.setPriceAt(30, 'XBTUSD', '99.9');
      const state = (): string[] => exchange.inspect.ordersByClOrdId('thin').map((o) => `${o.status} ${o.volumeExecuted.toFixed()}`);
      const seen: Record<number, string[]> = {};
      [5, 10, 20, 30].forEach((frame) => scheduler.schedule(() => (seen[frame] = state()), frame));
      scheduler.schedule(() => {
        // Resting at 100 under the ask (100.1): nothing until the price reaches it; then 0.4, nothing, and the pair's 0.5.
        expect(seen).toEqual({ 5: ['open 0'], 10: ['open 0.4'], 20: ['open 0.4'], 30: ['open 0.9'] });
        // Both fills at the order's own price, as a maker.
        expect(exchange.inspect.trades().map((t) => [t.volume.toFixed(), t.price.toFixed(), t.maker])).toEqual([
          ['0.4', '100', true],
          ['0.5', '100', true],
        ]);
      }, 40);
    });
  });

  it('a liquidity that is not a non-negative decimal is refused when the move is scripted', () => {
    marbles(({ scheduler }) => {
      const exchange = createVirtualExchange({ scheduler });
      expect(() => exchange.setPriceAt(10, 'XBTUSD', '100', { liquidity: '-1' })).toThrow('liquidity must be a non-negative decimal, got -1');
      expect(() => exchange.setPrice('XBTUSD', '100', { liquidity: 'lots' })).toThrow('liquidity must be a non-negative decimal, got lots');
    });
  });

  it('sent() lists each request with the frame it was sent at and its parameters', () => {
    marbles(({ scheduler }) => {
      const exchange = createVirtualExchange({ scheduler });
      scheduler.schedule(() => exchange.port.ticker(['XXBTZUSD']).subscribe(), 5);
      scheduler.schedule(() => {
        exchange.port.placeOrder({ clientOrderId: 'c1', pair: 'XXBTZUSD', side: 'sell', orderType: 'market', volume: new Decimal('0.1') }).subscribe();
      }, 7);
      scheduler.schedule(() => {
        expect(exchange.sent().map((request) => [request.method, request.frame])).toEqual([
          ['Ticker', 5],
          ['AddOrder', 7],
        ]);
        expect(exchange.sent('AddOrder').map((request) => [request.params['type'], request.params['ordertype'], request.params['volume']])).toEqual([['sell', 'market', '0.1']]);
      }, 50);
    });
  });
  it('refuse answers matching requests with the Kraken error, processing nothing, for count requests or until unsubscribed', () => {
    marbles(({ scheduler }) => {
      const exchange = createVirtualExchange({ scheduler, prices: { XBTUSD: '60000' } });
      const sell = (clientOrderId: string): Observable<string> =>
        exchange.port.placeOrder({ clientOrderId, pair: 'XXBTZUSD', side: 'sell', orderType: 'limit', volume: new Decimal('0.1'), price: new Decimal('70000') }).pipe(map((placed) => placed.clientOrderId));
      const outcomes: string[] = [];
      const send = (frame: number, clientOrderId: string): void => {
        scheduler.schedule(() => {
          sell(clientOrderId).subscribe({
            next: (id) => outcomes.push(`${scheduler.now()} ${id} placed`),
            error: (e: unknown) => outcomes.push(`${scheduler.now()} ${clientOrderId} ${isExchangeError(e) ? `${e.kind} ${e.codes.join()}` : 'other'}`),
          });
        }, frame);
      };
      const refusal = exchange.refuse('AddOrder', 'EOrder:Trading agreement required', { when: (params) => params['cl_ord_id'] !== 'other' });
      exchange.refuse('AddOrder', 'EGeneral:Internal error', { count: 1, when: (params) => params['cl_ord_id'] === 'other' });
      send(0, 'a');
      send(20, 'other');
      send(40, 'other');
      scheduler.schedule(() => refusal.unsubscribe(), 50);
      send(60, 'b');
      scheduler.schedule(() => {
        expect(outcomes).toEqual([
          '10 a refused EOrder:Trading agreement required',
          // EGeneral:Internal error on a write may have happened: the client's class, as over HTTP.
          '30 other ambiguous EGeneral:Internal error',
          '50 other placed',
          '70 b placed',
        ]);
        expect(exchange.inspect.orders().map((o) => o.clOrdId)).toEqual(['other', 'b']);
        expect(exchange.inspect.requestCount('AddOrder')).toBe(4);
      }, 100);
    });
  });

  it('refuse says what is wrong with a code that is not Kraken\'s or a count that is not positive', () => {
    marbles(({ scheduler }) => {
      const exchange = createVirtualExchange({ scheduler });
      expect(() => exchange.refuse('AddOrder', 'nope')).toThrow('refuse: code must be a Kraken error string such as EOrder:Insufficient funds, got nope');
      expect(() => exchange.refuse('AddOrder', 'EOrder:Invalid price', { count: 0 })).toThrow('refuse: count must be a positive integer, got 0');
    });
  });
});

describe('the paper exchange over HTTP', () => {
  afterEach(() => closeAllTestRuns());

  it('takes the same price move: { liquidity } fills a resting limit by that much', async () => {
    const run = await startTestRun({ paper: { prices: { XBTUSD: '100' } } });
    const placed = firstValueFrom(
      run.port.placeOrder({ clientOrderId: 'thin', pair: 'XXBTZUSD', side: 'buy', orderType: 'limit', volume: new Decimal('1'), price: new Decimal('100') }),
    );
    await run.until('the limit to rest', () => run.paper.inspect.ordersByClOrdId('thin').length === 1);
    await placed;
    run.paper.setPrice('XBTUSD', '100', { liquidity: '0.4' });
    expect(run.paper.inspect.ordersByClOrdId('thin').map((o) => `${o.status} ${o.volumeExecuted.toFixed()}`)).toEqual(['open 0.4']);
  });
});
