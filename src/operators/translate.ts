import { Decimal } from 'decimal.js';
import { type OperatorFunction, map } from 'rxjs';
import { type OrderRequest } from '../model/order';
import { type PairBook, type PairRules } from '../model/pair';
import { type PriceRounding, roundPrice, roundVolumeDown } from '../model/pair-rules';
import { type Side, type TradeSignal, idProblem } from '../model/signal';
import { type EntryIntent, type Rejection, type Translation, isRejection, rejection } from './intent';

export interface TranslateOptions {
  /** A fresh client order id (UUID) per order; called only for signals that become orders. */
  readonly newClientOrderId: () => string;
  /** Cancel-after for limit entries whose signal does not say. */
  readonly defaultLimitTimeoutMs: number;
  /** A current price of the pair (e.g. last trade), for the cost minimum and the stop/take-profit sides of market entries. */
  readonly referencePrice?: ((rules: PairRules) => Decimal | undefined) | undefined;
  /** With `now`: the order's `deadline` is `now() + deadlineMs`. */
  readonly deadlineMs?: number | undefined;
  /** Epoch ms (pass `() => scheduler.now()`). */
  readonly now?: (() => number) | undefined;
  /**
   * The fat-finger band: a limit, stop-loss or take-profit price further than this fraction (0.1 = 10 %) from
   * the reference price is a rejection naming both prices. Without a usable reference price every entry is
   * rejected (the band cannot be checked). Absent: no band.
   */
  readonly priceBand?: PriceBand | undefined;
}

/** How far a price may be from the last price, and the config key that says so (named in rejections). */
export interface PriceBand {
  readonly maxDeviation: Decimal;
  readonly key: string;
  /** Why there is no reference price, when there is none (e.g. the ticker read failed). */
  readonly noReferenceReason?: string | undefined;
}

/** The longest delay a JavaScript timer can hold; a longer `timeoutMs` would fire at once. */
const MAX_TIMER_MS = 2_147_483_647;

/** Plain decimal notation only: no exponent, no hex, no `Infinity`/`NaN` (decimal.js would accept those). */
const PLAIN_DECIMAL = /^[+-]?(\d+(\.\d*)?|\.\d+)$/;

type Parsed<T> = { readonly ok: true; readonly value: T } | { readonly ok: false; readonly reason: string };

const quoted = (value: unknown): string => {
  if (typeof value === 'string') return `'${value.length > 40 ? `${value.slice(0, 40)}…` : value}'`;
  if (Decimal.isDecimal(value)) return value.toString();
  return String(value);
};

const isAbsent = (value: unknown): value is undefined | null => value === undefined || value === null;

/**
 * A price or quantity as the signal gave it, when it is a finite Decimal or a plain decimal string, else `null`:
 * what a rejection report shows as the requested quantity, whatever was wrong with the signal.
 */
export function decimalOf(value: unknown): Decimal | null {
  if (Decimal.isDecimal(value)) return value.isFinite() ? value : null;
  if (typeof value !== 'string' || !PLAIN_DECIMAL.test(value.trim())) return null;
  return new Decimal(value.trim());
}

/** A positive, finite amount given as a Decimal or a plain decimal string. */
function parseAmount(field: string, value: unknown): Parsed<Decimal> {
  let amount: Decimal;
  if (Decimal.isDecimal(value)) {
    amount = value;
  } else if (typeof value === 'string') {
    const text = value.trim();
    if (!PLAIN_DECIMAL.test(text)) return { ok: false, reason: `${field} ${quoted(value)} is not a decimal number` };
    amount = new Decimal(text);
  } else if (typeof value === 'number') {
    return {
      ok: false,
      reason: `${field} must be a decimal string, not the number ${String(value)} (floats are not accepted for money)`,
    };
  } else {
    return { ok: false, reason: `${field} must be a decimal string, got ${value === null ? 'null' : typeof value}` };
  }
  if (!amount.isFinite()) return { ok: false, reason: `${field} ${quoted(value)} is not a finite number` };
  if (amount.lte(0)) return { ok: false, reason: `${field} must be positive, got ${quoted(value)}` };
  return { ok: true, value: amount };
}

const fieldOf = (signal: object, name: string): unknown => (signal as Readonly<Record<string, unknown>>)[name];

