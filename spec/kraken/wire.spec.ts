import { describe, expect, it } from '@jest/globals';
import { Decimal } from 'decimal.js';
import { parseBalance, parseBalanceEx } from '../../src/kraken/parse-account';
import {
  parseAddOrder,
  parseCancelAllOrdersAfter,
  parseCancelOrder,
  parseClosedOrders,
  parseOpenOrders,
  parseQueryOrders,
} from '../../src/kraken/parse-orders';
import {
  parseAssetPairs,
  parseAssets,
  parseSystemStatus,
  parseTickers,
  parseTime,
} from '../../src/kraken/parse-public';
import {
  type KrakenAddOrderWire,
  type KrakenAssetPairsWire,
  type KrakenAssetsWire,
  type KrakenBalanceExWire,
  type KrakenClosedOrdersWire,
  type KrakenOpenOrdersWire,
  type KrakenOrderWire,
  type KrakenQueryOrdersWire,
  type KrakenTickersWire,
} from '../../src/kraken/wire';
import { WireFormatError, asDecimal } from '../../src/kraken/wire-parse';

const d = (value: string): Decimal => new Decimal(value);

// kraken-api.md §5.2: a filled market sell from QueryOrders.
const filledMarket: KrakenOrderWire = {
  refid: null, userref: null, cl_ord_id: '6d1b345e-2821-40e2-ad83-4ecb18a06876',
  status: 'closed', reason: null,
  opentm: 1688592012.2317, closetm: 1688592012.2335, starttm: 0, expiretm: 0,
  descr: { pair: 'XBTUSD', type: 'sell', ordertype: 'market', price: '0', price2: '0', leverage: 'none', order: 'sell 0.25000000 XBTUSD @ market', close: '' },
  vol: '0.25000000', vol_exec: '0.25000000', cost: '7500.0', fee: '7.5', price: '30000.0',
  stopprice: '0.00000', limitprice: '0.00000', misc: '', oflags: 'fcib', trades: ['TJUW2K-FLX2N-AR2FLU'],
};

// kraken-api.md §5.2: partially filled, then cancelled.
const partialCanceled: KrakenOrderWire = {
  refid: null, userref: 0, status: 'canceled', reason: 'User requested',
  opentm: 1688148493.7708, closetm: 1688148610.0482, starttm: 0, expiretm: 0,
  descr: { pair: 'XBTUSD', type: 'buy', ordertype: 'limit', price: '30010.0', price2: '0', leverage: 'none', order: 'buy 1.25000000 XBTUSD @ limit 30010.0', close: '' },
  vol: '1.25000000', vol_exec: '0.37500000', cost: '11253.7', fee: '18.0', price: '30010.0',
  stopprice: '0.00000', limitprice: '0.00000', misc: '', oflags: 'fciq', trades: ['TCCCTY-WE2O6-P3NB37'],
};

const restingStopLimit: KrakenOrderWire = {
  refid: null, userref: null, cl_ord_id: 'sl-0001', status: 'open', reason: null,
  opentm: 1688600000.5, starttm: 0, expiretm: 0,
  descr: { pair: 'XBTUSD', type: 'sell', ordertype: 'stop-loss-limit', price: '28000.0', price2: '27900.0', leverage: 'none', order: 'sell 0.10000000 XBTUSD @ stop loss 28000.0 -> limit 27900.0', close: '' },
  vol: '0.10000000', vol_exec: '0.00000000', cost: '0.00000', fee: '0.00000', price: '0.00000',
  stopprice: '0.00000', limitprice: '0.00000', misc: '', oflags: 'fcib',
};

