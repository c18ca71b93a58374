import { describe, expect, it } from '@jest/globals';
import { Decimal } from 'decimal.js';
import { clientRateBudget } from '../../src/kraken/budget';
import { type Quote } from '../../src/model/order';
import { type LastPrice } from '../../src/streams/last-price';
import { FakePort, exchangeError, marbles } from './fake-exchange';
import { exchangeDeps } from './stream-deps';

const quotes = (pairs: readonly string[], last = '100'): ReadonlyMap<string, Quote> =>
  new Map(pairs.map((pair): [string, Quote] => [pair, { pair, bid: new Decimal(last), ask: new Decimal(last), last: new Decimal(last) }]));

const shown = (read: LastPrice): string => (read.kind === 'last' ? `${read.price.toFixed()}@${read.at}` : `none: ${read.reason}`);

describe('the run\'s price reader (deps.prices)', () => {
  it('shares one Ticker read among everyone who asks while it is out, and hands it out again for a second', () => {
    marbles(({ cold, scheduler, flush }) => {
      const port = new FakePort({ ticker: (pairs) => cold('10ms (a|)', { a: quotes(pairs) }) }, scheduler);
      const { prices } = exchangeDeps(port, scheduler);
      const seen: string[] = [];
      for (const [who, at] of [['a', 0], ['b', 2], ['c', 999], ['d', 1001]] as const) {
        scheduler.schedule(() => prices.last('XXBTZUSD', 'place').subscribe((read) => seen.push(`${scheduler.now()} ${who} ${shown(read)}`)), at);
      }
      flush();
      expect(seen).toEqual(['10 a 100@0', '10 b 100@0', '999 c 100@0', '1011 d 100@1001']);
      expect(port.callsOf('ticker').map((call) => [call.at, call.args])).toEqual([[0, ['XXBTZUSD']], [1001, ['XXBTZUSD']]]);
    });
  });

  it('a failed read is `unavailable` with the reason, never an error, and the next ask reads again', () => {
    marbles(({ cold, scheduler, flush }) => {
      const port = new FakePort(
        { ticker: (pairs, call) => (call === 1 ? cold('10ms #', {}, exchangeError('refused', 'EQuery:Unknown asset pair', 'Ticker')) : cold('10ms (a|)', { a: quotes(pairs, '101') })) },
        scheduler,
      );
      const { prices } = exchangeDeps(port, scheduler);
      const seen: string[] = [];
      for (const at of [0, 20]) scheduler.schedule(() => prices.last('XXBTZUSD', 'place').subscribe({ next: (read) => seen.push(`${scheduler.now()} ${shown(read)}`), error: () => seen.push('error') }), at);
      flush();
      expect(seen).toEqual(['10 none: Ticker: EQuery:Unknown asset pair', '30 101@20']);
    });
  });

  it('paces Ticker reads as public calls: at starter, a burst of 4, then one a second (Kraken: about 1/s per IP)', () => {
    marbles(({ cold, scheduler, flush }) => {
      const port = new FakePort({ ticker: (pairs) => cold('(a|)', { a: quotes(pairs) }) }, scheduler);
      const { prices } = exchangeDeps(port, scheduler, { budget: clientRateBudget('starter') });
      const pairs = ['P1', 'P2', 'P3', 'P4', 'P5', 'P6', 'P7'];
      const seen: string[] = [];
      for (const pair of pairs) prices.last(pair, 'monitor').subscribe((read) => seen.push(`${pair} ${shown(read)}`));
      flush();
      expect(port.callsOf('ticker').map((call) => call.at)).toEqual([0, 0, 0, 0, 1000, 2000, 3000]);
      expect(seen).toHaveLength(7);
    });
  });

  it('one Ticker call refreshes every stale pair asked for lately: a burst across pairs costs one call per second', () => {
    marbles(({ cold, scheduler, flush }) => {
      const port = new FakePort({ ticker: (pairs) => cold('10ms (a|)', { a: quotes(pairs) }) }, scheduler);
      const { prices } = exchangeDeps(port, scheduler);
      const seen: string[] = [];
      const ask = (pair: string, at: number): void => {
        scheduler.schedule(() => prices.last(pair, 'place').subscribe((read) => seen.push(`${scheduler.now()} ${pair} ${shown(read)}`)), at);
      };
      ask('P1', 0);
      ask('P2', 20);
      ask('P1', 2_000);
      ask('P2', 2_020);
      flush();
      expect(port.callsOf('ticker').map((call) => [call.at, call.args])).toEqual([[0, ['P1']], [20, ['P2']], [2_000, ['P1', 'P2']]]);
      expect(seen).toEqual(['10 P1 100@0', '30 P2 100@20', '2010 P1 100@2000', '2020 P2 100@2000']);
    });
  });
});
