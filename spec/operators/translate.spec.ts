import { describe, expect, it } from '@jest/globals';
import { Decimal } from 'decimal.js';
import { type OperatorFunction, map } from 'rxjs';
import { type PairBook, type PairRules } from '../../src/model/pair';
import { type TradeSignal } from '../../src/model/signal';
import { type EntryIntent, type Rejection, type Translation, isRejection, rejection } from '../../src/operators/intent';
import { type TranslateOptions, translate, translateSignal } from '../../src/operators/translate';
import { marbles } from './support';

// ---- fixtures, built by hand: translate knows nothing of Kraken's wire format ----

const rules = (overrides: Partial<PairRules> & Pick<PairRules, 'key' | 'altname' | 'wsname' | 'symbol'>): PairRules => ({
  base: 'XXBT',
  quote: 'ZUSD',
  pairDecimals: 1,
  lotDecimals: 8,
  costDecimals: 5,
  tickSize: new Decimal('0.1'),
  orderMin: new Decimal('0.00005'),
  costMin: new Decimal('5'),
  status: 'online',
  takerFeePercent: new Decimal('0.4'),
  makerFeePercent: new Decimal('0.25'),
  ...overrides,
});

const XBTUSD = rules({ key: 'XXBTZUSD', altname: 'XBTUSD', wsname: 'XBT/USD', symbol: 'BTC/USD' });
/** A tick of 0.05 (not a power of ten) to show rounding to the tick rather than to decimals. */
const PAXGUSD = rules({
  key: 'PAXGUSD',
  altname: 'PAXGUSD',
  wsname: 'PAXG/USD',
  symbol: 'PAXG/USD',
  base: 'PAXG',
  pairDecimals: 2,
  lotDecimals: 4,
  tickSize: new Decimal('0.05'),
  orderMin: new Decimal('0.01'),
  costMin: new Decimal('0.5'),
});
const SOLUSD = rules({ key: 'SOLUSD', altname: 'SOLUSD', wsname: 'SOL/USD', symbol: 'SOL/USD', status: 'cancel_only' });

class MapPairBook implements PairBook {
  private readonly byName = new Map<string, PairRules>();
  constructor(private readonly pairs: readonly PairRules[]) {
    for (const pair of pairs) for (const name of [pair.key, pair.altname, pair.wsname, pair.symbol]) this.byName.set(name, pair);
  }
  find(name: string): PairRules | undefined {
    return this.byName.get(name);
  }
  all(): readonly PairRules[] {
    return this.pairs;
  }
}

const book = new MapPairBook([XBTUSD, PAXGUSD, SOLUSD]);

/** Client order ids `cl-1`, `cl-2`, … so a test can see that each order got its own. */
const ids = (): (() => string) => {
  let next = 0;
  return () => `cl-${++next}`;
};

const options = (overrides: Partial<TranslateOptions> = {}): TranslateOptions => ({
  newClientOrderId: ids(),
  defaultLimitTimeoutMs: 60_000,
  referencePrice: (pair) => (pair.key === 'XXBTZUSD' ? new Decimal('50000') : undefined),
  ...overrides,
});

const limitBuy: TradeSignal = {
  signalId: 's-1',
  pair: 'XBTUSD',
  side: 'buy',
  orderType: 'limit',
  quantity: '0.5',
  limitPrice: '50000',
  stopLoss: '49000',
  takeProfit: '52000',
};

const marketBuy: TradeSignal = { signalId: 's-2', pair: 'BTC/USD', side: 'buy', orderType: 'market', quantity: '0.1' };

/** A signal as it may arrive from JSON: any fields, any types. */
const raw = (fields: unknown): TradeSignal => fields as TradeSignal;

/** `limitBuy` with some fields replaced or removed (`undefined` removes). */
const limitBuyWith = (fields: Record<string, unknown>): TradeSignal => {
  const merged: Record<string, unknown> = { ...limitBuy, ...fields };
  for (const key of Object.keys(fields)) if (fields[key] === undefined) delete merged[key];
  return raw(merged);
};

const entryOf = (translation: Translation): EntryIntent => {
  if (translation.kind !== 'entry') throw new Error(`expected an entry, got: ${translation.field}: ${translation.reason}`);
  return translation;
};

