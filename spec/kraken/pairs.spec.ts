import { describe, expect, it } from '@jest/globals';
import { Decimal } from 'decimal.js';
import { pairBookFromAssetPairs } from '../../src/kraken/pairs';
import { parseAssetPairs } from '../../src/kraken/parse-public';
import { type KrakenAssetPairWire, type KrakenAssetPairsWire, type KrakenAssetsWire } from '../../src/kraken/wire';
import { type PairRules } from '../../src/model/pair';
import {
  checkMinimums,
  formatPrice,
  formatVolume,
  isOnTick,
  roundPrice,
  roundVolumeDown,
} from '../../src/model/pair-rules';

const d = (value: string): Decimal => new Decimal(value);

const pair = (overrides: Partial<KrakenAssetPairWire> & Pick<KrakenAssetPairWire, 'altname' | 'base' | 'quote'>): KrakenAssetPairWire => ({
  aclass_base: 'currency', aclass_quote: 'currency', lot: 'unit',
  cost_decimals: 5, pair_decimals: 1, lot_decimals: 8, lot_multiplier: 1,
  fees: [[0, 0.26], [50000, 0.24]], fees_maker: [[0, 0.16], [50000, 0.14]],
  ordermin: '0.0001', costmin: '0.5', tick_size: '0.1', status: 'online',
  ...overrides,
});

const withoutStatusAndMultiplier = ({ status: _status, lot_multiplier: _multiplier, ...rest }: KrakenAssetPairWire): KrakenAssetPairWire => rest;

const wire: KrakenAssetPairsWire = {
  XXBTZUSD: pair({ altname: 'XBTUSD', wsname: 'XBT/USD', base: 'XXBT', quote: 'ZUSD' }),
  XETHZUSD: pair({ altname: 'ETHUSD', wsname: 'ETH/USD', base: 'XETH', quote: 'ZUSD', pair_decimals: 2, tick_size: '0.01', ordermin: '0.002' }),
  XDGUSD: pair({ altname: 'XDGUSD', wsname: 'XDG/USD', base: 'XXDG', quote: 'ZUSD', pair_decimals: 7, lot_decimals: 8, tick_size: '0.0000001', ordermin: '30' }),
  SOLUSD: pair({ altname: 'SOLUSD', wsname: 'SOL/USD', base: 'SOL', quote: 'ZUSD', pair_decimals: 2, lot_decimals: 8, tick_size: '0.01', ordermin: '0.02' }),
  // A coarse tick: price in whole units, multiples of 5.
  XXBTZJPY: pair({ altname: 'XBTJPY', wsname: 'XBT/JPY', base: 'XXBT', quote: 'ZJPY', pair_decimals: 0, tick_size: '5', costmin: '50' }),
  // No status, no lot_multiplier, no wsname (as seen on some live rows).
  XXBTZEUR: withoutStatusAndMultiplier(pair({ altname: 'XBTEUR', base: 'XXBT', quote: 'ZEUR' })),
  'XXBTZUSD.d': pair({ altname: 'XBTUSD.d', base: 'XXBT', quote: 'ZUSD' }),
  ETHXBT: pair({ altname: 'ETHXBT', wsname: 'ETH/XBT', base: 'XETH', quote: 'XXBT', pair_decimals: 5, tick_size: '0.00001', status: 'delisted' as 'online' }),
  ADAUSD: pair({ altname: 'ADAUSD', wsname: 'ADA/USD', base: 'ADA', quote: 'ZUSD', status: 'post_only' }),
};

