import { Decimal } from 'decimal.js';
import { type PairCatalogue, type PaperPair } from './catalogue';
import { type OrderTerms, type PaperOrderType, type PaperSide } from './orders';
import { type Params } from './params';

export type Checked<T> = { readonly ok: true; readonly value: T } | { readonly ok: false; readonly error: string };

const ok = <T>(value: T): Checked<T> => ({ ok: true, value });
const fail = <T>(error: string): Checked<T> => ({ ok: false, error });
const invalid = <T>(field: string): Checked<T> => fail(`EGeneral:Invalid arguments:${field}`);

const ORDER_TYPES: readonly PaperOrderType[] = ['market', 'limit', 'stop-loss', 'take-profit', 'stop-loss-limit', 'take-profit-limit'];
const KNOWN_OFLAGS = new Set(['post', 'fcib', 'fciq', 'nompp', 'viqc']);
const DECIMAL_TEXT = /^(\d+(\.\d*)?|\.\d+)$/;
const LONG_UUID = /^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$/;
const SHORT_UUID = /^[0-9a-fA-F]{32}$/;
const FREE_TEXT = /^[\x20-\x7e]{1,18}$/;

/** Kraken's three `cl_ord_id` forms: long UUID, 32-hex short UUID, or up to 18 printable ASCII characters. */
export const isValidClOrdId = (id: string): boolean => LONG_UUID.test(id) || SHORT_UUID.test(id) || FREE_TEXT.test(id);

/** The pair named by `pair` (key, altname, wsname or `BTC/USD`). */
export function resolvePair(params: Params, catalogue: PairCatalogue): Checked<PaperPair> {
  const name = params.text('pair');
  if (name === undefined || name === null || name === '') return invalid('pair');
  const found = catalogue.find(name);
  return found ? ok(found) : fail('EQuery:Unknown asset pair');
}

/**
 * Checks AddOrder's arguments the way Kraken does and reports the first failure with Kraken's error string.
 *
 * @param arrivedAt epoch ms when the request reached the exchange (the `deadline` window is measured from it)
 * @param now epoch ms when it is processed (a `deadline` before it has elapsed)
 * @param reference the last price, for the cost minimum of market orders
 */
export function checkAddOrder(params: Params, pair: PaperPair, arrivedAt: number, now: number, reference: Decimal): Checked<OrderTerms> {
  const ordertype = params.text('ordertype');
  const orderType = ORDER_TYPES.find((t) => t === ordertype);
  if (!orderType) return invalid('ordertype');
  const type = params.text('type');
  if (type !== 'buy' && type !== 'sell') return invalid('type');
  const side: PaperSide = type;

  const volumeText = params.text('volume');
  if (typeof volumeText !== 'string' || !DECIMAL_TEXT.test(volumeText)) return invalid('volume');
  const volume = new Decimal(volumeText);
  if (volume.lte(0) || volume.decimalPlaces() > pair.lotDecimals) return invalid('volume');

  const price = orderType === 'market' ? ok<Decimal | null>(null) : checkPrice(params, 'price', pair);
  if (!price.ok) return price;
  const needsPrice2 = orderType === 'stop-loss-limit' || orderType === 'take-profit-limit';
  const price2 = needsPrice2 ? checkPrice(params, 'price2', pair) : ok<Decimal | null>(null);
  if (!price2.ok) return price2;

  const flags = checkOflags(params, orderType, side);
  if (!flags.ok) return flags;

  const tifText = params.text('timeinforce');
  const tif = tifText === undefined ? 'GTC' : typeof tifText === 'string' ? tifText.toUpperCase() : '';
  if (tif !== 'GTC' && tif !== 'IOC' && tif !== 'GTD') return invalid('timeinforce');

  const expires = checkExpiry(params, now);
  if (!expires.ok) return expires;
  if (tif === 'GTD' && expires.value === null) return invalid('expiretm');
  const starttm = params.text('starttm');
  if (starttm !== undefined && starttm !== '0') return invalid('starttm');

  const ids = checkClientIds(params);
  if (!ids.ok) return ids;

  const leverage = params.text('leverage');
  if (leverage !== undefined && leverage !== 'none') return invalid('leverage');
  if (params.hasGroup('close')) return invalid('close');
  const trigger = params.text('trigger');
  if (trigger !== undefined && trigger !== 'last' && trigger !== 'index') return invalid('trigger');
  const validate = params.flag('validate');
  if (validate === null) return invalid('validate');

  const deadline = checkDeadline(params, arrivedAt, now);
  if (!deadline.ok) return deadline;

  if (volume.lt(pair.orderMin)) return fail('EOrder:Order minimum not met');
  const costPrice = price2.value ?? price.value ?? reference;
  if (volume.mul(costPrice).lt(pair.costMin)) return fail('EOrder:Cost minimum not met');

  return ok({
    pair,
    side,
    orderType,
    volume,
    price: price.value,
    price2: price2.value,
    clOrdId: ids.value.clOrdId,
    userref: ids.value.userref,
    oflags: flags.value.shown,
    postOnly: flags.value.post,
    feeInBase: side === 'buy' && flags.value.shown.includes('fcib'),
    timeInForce: tif,
    expiresAt: expires.value,
    validate: validate === true,
  });
}