describe('order parsers', () => {
  it('turns a filled QueryOrders entry into an OrderSnapshot with Decimals', () => {
    const wire: KrakenQueryOrdersWire = { 'OMMDB2-FSB6Z-7W3HPO': filledMarket };
    const orders = parseQueryOrders(wire);
    expect([...orders.keys()]).toEqual(['OMMDB2-FSB6Z-7W3HPO']);
    expect(orders.get('OMMDB2-FSB6Z-7W3HPO')).toEqual({
      txid: 'OMMDB2-FSB6Z-7W3HPO',
      clientOrderId: '6d1b345e-2821-40e2-ad83-4ecb18a06876',
      pair: 'XBTUSD', side: 'sell', orderType: 'market', status: 'closed',
      volume: d('0.25'), volumeExecuted: d('0.25'), cost: d('7500'), fee: d('7.5'), averagePrice: d('30000'),
      limitPrice: null, stopPrice: null,
      openedAt: 1688592012.2317, closedAt: 1688592012.2335, reason: null,
    });
  });

  it('keeps vol_exec of a cancelled order and reads the limit price from descr', () => {
    const wire: KrakenClosedOrdersWire = { closed: { 'O37652-RJWRT-IMO74O': partialCanceled }, count: 7 };
    const { orders, count } = parseClosedOrders(wire);
    const order = orders.get('O37652-RJWRT-IMO74O')!;
    expect(count).toBe(7);
    expect(order.status).toBe('canceled');
    expect(order.volumeExecuted.toFixed()).toBe('0.375');
    expect(order.limitPrice?.toFixed()).toBe('30010');
    expect(order.clientOrderId).toBeNull();
    expect(order.reason).toBe('User requested');
  });

  it('reads trigger and limit of a stop-loss-limit, and an open order has no close time', () => {
    const wire: KrakenOpenOrdersWire = { open: { 'OSTOP1-AAAAA-BBBBBB': restingStopLimit } };
    const order = parseOpenOrders(wire).get('OSTOP1-AAAAA-BBBBBB')!;
    expect(order.stopPrice?.toFixed()).toBe('28000');
    expect(order.limitPrice?.toFixed()).toBe('27900');
    expect(order.closedAt).toBeNull();
    expect(order.averagePrice.isZero()).toBe(true);
  });

  it('tolerates unknown extra fields', () => {
    const withExtras = { ...filledMarket, sender_sub_id: 'x', newfield: { nested: [1, 2] }, descr: { ...filledMarket.descr, extra: true } };
    expect(parseQueryOrders({ OX: withExtras }).get('OX')?.status).toBe('closed');
    expect(parseOpenOrders({ open: {}, future: 1 }).size).toBe(0);
  });

  it.each([
    ['vol', (o: Record<string, unknown>) => { delete o['vol']; }, 'QueryOrders result.OX.vol: expected a decimal number, got missing'],
    ['vol_exec', (o: Record<string, unknown>) => { o['vol_exec'] = 'abc'; }, 'QueryOrders result.OX.vol_exec: expected a decimal number, got "abc"'],
    ['status', (o: Record<string, unknown>) => { o['status'] = 'weird'; }, 'QueryOrders result.OX.status: expected one of pending | open | closed | canceled | expired, got "weird"'],
    ['descr', (o: Record<string, unknown>) => { delete o['descr']; }, 'QueryOrders result.OX.descr: expected an object, got missing'],
    ['opentm', (o: Record<string, unknown>) => { o['opentm'] = null; }, 'QueryOrders result.OX.opentm: expected a number, got null'],
  ])('names a missing or malformed required field: %s', (_field, corrupt, message) => {
    const order: Record<string, unknown> = { ...filledMarket };
    corrupt(order);
    expect(() => parseQueryOrders({ OX: order })).toThrow(WireFormatError);
    expect(() => parseQueryOrders({ OX: order })).toThrow(message);
  });

  it('rejects exponent, hex and Infinity numerals that decimal.js would accept', () => {
    for (const bad of ['1e5', '0x10', 'Infinity', 'NaN', '', '1.2.3']) expect(() => asDecimal(bad, 'f')).toThrow(WireFormatError);
    expect(asDecimal('0.00000', 'f').isZero()).toBe(true);
    expect(asDecimal(0.26, 'f').toFixed()).toBe('0.26');
  });

  it('parses AddOrder with txids, and a validate-only answer without', () => {
    const placed: KrakenAddOrderWire = {
      descr: { order: 'buy 2.12340000 XBTUSD @ limit 25000.1 with 2:1 leverage', close: 'close position @ stop loss 22000.0 -> limit 21000.0' },
      txid: ['OUF4EM-FRGI2-MQMWZD'],
    };
    expect(parseAddOrder(placed)).toEqual({
      txids: ['OUF4EM-FRGI2-MQMWZD'],
      description: 'buy 2.12340000 XBTUSD @ limit 25000.1 with 2:1 leverage',
      closeDescription: 'close position @ stop loss 22000.0 -> limit 21000.0',
    });
    expect(parseAddOrder({ descr: { order: 'buy 1.00000000 XBTUSD @ market' } })).toEqual({
      txids: [], description: 'buy 1.00000000 XBTUSD @ market', closeDescription: null,
    });
    expect(() => parseAddOrder({ txid: ['O1'] })).toThrow('AddOrder result.descr: expected an object, got missing');
    expect(() => parseAddOrder({ descr: { order: 'x' }, txid: [5] })).toThrow('AddOrder result.txid[0]: expected a string, got number');
  });

  it('parses CancelOrder, CancelAll and CancelAllOrdersAfter', () => {
    expect(parseCancelOrder({ count: 1 })).toEqual({ count: 1, pending: false });
    expect(parseCancelOrder({ count: 0, pending: true })).toEqual({ count: 0, pending: true });
    expect(() => parseCancelOrder({}, 'CancelAll')).toThrow('CancelAll result.count: expected a number, got missing');
    expect(parseCancelAllOrdersAfter({ currentTime: '2023-03-24T17:41:56Z', triggerTime: '2023-03-24T17:42:56Z' })).toEqual({
      currentTime: '2023-03-24T17:41:56Z', triggerTime: '2023-03-24T17:42:56Z',
    });
  });
});