describe('pairBookFromAssetPairs — lookup', () => {
  const book = pairBookFromAssetPairs(wire);

  it.each([
    ['XXBTZUSD'], ['XBTUSD'], ['XBT/USD'], ['BTC/USD'], ['btc/usd'], ['xbtusd'], ['BTCUSD'], [' BTC/USD '],
  ])('finds XXBTZUSD by %p', (name) => {
    expect(book.find(name)?.key).toBe('XXBTZUSD');
  });

  it('maps XDG to DOGE and keeps the other names', () => {
    const doge = book.find('DOGE/USD');
    expect(doge?.key).toBe('XDGUSD');
    expect(doge?.symbol).toBe('DOGE/USD');
    expect(book.find('XDG/USD')?.key).toBe('XDGUSD');
    expect(book.find('XDGUSD')?.key).toBe('XDGUSD');
  });

  it('names X/Z assets by their common codes: XETHZUSD is ETH/USD, ETHXBT is ETH/BTC', () => {
    expect(book.find('ETH/USD')?.key).toBe('XETHZUSD');
    expect(book.find('ETH/BTC')?.key).toBe('ETHXBT');
    expect(book.find('SOL/USD')?.base).toBe('SOL');
  });

  it('skips dark-pool pairs', () => {
    expect(book.find('XBTUSD.d')).toBeUndefined();
    expect(book.find('XXBTZUSD.d')).toBeUndefined();
    expect(book.all().map((rules) => rules.key)).not.toContain('XXBTZUSD.d');
    expect(book.all()).toHaveLength(8);
  });

  it('tolerates a missing status (online), lot_multiplier and wsname', () => {
    const eur = book.find('BTC/EUR');
    expect(eur?.key).toBe('XXBTZEUR');
    expect(eur?.status).toBe('online');
    expect(eur?.wsname).toBe('XBT/EUR');
    expect(eur?.symbol).toBe('BTC/EUR');
    expect(book.find('XBT/EUR')?.key).toBe('XXBTZEUR');
  });

  it('keeps known statuses and reads an unknown one as cancel_only', () => {
    expect(book.find('ADA/USD')?.status).toBe('post_only');
    expect(book.find('ETHXBT')?.status).toBe('cancel_only');
  });

  it('answers undefined for an unknown name', () => {
    expect(book.find('NOPE/USD')).toBeUndefined();
    expect(book.find('')).toBeUndefined();
  });

  it('carries decimals, minimums and lowest-tier fees as Decimals', () => {
    const btc = book.find('XBTUSD')!;
    expect(btc.pairDecimals).toBe(1);
    expect(btc.lotDecimals).toBe(8);
    expect(btc.tickSize.toFixed()).toBe('0.1');
    expect(btc.orderMin.toFixed()).toBe('0.0001');
    expect(btc.costMin.toFixed()).toBe('0.5');
    expect(btc.takerFeePercent.toFixed()).toBe('0.26');
    expect(btc.makerFeePercent.toFixed()).toBe('0.16');
  });

  it('uses Assets altnames for the symbol when given, and accepts parsed maps', () => {
    const assets: KrakenAssetsWire = {
      XXBT: { aclass: 'currency', altname: 'XBT', decimals: 10, display_decimals: 5 },
      ZUSD: { aclass: 'currency', altname: 'USD', decimals: 4, display_decimals: 2 },
    };
    const fromParsed = pairBookFromAssetPairs(parseAssetPairs({ XXBTZUSD: wire['XXBTZUSD'] }), assets);
    expect(fromParsed.find('BTC/USD')?.key).toBe('XXBTZUSD');
  });

  it('never lets a display name shadow another pair’s key or altname', () => {
    const clash: KrakenAssetPairsWire = {
      // This pair's altname is the other pair's slashless display symbol.
      FOO: pair({ altname: 'BTCUSD', wsname: 'FOO/BAR', base: 'FOO', quote: 'BAR' }),
      XXBTZUSD: wire['XXBTZUSD']!,
    };
    const clashBook = pairBookFromAssetPairs(clash);
    expect(clashBook.find('BTCUSD')?.key).toBe('FOO');
    expect(clashBook.find('BTC/USD')?.key).toBe('XXBTZUSD');
  });

  it('names the field when a pair is malformed', () => {
    expect(() => pairBookFromAssetPairs({ BAD: { ...wire['XXBTZUSD']!, lot_decimals: 'eight' as unknown as number } })).toThrow(
      'AssetPairs result.BAD.lot_decimals: expected a number, got string',
    );
  });
});