/** A price rounded to the pair's tick; a price that rounds to zero is refused rather than sent. */
function roundedPrice(
  field: string,
  rules: PairRules,
  price: Decimal,
  mode: PriceRounding,
): Parsed<Decimal> {
  const rounded = roundPrice(rules, price, mode);
  if (rounded.lte(0)) {
    return { ok: false, reason: `${field} ${price.toFixed()} rounds to 0 at the ${rules.symbol} tick size ${rules.tickSize.toFixed()}` };
  }
  return { ok: true, value: rounded };
}

function usableReference(options: TranslateOptions, rules: PairRules): Decimal | undefined {
  const price = options.referencePrice?.(rules);
  return Decimal.isDecimal(price) && price.isFinite() && price.gt(0) ? price : undefined;
}

/**
 * Where the protective prices must lie: for a buy, stop-loss < entry < take-profit; for a sell, mirrored.
 * `entry` is unknown for a market entry without a reference price; then only stop-loss vs take-profit is checked.
 */
function checkProtectionSides(
  side: Side,
  entry: Decimal | undefined,
  stopLoss: Decimal | null,
  takeProfit: Decimal | null,
): { readonly field: string; readonly reason: string } | null {
  const below = side === 'buy';
  const wrongSide = (price: Decimal, reference: Decimal, mustBeBelow: boolean): boolean =>
    mustBeBelow ? price.gte(reference) : price.lte(reference);
  const where = (mustBeBelow: boolean): string => (mustBeBelow ? 'below' : 'above');
  if (entry && stopLoss && wrongSide(stopLoss, entry, below)) {
    return { field: 'stopLoss', reason: `stopLoss ${stopLoss.toFixed()} must be ${where(below)} the entry price ${entry.toFixed()} for a ${side}` };
  }
  if (entry && takeProfit && wrongSide(takeProfit, entry, !below)) {
    return {
      field: 'takeProfit',
      reason: `takeProfit ${takeProfit.toFixed()} must be ${where(!below)} the entry price ${entry.toFixed()} for a ${side}`,
    };
  }
  if (stopLoss && takeProfit && wrongSide(takeProfit, stopLoss, !below)) {
    return {
      field: 'takeProfit',
      reason: `takeProfit ${takeProfit.toFixed()} must be ${where(!below)} the stopLoss ${stopLoss.toFixed()} for a ${side}`,
    };
  }
  return null;
}

const percent = (fraction: Decimal): string => `${fraction.mul(100).toDecimalPlaces(2, Decimal.ROUND_HALF_UP).toFixed()} %`;

/** The first price outside the band around `reference`, as a rejection; the band unchecked is one too. */
function outsideBand(
  band: PriceBand,
  reference: Decimal | undefined,
  prices: ReadonlyArray<readonly [string, Decimal | null]>,
): { readonly field: string; readonly reason: string } | null {
  const given = prices.filter((entry): entry is readonly [string, Decimal] => entry[1] !== null);
  const first = given[0];
  if (!first) return null;
  if (!reference) {
    const why = band.noReferenceReason ? `: ${band.noReferenceReason}` : '';
    return { field: first[0], reason: `${first[0]} ${first[1].toFixed()} not checked against ${band.key}: no last price${why}` };
  }
  for (const [field, price] of given) {
    const deviation = price.sub(reference).abs().div(reference);
    if (deviation.gt(band.maxDeviation)) {
      return {
        field,
        reason: `${field} ${price.toFixed()} is ${percent(deviation)} from the last price ${reference.toFixed()}, beyond ${band.key} (${percent(band.maxDeviation)})`,
      };
    }
  }
  return null;
}

