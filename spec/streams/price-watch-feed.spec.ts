import { describe, expect, it } from '@jest/globals';
import { Decimal } from 'decimal.js';
import { map } from 'rxjs';
import { type TestScheduler } from 'rxjs/testing';
import { type ExecutionConfig } from '../../src/model/config';
import { type QuoteEvent } from '../../src/model/feed';
import { type ExchangeDeps } from '../../src/streams/deps';
import { takeProfitReached, watchLastPrice } from '../../src/streams/price-watch';
import { FakePort, XBT, config, marbles, quoteOf } from './fake-exchange';
import { FakeFeed } from './feed-fakes';
import { exchangeDeps } from './stream-deps';

const quote = (pair: string, last: string): QuoteEvent => ({
  kind: 'quote',
  quote: { pair, bid: new Decimal(last), ask: new Decimal(last), last: new Decimal(last) },
});

function rig(scheduler: TestScheduler, ticker: () => ReturnType<FakePort['ticker']>, mode: 'websocket' | 'rest' = 'websocket') {
  const port = new FakePort({ ticker }, scheduler);
  const feed = new FakeFeed();
  const withFeed: ExecutionConfig = { ...config, feed: { mode, auditIntervalMs: 10_000 } };
  const deps: ExchangeDeps = { ...exchangeDeps(port, scheduler, { config: withFeed }), feed };
  const send = (ms: number, event: QuoteEvent): void => {
    scheduler.schedule(() => feed.quotes$.next(event), ms);
  };
  return { port, feed, deps, send };
}

describe('take-profit watch with a push feed', () => {
  it('reads the feed’s ticker while it is up and polls Ticker before and after', () => {
    marbles(({ cold, expectObservable, scheduler, flush }) => {
      const { port, feed, deps, send } = rig(scheduler, () => cold('10ms (a|)', { a: quoteOf('100') }));
      send(500, { kind: 'up', system: 'online' });
      send(700, quote(XBT.key, '101'));
      send(900, quote('XETHZUSD', '3000'));
      send(1_200, { kind: 'down', reason: 'stalled', terminal: false, detail: 'watchdog' });
      const prices$ = watchLastPrice(XBT.key, deps).pipe(map((p) => p.toFixed()));
      expectObservable(prices$, '^ 2500ms !').toBe('10ms a 689ms b 509ms c 999ms d', { a: '100', b: '101', c: '100', d: '100' });
      flush();
      // No Ticker call while the feed was up (the 1 s poll was dropped); polling again at once when it went down.
      expect(port.callsOf('ticker').map((c) => c.at)).toEqual([0, 1_200, 2_200]);
      expect(feed.quotePairs).toEqual([[XBT.key]]);
      expect(feed.quoteSubscribers).toBe(0);
    });
  });

  it('a feed that ends (terminal close) leaves the watch polling, not completed', () => {
    marbles(({ cold, expectObservable, scheduler, flush }) => {
      const { port, feed, deps, send } = rig(scheduler, () => cold('10ms (a|)', { a: quoteOf('100') }));
      send(100, { kind: 'up', system: 'online' });
      send(300, { kind: 'down', reason: 'refused', terminal: true, detail: '1008' });
      scheduler.schedule(() => feed.quotes$.complete(), 300);
      expectObservable(watchLastPrice(XBT.key, deps).pipe(map((p) => p.toFixed())), '^ 1500ms !').toBe('10ms a 289ms b 1009ms c', {
        a: '100',
        b: '100',
        c: '100',
      });
      flush();
      // At 300 ms the price read at 0 is still fresh (1 s): handed out again, no call.
      expect(port.callsOf('ticker').map((c) => c.at)).toEqual([0, 1_300]);
    });
  });

  it('the take-profit is reached on a feed quote, at once', () => {
    marbles(({ cold, expectObservable, scheduler, flush }) => {
      const { deps, send } = rig(scheduler, () => cold('10ms (a|)', { a: quoteOf('100') }));
      send(100, { kind: 'up', system: 'online' });
      send(400, quote(XBT.key, '104'));
      send(450, quote(XBT.key, '105.5'));
      expectObservable(takeProfitReached(XBT.key, 'sell', new Decimal('105'), deps).pipe(map((p) => p.toFixed()))).toBe('450ms (a|)', { a: '105.5' });
      flush();
    });
  });

  it('config feed.mode "rest": polls only', () => {
    marbles(({ cold, expectObservable, scheduler, flush }) => {
      const { port, feed, deps } = rig(scheduler, () => cold('10ms (a|)', { a: quoteOf('100') }), 'rest');
      expectObservable(watchLastPrice(XBT.key, deps).pipe(map((p) => p.toFixed())), '^ 1500ms !').toBe('10ms a 999ms b', { a: '100', b: '100' });
      flush();
      expect(feed.quotePairs).toEqual([]);
      expect(port.callsOf('ticker').map((c) => c.at)).toEqual([0, 1_000]);
    });
  });
});