describe('pair rules arithmetic on Kraken pairs', () => {
  const book = pairBookFromAssetPairs(wire);
  const btc = book.find('XBTUSD')!;
  const eth = book.find('ETHUSD')!;
  const jpy = book.find('XBTJPY')!;
  const doge = book.find('DOGE/USD')!;

  it('rounds volume down to lot decimals, never up', () => {
    expect(roundVolumeDown(btc, d('0.123456789')).toFixed()).toBe('0.12345678');
    expect(roundVolumeDown(btc, d('0.999999999')).toFixed()).toBe('0.99999999');
    expect(roundVolumeDown(btc, d('0.000000009')).toFixed()).toBe('0');
    expect(formatVolume(btc, d('1.25'))).toBe('1.25000000');
    expect(formatVolume(btc, d('0.123456789'))).toBe('0.12345678');
  });

  it.each<[string, () => PairRules, string, 'down' | 'up' | 'nearest', string]>([
    ['tick 0.1', () => btc, '30010.06', 'nearest', '30010.1'],
    ['tick 0.1', () => btc, '30010.04', 'nearest', '30010'],
    ['tick 0.1', () => btc, '30010.09', 'down', '30010'],
    ['tick 0.1', () => btc, '30010.01', 'up', '30010.1'],
    ['tick 0.01', () => eth, '1999.995', 'nearest', '2000'],
    ['tick 0.01', () => eth, '1999.999', 'down', '1999.99'],
    ['tick 5', () => jpy, '4500012', 'nearest', '4500010'],
    ['tick 5', () => jpy, '4500013', 'nearest', '4500015'],
    ['tick 5', () => jpy, '4500014.9', 'down', '4500010'],
    ['tick 5', () => jpy, '4500010.1', 'up', '4500015'],
    ['tick 1e-7', () => doge, '0.123456789', 'down', '0.1234567'],
  ])('%s: %s rounded %s… is on tick', (_label, rules, price, mode, expected) => {
    const rounded = roundPrice(rules(), d(price), mode);
    expect(rounded.toFixed()).toBe(expected);
    expect(isOnTick(rules(), rounded)).toBe(true);
  });

  it('recognises prices off the tick or with too many decimals', () => {
    expect(isOnTick(btc, d('30010.1'))).toBe(true);
    expect(isOnTick(btc, d('30010.15'))).toBe(false);
    expect(isOnTick(jpy, d('4500012'))).toBe(false);
    expect(isOnTick(jpy, d('4500015'))).toBe(true);
  });

  it('formats prices without exponent and within pair decimals', () => {
    expect(formatPrice(btc, d('30010.10'))).toBe('30010.1');
    expect(formatPrice(btc, d('37500'))).toBe('37500');
    expect(formatPrice(doge, d('0.00000012'))).toBe('0.0000001');
    expect(formatPrice(jpy, d('1e7'))).toBe('10000000');
  });

  it('checks ordermin on volume and costmin on volume × price', () => {
    expect(checkMinimums(btc, d('0.0001'), d('30000'))).toEqual({ ok: true });
    const tooSmall = checkMinimums(btc, d('0.00009999'), d('30000'));
    expect(tooSmall).toEqual({ ok: false, field: 'quantity', reason: '0.00009999 is below the BTC/USD order minimum 0.0001' });
    const tooCheap = checkMinimums(jpy, d('0.0001'), d('400000'));
    expect(tooCheap).toEqual({ ok: false, field: 'cost', reason: 'cost 40 is below the BTC/JPY cost minimum 50' });
    expect(checkMinimums(jpy, d('0.000125'), d('400000'))).toEqual({ ok: true });
  });
});