/** Translations as short strings, so marbles compare exactly and read well. */
const described: OperatorFunction<Translation, string> = map((t) =>
  t.kind === 'rejected'
    ? `rejected ${t.field}`
    : `${t.request.clientOrderId} ${t.request.side} ${t.request.volume.toFixed()} ${t.request.pair}${t.request.price ? ` @ ${t.request.price.toFixed()}` : ''}`,
);

// ---- the operator: the RxJS checklist and the stream going on ----

describe('translate', () => {
  it('never emits and stays subscribed when no signal comes', () => {
    marbles(({ cold, expectObservable, expectSubscriptions }) => {
      const signals = cold<TradeSignal>('-');
      expectObservable(signals.pipe(translate(book, options()))).toBe('-');
      expectSubscriptions(signals.subscriptions).toBe('^');
    });
  });

  it('completes at once when the signals are empty', () => {
    marbles(({ cold, expectObservable, expectSubscriptions }) => {
      const signals = cold<TradeSignal>('|');
      expectObservable(signals.pipe(translate(book, options()))).toBe('|');
      expectSubscriptions(signals.subscriptions).toBe('(^!)');
    });
  });

  it('turns each signal into an entry intent with a fresh client order id', () => {
    marbles(({ cold, expectObservable, expectSubscriptions }) => {
      const signals = cold('-a-b-a-|', { a: limitBuy, b: marketBuy });
      const subs =         '^------!';
      const expected =     '-a-b-c-|';
      expectObservable(signals.pipe(translate(book, options()), described)).toBe(expected, {
        a: 'cl-1 buy 0.5 XXBTZUSD @ 50000',
        b: 'cl-2 buy 0.1 XXBTZUSD',
        c: 'cl-3 buy 0.5 XXBTZUSD @ 50000',
      });
      expectSubscriptions(signals.subscriptions).toBe(subs);
    });
  });

  it('goes on after malformed signals, rejecting each with its field', () => {
    marbles(({ cold, expectObservable }) => {
      const signals = cold('-a-b-c-d-e-f-g-h-|', {
        a: limitBuyWith({ quantity: 'abc' }),
        b: limitBuyWith({ pair: undefined }),
        c: limitBuyWith({ limitPrice: '-1' }),
        d: limitBuyWith({ quantity: Number.NaN }),
        e: limitBuyWith({ quantity: '1e400' }),
        f: raw({ hello: 'world' }),
        g: raw(null),
        h: limitBuy,
      });
      const expected =     '-a-b-c-d-e-f-g-h-|';
      expectObservable(signals.pipe(translate(book, options()), described)).toBe(expected, {
        a: 'rejected quantity',
        b: 'rejected pair',
        c: 'rejected limitPrice',
        d: 'rejected quantity',
        e: 'rejected quantity',
        f: 'rejected signalId',
        g: 'rejected signal',
        h: 'cl-1 buy 0.5 XXBTZUSD @ 50000',
      });
    });
  });

  it('passes rejections coming in (e.g. from haltGate) through unchanged', () => {
    const halted = rejection(limitBuy, 'halted', 'trading is halted');
    marbles(({ cold, expectObservable }) => {
      const inputs = cold<TradeSignal | Rejection>('-r-a-|', { r: halted, a: limitBuy });
      const expected =                             '-r-a-|';
      const sameObject = inputs.pipe(
        translate(book, options()),
        map((t) => (t === halted ? 'same rejection' : t.kind)),
      );
      expectObservable(sameObject).toBe(expected, { r: 'same rejection', a: 'entry' });
    });
  });

  it('passes an error of the signals on', () => {
    marbles(({ cold, expectObservable, expectSubscriptions }) => {
      const broke = new Error('feed broke');
      const signals = cold('-a-#', { a: limitBuy }, broke);
      const subs =         '^--!';
      const expected =     '-a-#';
      expectObservable(signals.pipe(translate(book, options()), described)).toBe(expected, { a: 'cl-1 buy 0.5 XXBTZUSD @ 50000' }, broke);
      expectSubscriptions(signals.subscriptions).toBe(subs);
    });
  });

  it('keeps translating a never-ending stream of signals', () => {
    marbles(({ cold, expectObservable, expectSubscriptions }) => {
      const signals = cold('-a-a-', { a: marketBuy });
      const subs =         '^';
      const expected =     '-a-b-';
      expectObservable(signals.pipe(translate(book, options()), described)).toBe(expected, {
        a: 'cl-1 buy 0.1 XXBTZUSD',
        b: 'cl-2 buy 0.1 XXBTZUSD',
      });
      expectSubscriptions(signals.subscriptions).toBe(subs);
    });
  });

  it('unsubscribes from the signals on early unsubscription', () => {
    marbles(({ cold, expectObservable, expectSubscriptions }) => {
      const signals = cold('-a-a-a-', { a: marketBuy });
      const unsub =        '^--!';
      const expected =     '-a-';
      expectObservable(signals.pipe(translate(book, options()), described), unsub).toBe(expected, { a: 'cl-1 buy 0.1 XXBTZUSD' });
      expectSubscriptions(signals.subscriptions).toBe(unsub);
    });
  });

  it('spends no client order id on a rejected signal', () => {
    marbles(({ cold, expectObservable }) => {
      const signals = cold('-a-x-a-|', { a: marketBuy, x: limitBuyWith({ quantity: '0' }) });
      const expected =     '-a-x-b-|';
      expectObservable(signals.pipe(translate(book, options()), described)).toBe(expected, {
        a: 'cl-1 buy 0.1 XXBTZUSD',
        x: 'rejected quantity',
        b: 'cl-2 buy 0.1 XXBTZUSD',
      });
    });
  });
});