function translateOrRefuse(signal: TradeSignal, book: PairBook, options: TranslateOptions): Translation {
  const refuse = (field: string, reason: string): Rejection => rejection(signal, field, reason);
  if (typeof signal !== 'object' || signal === null) return refuse('signal', `a signal must be an object, got ${quoted(signal)}`);

  const signalId = fieldOf(signal, 'signalId');
  if (typeof signalId !== 'string' || signalId.trim() === '') return refuse('signalId', 'signalId is missing or empty');
  // Reports, logs and the journal repeat the id: a line break in it would forge a line wherever it is printed.
  const badId = idProblem('signalId', signalId);
  if (badId !== null) return refuse('signalId', badId);

  const pairName = fieldOf(signal, 'pair');
  if (typeof pairName !== 'string' || pairName.trim() === '') return refuse('pair', 'pair is missing or empty');
  const rules = book.find(pairName.trim());
  if (!rules) return refuse('pair', `unknown pair ${quoted(pairName)}`);
  if (rules.status !== 'online') return refuse('pair', `pair ${rules.symbol} is ${rules.status}, not online`);

  const side = fieldOf(signal, 'side');
  if (side !== 'buy' && side !== 'sell') return refuse('side', `side must be 'buy' or 'sell', got ${quoted(side)}`);

  const orderType = fieldOf(signal, 'orderType');
  if (orderType !== 'market' && orderType !== 'limit') {
    return refuse('orderType', `orderType must be 'market' or 'limit', got ${quoted(orderType)}`);
  }

  const quantity = fieldOf(signal, 'quantity');
  if (isAbsent(quantity)) return refuse('quantity', 'quantity is missing');
  const parsedQuantity = parseAmount('quantity', quantity);
  if (!parsedQuantity.ok) return refuse('quantity', parsedQuantity.reason);

  // What rounding to the pair's rules changed, said in the reports (`quantity 0.0100000099 → 0.01`).
  const roundings: string[] = [];
  const noteRounding = (field: string, asked: Decimal, sent: Decimal, rule: string): void => {
    if (!asked.eq(sent)) roundings.push(`${field} ${asked.toFixed()} → ${sent.toFixed()} (${rule})`);
  };

  const limitInput = fieldOf(signal, 'limitPrice');
  let limitPrice: Decimal | undefined;
  if (orderType === 'limit') {
    if (isAbsent(limitInput)) return refuse('limitPrice', 'a limit order needs a limitPrice');
    const parsed = parseAmount('limitPrice', limitInput);
    if (!parsed.ok) return refuse('limitPrice', parsed.reason);
    // Never worse than the signal asked: a buy limit rounds down, a sell limit up.
    const rounded = roundedPrice('limitPrice', rules, parsed.value, side === 'buy' ? 'down' : 'up');
    if (!rounded.ok) return refuse('limitPrice', rounded.reason);
    limitPrice = rounded.value;
    noteRounding('limitPrice', parsed.value, limitPrice, `tick ${rules.tickSize.toFixed()}, a ${side} rounds ${side === 'buy' ? 'down' : 'up'}`);
  } else if (!isAbsent(limitInput)) {
    return refuse('limitPrice', 'a market order takes no limitPrice');
  }

  const protective = (field: 'stopLoss' | 'takeProfit'): Parsed<Decimal | null> => {
    const input = fieldOf(signal, field);
    if (isAbsent(input)) return { ok: true, value: null };
    const parsed = parseAmount(field, input);
    if (!parsed.ok) return parsed;
    const rounded = roundedPrice(field, rules, parsed.value, 'nearest');
    if (rounded.ok) noteRounding(field, parsed.value, rounded.value, `tick ${rules.tickSize.toFixed()}`);
    return rounded;
  };
  const stopLoss = protective('stopLoss');
  if (!stopLoss.ok) return refuse('stopLoss', stopLoss.reason);
  const takeProfit = protective('takeProfit');
  if (!takeProfit.ok) return refuse('takeProfit', takeProfit.reason);

  const timeoutInput = fieldOf(signal, 'timeoutMs');
  let timeoutMs: number | null = null;
  if (orderType === 'limit') {
    timeoutMs = options.defaultLimitTimeoutMs;
    if (!isAbsent(timeoutInput)) {
      if (typeof timeoutInput !== 'number' || !Number.isInteger(timeoutInput) || timeoutInput <= 0 || timeoutInput > MAX_TIMER_MS) {
        return refuse('timeoutMs', `timeoutMs must be a whole number of milliseconds from 1 to ${MAX_TIMER_MS}, got ${quoted(timeoutInput)}`);
      }
      timeoutMs = timeoutInput;
    }
  } else if (!isAbsent(timeoutInput)) {
    return refuse('timeoutMs', 'only limit entries take a timeoutMs');
  }

  const volume = roundVolumeDown(rules, parsedQuantity.value);
  noteRounding('quantity', parsedQuantity.value, volume, `${rules.lotDecimals} lot decimals, rounded down`);
  if (volume.isZero()) {
    return refuse(
      'quantity',
      `quantity ${parsedQuantity.value.toFixed()} rounds down to 0 at the ${rules.symbol} lot decimals (${rules.lotDecimals})`,
    );
  }
  if (volume.lt(rules.orderMin)) {
    return refuse('quantity', `quantity ${volume.toFixed()} is below the ${rules.symbol} order minimum ${rules.orderMin.toFixed()}`);
  }
  const entryPrice = limitPrice ?? usableReference(options, rules);
  if (entryPrice) {
    const cost = volume.mul(entryPrice);
    if (cost.lt(rules.costMin)) {
      return refuse(
        'quantity',
        `cost ${cost.toFixed()} (quantity ${volume.toFixed()} at ${entryPrice.toFixed()}) is below the ${rules.symbol} cost minimum ${rules.costMin.toFixed()}`,
      );
    }
  }

  const wrongSide = checkProtectionSides(side, entryPrice, stopLoss.value, takeProfit.value);
  if (wrongSide) return refuse(wrongSide.field, wrongSide.reason);

  if (options.priceBand) {
    const outside = outsideBand(options.priceBand, usableReference(options, rules), [
      ['limitPrice', limitPrice ?? null],
      ['stopLoss', stopLoss.value],
      ['takeProfit', takeProfit.value],
    ]);
    if (outside) return refuse(outside.field, outside.reason);
  }

  const deadline = options.deadlineMs !== undefined && options.now ? options.now() + options.deadlineMs : undefined;
  const request: OrderRequest = {
    clientOrderId: options.newClientOrderId(),
    pair: rules.key,
    side,
    orderType,
    volume,
    ...(limitPrice ? { price: limitPrice } : {}),
    ...(deadline !== undefined ? { deadline } : {}),
  };
  const entry: EntryIntent = {
    kind: 'entry',
    signal,
    rules,
    request,
    stopLoss: stopLoss.value,
    takeProfit: takeProfit.value,
    timeoutMs,
    roundingNote: roundings.length === 0 ? null : `rounded to the ${rules.symbol} rules: ${roundings.join('; ')}`,
  };
  return entry;
}

