import {
  type KrakenAssetPairsWire,
  type KrakenOrderWire,
  type KrakenTickersWire,
} from '../../../src/kraken/wire';

export const SECRET = 'kQH5HW/8p1uGOVjbgWA7FunAmGO8lsSUXNsu3eow76sz84Q18fWxnyRzBHCd3pd5nE9qa99HAZtuZuj6F1huXg==';

export const openLimitOrder = (clOrdId: string): KrakenOrderWire => ({
  refid: null, userref: null, cl_ord_id: clOrdId, status: 'open', reason: null,
  opentm: 1688666559.8974, starttm: 0, expiretm: 0,
  descr: { pair: 'XBTUSD', type: 'buy', ordertype: 'limit', price: '30010.0', price2: '0', leverage: 'none', order: 'buy 1.25000000 XBTUSD @ limit 30010.0', close: '' },
  vol: '1.25000000', vol_exec: '0.37500000', cost: '11253.7', fee: '0.00000', price: '30010.0',
  stopprice: '0.00000', limitprice: '0.00000', misc: '', oflags: 'fciq', trades: ['TCCCTY-WE2O6-P3NB37'],
});

export const closedMarketOrder = (clOrdId: string): KrakenOrderWire => ({
  refid: null, userref: null, cl_ord_id: clOrdId, status: 'closed', reason: null,
  opentm: 1688592012.2317, closetm: 1688592012.2335, starttm: 0, expiretm: 0,
  descr: { pair: 'XBTUSD', type: 'sell', ordertype: 'market', price: '0', price2: '0', leverage: 'none', order: 'sell 0.25000000 XBTUSD @ market', close: '' },
  vol: '0.25000000', vol_exec: '0.25000000', cost: '7500.0', fee: '7.5', price: '30000.0',
  stopprice: '0.00000', limitprice: '0.00000', misc: '', oflags: 'fcib',
});

export const assetPairs: KrakenAssetPairsWire = {
  XXBTZUSD: {
    altname: 'XBTUSD', wsname: 'XBT/USD', aclass_base: 'currency', base: 'XXBT', aclass_quote: 'currency', quote: 'ZUSD',
    lot: 'unit', cost_decimals: 5, pair_decimals: 1, lot_decimals: 8, lot_multiplier: 1,
    fees: [[0, 0.26]], fees_maker: [[0, 0.16]], fee_volume_currency: 'ZUSD',
    ordermin: '0.0001', costmin: '0.5', tick_size: '0.1', status: 'online',
  },
  XETHZUSD: {
    altname: 'ETHUSD', wsname: 'ETH/USD', aclass_base: 'currency', base: 'XETH', aclass_quote: 'currency', quote: 'ZUSD',
    lot: 'unit', cost_decimals: 5, pair_decimals: 2, lot_decimals: 8, lot_multiplier: 1,
    fees: [[0, 0.26]], fees_maker: [[0, 0.16]], fee_volume_currency: 'ZUSD',
    ordermin: '0.002', costmin: '0.5', tick_size: '0.01', status: 'online',
  },
};

export const tickers: KrakenTickersWire = {
  XXBTZUSD: {
    a: ['30010.10000', '1', '1.000'], b: ['30010.00000', '2', '2.000'], c: ['30010.05000', '0.01000000'],
    v: ['100.1', '200.2'], p: ['30000.1', '29990.2'], t: [5773, 6815],
    l: ['29000.00000', '28900.00000'], h: ['31000.00000', '31100.00000'], o: '29950.00000',
  },
};