describe('public parsers', () => {
  it('parses Time and SystemStatus', () => {
    expect(parseTime({ unixtime: 1688669448, rfc1123: 'Thu, 06 Jul 23 18:50:48 +0000' })).toEqual({
      unixtime: 1688669448, rfc1123: 'Thu, 06 Jul 23 18:50:48 +0000',
    });
    expect(parseSystemStatus({ status: 'cancel_only', timestamp: '2023-07-06T18:52:00Z' }).status).toBe('cancel_only');
    expect(() => parseSystemStatus({ status: 'sleeping', timestamp: 'x' })).toThrow('SystemStatus result.status');
    expect(() => parseTime({})).toThrow('Time result.unixtime: expected a number, got missing');
  });

  it('parses the Ticker example keyed by pair key', () => {
    const wire: KrakenTickersWire = {
      XXBTZUSD: {
        a: ['3537.50000', '1', '1.000'], b: ['3537.40000', '16', '16.000'], c: ['3537.50000', '0.25000000'],
        v: ['2945.40515179', '4009.69918350'], p: ['3537.46886', '3535.79747'], t: [5773, 6815],
        l: ['3504.20000', '3504.20000'], h: ['3565.00000', '3565.00000'], o: '3530.60000',
      },
    };
    const ticker = parseTickers(wire).get('XXBTZUSD')!;
    expect(ticker.pair).toBe('XXBTZUSD');
    expect(ticker.ask.price.toFixed()).toBe('3537.5');
    expect(ticker.bid.price.toFixed()).toBe('3537.4');
    expect(ticker.last).toEqual({ price: d('3537.5'), volume: d('0.25') });
    expect(ticker.trades).toEqual([5773, 6815]);
    expect(ticker.open?.toFixed()).toBe('3530.6');
    expect(() => parseTickers({ XXBTZUSD: { ...wire['XXBTZUSD'], b: ['1'] } })).toThrow('Ticker result.XXBTZUSD.b: expected at least 3 entries, got 1');
  });

  it('parses AssetPairs, tolerating missing status, lot_multiplier, tick_size and costmin', () => {
    const wire: KrakenAssetPairsWire = {
      XXBTZUSD: {
        altname: 'XBTUSD', wsname: 'XBT/USD', aclass_base: 'currency', base: 'XXBT', aclass_quote: 'currency', quote: 'ZUSD',
        lot: 'unit', cost_decimals: 5, pair_decimals: 1, lot_decimals: 8, lot_multiplier: 1,
        fees: [[0, 0.26], [50000, 0.24]], fees_maker: [[0, 0.16], [50000, 0.14]], fee_volume_currency: 'ZUSD',
        ordermin: '0.0001', costmin: '0.5', tick_size: '0.1', status: 'online',
      },
      OLDUSD: {
        altname: 'OLDUSD', aclass_base: 'currency', base: 'OLD', aclass_quote: 'currency', quote: 'ZUSD',
        cost_decimals: 4, pair_decimals: 3, lot_decimals: 2, ordermin: '5',
      },
    };
    const pairs = parseAssetPairs(wire);
    const btc = pairs.get('XXBTZUSD')!;
    expect(btc.tickSize.toFixed()).toBe('0.1');
    expect(btc.takerFees[0]).toEqual({ volume: d('0'), percent: d('0.26') });
    expect(btc.makerFees[1]?.percent.toFixed()).toBe('0.14');
    const old = pairs.get('OLDUSD')!;
    expect(old.status).toBe('online');
    expect(old.lotMultiplier).toBe(1);
    expect(old.tickSize.toFixed()).toBe('0.001');
    expect(old.costMin.isZero()).toBe(true);
    expect(old.wsname).toBeNull();
    expect(() => parseAssetPairs({ X: { ...wire['XXBTZUSD'], ordermin: undefined } })).toThrow('AssetPairs result.X.ordermin: expected a decimal number, got missing');
  });

  it('parses Assets', () => {
    const wire: KrakenAssetsWire = {
      XXBT: { aclass: 'currency', altname: 'XBT', decimals: 10, display_decimals: 5, status: 'enabled' },
      ZUSD: { aclass: 'currency', altname: 'USD', decimals: 4, display_decimals: 2 },
    };
    const assets = parseAssets(wire);
    expect(assets.get('XXBT')).toEqual({ id: 'XXBT', altname: 'XBT', assetClass: 'currency', decimals: 10, displayDecimals: 5, status: 'enabled' });
    expect(assets.get('ZUSD')?.status).toBeNull();
  });
});

describe('account parsers', () => {
  it('parses Balance into Decimals', () => {
    const balances = parseBalance({ ZUSD: '171288.6158', XXBT: '0.0000000000' });
    expect(balances.get('ZUSD')?.toFixed()).toBe('171288.6158');
    expect(balances.get('XXBT')?.isZero()).toBe(true);
    expect(() => parseBalance({ ZUSD: 12 as unknown as string, XXBT: 'lots' })).toThrow('Balance result.XXBT');
  });

  it('parses BalanceEx and computes what is available', () => {
    const wire: KrakenBalanceExWire = {
      ZUSD: { balance: '25435.21', hold_trade: '8249.76' },
      XXBT: { balance: '1.2', hold_trade: '0.2', credit: '0.5', credit_used: '0.1' },
    };
    const balances = parseBalanceEx(wire);
    expect(balances.get('ZUSD')?.available.toFixed()).toBe('17185.45');
    expect(balances.get('XXBT')?.available.toFixed()).toBe('1.4');
  });
});