// ---- one signal: every rejection reason, with the field it names ----

describe('translateSignal rejections', () => {
  const cases: ReadonlyArray<readonly [string, TradeSignal, string, RegExp]> = [
    ['a signal that is not an object', raw('buy BTC'), 'signal', /a signal must be an object, got 'buy BTC'/],
    ['a missing signalId', limitBuyWith({ signalId: undefined }), 'signalId', /signalId is missing or empty/],
    ['an empty signalId', limitBuyWith({ signalId: '  ' }), 'signalId', /signalId is missing or empty/],
    ['a missing pair', limitBuyWith({ pair: undefined }), 'pair', /pair is missing or empty/],
    ['a pair that is not a string', limitBuyWith({ pair: 42 }), 'pair', /pair is missing or empty/],
    ['an unknown pair', limitBuyWith({ pair: 'DOGEEUR' }), 'pair', /unknown pair 'DOGEEUR'/],
    ['a pair that is not online', limitBuyWith({ pair: 'SOL/USD' }), 'pair', /pair SOL\/USD is cancel_only, not online/],
    ['a bad side', limitBuyWith({ side: 'hold' }), 'side', /side must be 'buy' or 'sell', got 'hold'/],
    ['a bad orderType', limitBuyWith({ orderType: 'stop' }), 'orderType', /orderType must be 'market' or 'limit', got 'stop'/],
    ['a missing quantity', limitBuyWith({ quantity: undefined }), 'quantity', /quantity is missing/],
    ['a non-numeric quantity', limitBuyWith({ quantity: 'abc' }), 'quantity', /quantity 'abc' is not a decimal number/],
    ['a zero quantity', limitBuyWith({ quantity: '0' }), 'quantity', /quantity must be positive, got '0'/],
    ['a negative quantity', limitBuyWith({ quantity: '-1' }), 'quantity', /quantity must be positive, got '-1'/],
    ['a quantity in exponent notation', limitBuyWith({ quantity: '1e400' }), 'quantity', /quantity '1e400' is not a decimal number/],
    ['a quantity of NaN text', limitBuyWith({ quantity: 'NaN' }), 'quantity', /quantity 'NaN' is not a decimal number/],
    ['a quantity of Infinity text', limitBuyWith({ quantity: 'Infinity' }), 'quantity', /'Infinity' is not a decimal number/],
    ['a hexadecimal quantity', limitBuyWith({ quantity: '0x10' }), 'quantity', /'0x10' is not a decimal number/],
    ['a quantity given as a float', limitBuyWith({ quantity: 0.5 }), 'quantity', /not the number 0.5 \(floats are not accepted/],
    ['a quantity of the number NaN', limitBuyWith({ quantity: Number.NaN }), 'quantity', /not the number NaN/],
    ['a quantity of a NaN Decimal', limitBuyWith({ quantity: new Decimal(Number.NaN) }), 'quantity', /quantity NaN is not a finite number/],
    ['a quantity of an infinite Decimal', limitBuyWith({ quantity: new Decimal(Infinity) }), 'quantity', /Infinity is not a finite number/],
    ['a quantity of the wrong type', limitBuyWith({ quantity: true }), 'quantity', /quantity must be a decimal string, got boolean/],
    ['a quantity that rounds down to 0', limitBuyWith({ quantity: '0.000000009' }), 'quantity', /rounds down to 0 at the BTC\/USD lot decimals \(8\)/],
    ['a quantity below ordermin', limitBuyWith({ quantity: '0.00004999' }), 'quantity', /0.00004999 is below the BTC\/USD order minimum 0.00005/],
    ['a limit cost below costmin', limitBuyWith({ quantity: '0.00005', limitPrice: '5000', stopLoss: '4000', takeProfit: '6000' }), 'quantity', /cost 0.25 \(quantity 0.00005 at 5000\) is below the BTC\/USD cost minimum 5/],
    ['a market cost below costmin (reference price)', raw({ ...marketBuy, quantity: '0.00009' }), 'quantity', /cost 4.5 \(quantity 0.00009 at 50000\) is below the BTC\/USD cost minimum 5/],
    ['a limit order without a price', limitBuyWith({ limitPrice: undefined }), 'limitPrice', /a limit order needs a limitPrice/],
    ['a negative limit price', limitBuyWith({ limitPrice: '-1' }), 'limitPrice', /limitPrice must be positive, got '-1'/],
    ['a limit price that rounds to 0', limitBuyWith({ limitPrice: '0.05', stopLoss: undefined, quantity: '500' }), 'limitPrice', /limitPrice 0.05 rounds to 0 at the BTC\/USD tick size 0.1/],
    ['a market order with a limit price', raw({ ...marketBuy, limitPrice: '50000' }), 'limitPrice', /a market order takes no limitPrice/],
    ['a non-numeric stop-loss', limitBuyWith({ stopLoss: 'low' }), 'stopLoss', /stopLoss 'low' is not a decimal number/],
    ['a negative take-profit', limitBuyWith({ takeProfit: '-5' }), 'takeProfit', /takeProfit must be positive, got '-5'/],
    ['a buy stop-loss above the entry', limitBuyWith({ stopLoss: '50500' }), 'stopLoss', /stopLoss 50500 must be below the entry price 50000 for a buy/],
    ['a buy stop-loss at the entry', limitBuyWith({ stopLoss: '50000' }), 'stopLoss', /must be below the entry price 50000 for a buy/],
    ['a buy take-profit below the entry', limitBuyWith({ takeProfit: '49500' }), 'takeProfit', /takeProfit 49500 must be above the entry price 50000 for a buy/],
    ['a sell stop-loss below the entry', limitBuyWith({ side: 'sell', stopLoss: '49000', takeProfit: '48000' }), 'stopLoss', /stopLoss 49000 must be above the entry price 50000 for a sell/],
    ['a sell take-profit above the entry', limitBuyWith({ side: 'sell', stopLoss: '51000', takeProfit: '52000' }), 'takeProfit', /takeProfit 52000 must be below the entry price 50000 for a sell/],
    ['a market buy stop-loss above the reference price', raw({ ...marketBuy, stopLoss: '50001' }), 'stopLoss', /must be below the entry price 50000 for a buy/],
    ['a market buy take-profit below its stop-loss (no reference price)', raw({ signalId: 's', pair: 'PAXGUSD', side: 'buy', orderType: 'market', quantity: '1', stopLoss: '2000', takeProfit: '1990' }), 'takeProfit', /takeProfit 1990 must be above the stopLoss 2000 for a buy/],
    ['a negative timeoutMs', limitBuyWith({ timeoutMs: -5 }), 'timeoutMs', /timeoutMs must be a whole number of milliseconds from 1 to 2147483647, got -5/],
    ['a fractional timeoutMs', limitBuyWith({ timeoutMs: 1.5 }), 'timeoutMs', /got 1.5/],
    ['a timeoutMs given as text', limitBuyWith({ timeoutMs: '1000' }), 'timeoutMs', /got '1000'/],
    ['a timeoutMs longer than a timer can hold', limitBuyWith({ timeoutMs: 2 ** 31 }), 'timeoutMs', /got 2147483648/],
    ['a timeoutMs on a market entry', raw({ ...marketBuy, timeoutMs: 1000 }), 'timeoutMs', /only limit entries take a timeoutMs/],
  ];

  it.each(cases)('rejects %s, naming the field', (_title, signal, field, reason) => {
    const translation = translateSignal(signal, book, options());
    expect(isRejection(translation)).toBe(true);
    expect(translation).toEqual({ kind: 'rejected', signal, field, reason: expect.stringMatching(reason) });
  });

  it('rejects instead of throwing when the pair book throws', () => {
    const broken: PairBook = {
      find: () => {
        throw new Error('pair book not loaded');
      },
      all: () => [],
    };
    expect(translateSignal(limitBuy, broken, options())).toEqual({
      kind: 'rejected',
      signal: limitBuy,
      field: 'signal',
      reason: 'the signal could not be translated: pair book not loaded',
    });
  });
});

// ---- one signal: what an accepted one becomes ----

describe('translateSignal entries', () => {
  it('builds the order request for the pair key, whichever name the signal used', () => {
    for (const name of ['XXBTZUSD', 'XBTUSD', 'XBT/USD', 'BTC/USD']) {
      expect(entryOf(translateSignal({ ...marketBuy, pair: name }, book, options())).request.pair).toBe('XXBTZUSD');
    }
  });

  it('rounds the quantity down to the lot decimals', () => {
    const entry = entryOf(translateSignal({ ...marketBuy, quantity: '0.123456789' }, book, options()));
    expect(entry.request.volume.toFixed()).toBe('0.12345678');
  });

  it('rounds a buy limit price down and a sell limit price up to the tick (never worse than asked)', () => {
    const buy = entryOf(translateSignal({ ...limitBuy, limitPrice: '50000.19' }, book, options()));
    const sell = entryOf(
      translateSignal({ ...limitBuy, side: 'sell', limitPrice: '50000.11', stopLoss: '51000', takeProfit: '49000' }, book, options()),
    );
    expect(buy.request.price?.toFixed()).toBe('50000.1');
    expect(sell.request.price?.toFixed()).toBe('50000.2');
  });

  it('rounds prices to a tick that is not a power of ten (0.05), stop-loss and take-profit to the nearest tick', () => {
    const signal: TradeSignal = {
      signalId: 's-3',
      pair: 'PAXG/USD',
      side: 'buy',
      orderType: 'limit',
      quantity: '1.23456',
      limitPrice: '2000.07',
      stopLoss: '1990.03',
      takeProfit: '2010.02',
    };
    const entry = entryOf(translateSignal(signal, book, options()));
    expect(entry.request.volume.toFixed()).toBe('1.2345');
    expect(entry.request.price?.toFixed()).toBe('2000.05');
    expect(entry.stopLoss?.toFixed()).toBe('1990.05');
    expect(entry.takeProfit?.toFixed()).toBe('2010');
  });

  it('carries the signal, the rules, the protective prices and the default limit timeout', () => {
    const entry = entryOf(translateSignal(limitBuy, book, options({ defaultLimitTimeoutMs: 45_000 })));
    expect(entry).toEqual({
      kind: 'entry',
      signal: limitBuy,
      rules: XBTUSD,
      request: { clientOrderId: 'cl-1', pair: 'XXBTZUSD', side: 'buy', orderType: 'limit', volume: new Decimal('0.5'), price: new Decimal('50000') },
      stopLoss: new Decimal('49000'),
      takeProfit: new Decimal('52000'),
      timeoutMs: 45_000,
      roundingNote: null,
    });
  });

  it('says in roundingNote what rounding to the pair changed, as asked → as sent', () => {
    const signal: TradeSignal = {
      signalId: 's-r',
      pair: 'PAXG/USD',
      side: 'sell',
      orderType: 'limit',
      quantity: '1.0100000099',
      limitPrice: '2000.07',
      stopLoss: '2010.02',
    };
    expect(entryOf(translateSignal(signal, book, options())).roundingNote).toBe(
      'rounded to the PAXG/USD rules: limitPrice 2000.07 → 2000.1 (tick 0.05, a sell rounds up); stopLoss 2010.02 → 2010 (tick 0.05); ' +
        'quantity 1.0100000099 → 1.01 (4 lot decimals, rounded down)',
    );
    const quantityOnly = entryOf(translateSignal({ ...marketBuy, quantity: '0.0100000099' }, book, options()));
    expect(quantityOnly.roundingNote).toBe('rounded to the BTC/USD rules: quantity 0.0100000099 → 0.01 (8 lot decimals, rounded down)');
  });

  it('rejects a signalId that is not printable or too long, without repeating it', () => {
    const forged = translateSignal({ ...marketBuy, signalId: 'spoof\n[spoof] entry FILLED' }, book, options());
    expect(forged).toMatchObject({ kind: 'rejected', field: 'signalId', reason: 'signalId contains the unprintable character U+000A (at character 6); ids must be printable' });
    expect(translateSignal({ ...marketBuy, signalId: 'x'.repeat(129) }, book, options())).toMatchObject({ kind: 'rejected', field: 'signalId' });
  });

  it("takes the signal's own timeoutMs for a limit entry and none for a market entry", () => {
    expect(entryOf(translateSignal({ ...limitBuy, timeoutMs: 5_000 }, book, options())).timeoutMs).toBe(5_000);
    expect(entryOf(translateSignal(marketBuy, book, options())).timeoutMs).toBeNull();
  });

  it('puts no price on a market request and accepts Decimal inputs', () => {
    const entry = entryOf(translateSignal({ ...marketBuy, quantity: new Decimal('0.25'), stopLoss: new Decimal('45000') }, book, options()));
    expect(entry.request).toEqual({ clientOrderId: 'cl-1', pair: 'XXBTZUSD', side: 'buy', orderType: 'market', volume: new Decimal('0.25') });
    expect(entry.stopLoss?.toFixed()).toBe('45000');
    expect(entry.takeProfit).toBeNull();
  });

  it('accepts a market entry with protection when no reference price is known, checking only stop against take-profit', () => {
    const signal = raw({ signalId: 's', pair: 'PAXGUSD', side: 'sell', orderType: 'market', quantity: '1', stopLoss: '2010', takeProfit: '1990' });
    const entry = entryOf(translateSignal(signal, book, options()));
    expect(entry.request.side).toBe('sell');
    expect([entry.stopLoss?.toFixed(), entry.takeProfit?.toFixed()]).toEqual(['2010', '1990']);
  });

  it('sets the deadline from the clock when deadlineMs and now are given, and none otherwise', () => {
    expect(entryOf(translateSignal(limitBuy, book, options({ deadlineMs: 10_000, now: () => 1_700_000_000_000 }))).request.deadline).toBe(
      1_700_000_010_000,
    );
    expect(entryOf(translateSignal(limitBuy, book, options({ deadlineMs: 10_000 }))).request.deadline).toBeUndefined();
  });

  it('trims whitespace around a decimal string', () => {
    expect(entryOf(translateSignal({ ...marketBuy, quantity: ' 0.5 ' }, book, options())).request.volume.toFixed()).toBe('0.5');
  });

  it('treats null optional fields as absent', () => {
    const entry = entryOf(translateSignal(raw({ ...marketBuy, limitPrice: null, stopLoss: null, takeProfit: null, timeoutMs: null }), book, options()));
    expect([entry.stopLoss, entry.takeProfit, entry.timeoutMs]).toEqual([null, null, null]);
  });

  it('asks for a new client order id for every order', () => {
    const translateWith = options();
    const first = entryOf(translateSignal(limitBuy, book, translateWith));
    const second = entryOf(translateSignal(limitBuy, book, translateWith));
    expect([first.request.clientOrderId, second.request.clientOrderId]).toEqual(['cl-1', 'cl-2']);
  });
});

describe('isRejection', () => {
  it('recognises rejections and nothing that merely says kind rejected', () => {
    expect(isRejection(rejection(limitBuy, 'halted', 'trading is halted'))).toBe(true);
    expect(isRejection({ kind: 'rejected' })).toBe(false);
    expect(isRejection(limitBuy)).toBe(false);
    expect(isRejection(null)).toBe(false);
  });
});