function checkPrice(params: Params, field: 'price' | 'price2', pair: PaperPair): Checked<Decimal | null> {
  const text = params.text(field);
  if (typeof text !== 'string' || text === '') return invalid(field);
  // Relative prices (+, -, #, %) are not supported by the paper exchange.
  if (/^[+#-]|%$/.test(text)) return fail('EOrder:Invalid price:Invalid price argument.');
  if (!DECIMAL_TEXT.test(text)) return invalid(field);
  const price = new Decimal(text);
  if (price.lte(0)) return invalid(field);
  if (price.decimalPlaces() > pair.pairDecimals) {
    return fail(`EOrder:Invalid price:${pair.key} price can only be specified up to ${pair.pairDecimals} decimals.`);
  }
  if (!price.mod(pair.tickSize).isZero()) return fail('EOrder:Tick size check failed');
  return ok(price);
}

function checkOflags(params: Params, orderType: PaperOrderType, side: PaperSide): Checked<{ shown: string[]; post: boolean }> {
  const text = params.text('oflags');
  if (text === null) return invalid('oflags');
  const given = text === undefined || text === '' ? [] : text.split(',').map((f) => f.trim());
  if (given.some((f) => !KNOWN_OFLAGS.has(f))) return invalid('oflags');
  if (given.includes('fcib') && given.includes('fciq')) return invalid('oflags');
  if (given.includes('viqc')) return invalid('viqc');
  const post = given.includes('post');
  if (post && orderType !== 'limit') return invalid('oflags');
  if (given.includes('nompp') && orderType !== 'market') return invalid('oflags');
  const shown = [...new Set(given)];
  // Kraken lists the fee currency it applies: quote when buying, base when selling, unless told otherwise.
  if (!shown.includes('fcib') && !shown.includes('fciq')) shown.push(side === 'buy' ? 'fciq' : 'fcib');
  return ok({ shown, post });
}

function checkExpiry(params: Params, now: number): Checked<number | null> {
  const text = params.text('expiretm');
  if (text === undefined || text === '0') return ok(null);
  if (typeof text !== 'string') return invalid('expiretm');
  const relative = /^\+(\d+)$/.exec(text);
  if (relative) {
    const secs = Number(relative[1]);
    return secs >= 5 ? ok(now + secs * 1000) : invalid('expiretm');
  }
  if (!/^\d+(\.\d+)?$/.test(text)) return invalid('expiretm');
  const at = Math.round(Number(text) * 1000);
  return at >= now + 5000 ? ok(at) : invalid('expiretm');
}

function checkClientIds(params: Params): Checked<{ clOrdId: string | null; userref: number | null }> {
  const clOrdId = params.text('cl_ord_id');
  const userrefText = params.text('userref');
  if (clOrdId !== undefined && userrefText !== undefined) return invalid('cl_ord_id');
  if (clOrdId !== undefined && (clOrdId === null || !isValidClOrdId(clOrdId))) return invalid('cl_ord_id');
  let userref: number | null = null;
  if (userrefText !== undefined) {
    if (userrefText === null || !/^-?\d{1,10}$/.test(userrefText)) return invalid('userref');
    userref = Number(userrefText);
    if (userref < -2147483648 || userref > 2147483647) return invalid('userref');
  }
  return ok({ clOrdId: clOrdId ?? null, userref });
}

function checkDeadline(params: Params, arrivedAt: number, now: number): Checked<null> {
  const text = params.text('deadline');
  if (text === undefined) return ok(null);
  if (typeof text !== 'string' || !/^\d{4}-\d{2}-\d{2}T/.test(text)) return invalid('deadline');
  const at = Date.parse(text);
  if (Number.isNaN(at)) return invalid('deadline');
  if (at <= now) return fail('EService:Deadline elapsed');
  if (at < arrivedAt + 2_000 || at > arrivedAt + 60_000) return invalid('deadline');
  return ok(null);
}