/**
 * Translates one signal (pure apart from `options.newClientOrderId` and `options.now`). Never throws: an
 * unexpected failure (a throwing pair book, a broken id generator) is a rejection of field `signal`.
 *
 * @param signal The signal as received; its fields are checked at runtime, whatever its static type says.
 * @param book The pairs' rules.
 * @param options Id generator, defaults and clock.
 * @returns An entry intent, or a rejection naming the field and the reason.
 */
export function translateSignal(signal: TradeSignal, book: PairBook, options: TranslateOptions): Translation {
  try {
    return translateOrRefuse(signal, book, options);
  } catch (error) {
    const detail = error instanceof Error ? error.message : String(error);
    return rejection(signal, 'signal', `the signal could not be translated: ${detail}`);
  }
}

/**
 * Turns each trade signal into an exchange order request rounded to its pair's rules, or a rejection naming
 * the field and the reason.
 *
 * Intuition: `map` through validation and rounding; expected failures are values, so the stream goes on.
 *
 * source:  -a-b-r-c-|      b: quantity 'abc', r: a rejection from haltGate
 *   translate(book, options)
 * result:  -A-B-r-C-|      A, C: entry intents; B: rejected (quantity); r: unchanged
 *
 * Rejections coming in pass through unchanged. Checks, each a rejection naming its field: signalId present;
 * pair known and online; side; orderType; quantity, limitPrice, stopLoss, takeProfit positive, finite,
 * decimal strings or Decimals (numbers are refused: no floats on money); a limit order needs a limitPrice, a
 * market order takes none; timeoutMs a whole number of ms (limit entries only). Quantity is rounded down to
 * the lot decimals (to 0 or below `ordermin` is a rejection); a limit price to the tick (a buy down, a sell
 * up), stop-loss and take-profit to the nearest tick; the cost minimum uses the limit price, or the reference
 * price of a market entry; a stop-loss or take-profit on the wrong side of the entry is a rejection; with a
 * `priceBand`, a limit, stop-loss or take-profit price further than the band from the reference price is a
 * rejection naming both prices. What rounding changed is said in the intent's `roundingNote`
 * (`quantity 0.0100000099 → 0.01 (…)`), for the reports. A signalId must be printable and at most 128 characters.
 * Each order gets a fresh client order id.
 *
 * Completes when the source completes; an error of the source is passed on. Never errors by itself.
 *
 * @param book The pairs' rules, looked up by any of a pair's names.
 * @param options Id generator, default limit timeout, reference price, deadline and clock.
 * @returns Entry intents and rejections, one per input, in order.
 */
export function translate(book: PairBook, options: TranslateOptions): OperatorFunction<TradeSignal | Rejection, Translation> {
  return map((input) => (isRejection(input) ? input : translateSignal(input, book, options)));
}
