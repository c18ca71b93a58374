/**
 * Per-request overhead of placing an order: this client against ccxt's `kraken` class, in one process, on the
 * same orders and the same canned answers (an in-memory fetch: no network, so only the clients' own work is
 * measured).
 */
import { randomUUID } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { Decimal } from 'decimal.js';
import { firstValueFrom } from 'rxjs';
import { Credentials } from '../src/kraken/credentials';
import { addOrderParamsOf, createKrakenExchange } from '../src/kraken/exchange';
import { type FetchLike, formEntries, signedPost } from '../src/kraken/transport';
import { type OrderRequest } from '../src/model/order';
import { startPaperExchange } from '../src/paper';
import { type Table, count, fixed } from './table';

const ORDERS = 2_000;
const RUNS = 5;
const ADD_ORDER_ANSWER = '{"error":[],"result":{"descr":{"order":"buy 0.01230000 XBTUSD @ limit 59000.0"},"txid":["OUF4EM-FRGI2-MQMWZD"]}}';

/** ccxt's public surface as this bench uses it (ccxt ships its own types, but as ES modules jest cannot load). */
interface CcxtKraken {
  urls: { api: Record<string, string> };
  fetchImplementation: unknown;
  loadMarkets(): Promise<unknown>;
  market(symbol: string): { id: string };
  amountToPrecision(symbol: string, amount: number): string;
  priceToPrecision(symbol: string, price: number): string;
  orderRequest(method: string, symbol: string, type: string, request: Record<string, unknown>, amount: number, price: number, params: Record<string, unknown>): [Record<string, unknown>, Record<string, unknown>];
  extend(...objects: Record<string, unknown>[]): Record<string, unknown>;
  sign(path: string, api: string, method: string, params: Record<string, unknown>): { body: string };
  createOrder(symbol: string, type: string, side: string, amount: number, price: number, params: Record<string, unknown>): Promise<{ id: string }>;
}
type CcxtModule = { kraken: new (options: Record<string, unknown>) => CcxtKraken };

interface Order {
  readonly request: OrderRequest;
  readonly amount: number;
  readonly price: number;
}

function makeOrders(): Order[] {
  return Array.from({ length: ORDERS }, (_, i) => {
    const price = 59_000 + (i % 100) / 10;
    const amount = 0.0123 + (i % 7) / 1000;
    return {
      request: {
        clientOrderId: randomUUID(),
        pair: 'XXBTZUSD',
        side: 'buy',
        orderType: 'limit',
        volume: new Decimal(amount.toFixed(8)),
        price: new Decimal(price.toFixed(1)),
      },
      amount,
      price,
    };
  });
}

/** Median of `RUNS` timed passes (after one warm-up), in µs per order. */
async function timePerOrder(pass: () => Promise<void> | void): Promise<{ median: number; min: number; max: number }> {
  await pass();
  const samples: number[] = [];
  for (let run = 0; run < RUNS; run += 1) {
    const started = performance.now();
    await pass();
    samples.push(((performance.now() - started) * 1000) / ORDERS);
  }
  const sorted = [...samples].sort((a, b) => a - b);
  return { median: sorted[Math.floor(sorted.length / 2)] ?? 0, min: sorted[0] ?? 0, max: sorted.at(-1) ?? 0 };
}

/** The paper exchange's AssetPairs and Assets answers, read once over HTTP, so ccxt can load its markets offline. */
async function publicAnswers(): Promise<{ readonly url: string; readonly apiKey: string; readonly apiSecret: string; readonly texts: ReadonlyMap<string, string> }> {
  const paper = await startPaperExchange({ seed: 5, tier: 'unlimited' });
  try {
    const texts = new Map<string, string>();
    for (const method of ['AssetPairs', 'Assets']) texts.set(method, await (await fetch(`${paper.url}/0/public/${method}`)).text());
    return { url: paper.url, apiKey: paper.apiKey, apiSecret: paper.apiSecret, texts };
  } finally {
    await paper.close();
  }
}

/** A fetch of the WHATWG shape both clients accept, answering from memory by the URL's last path segment. */
const cannedFetch = (texts: ReadonlyMap<string, string>) => (url: string): Promise<Response> => {
  const method = new URL(url).pathname.split('/').pop() ?? '';
  const text = method === 'AddOrder' ? ADD_ORDER_ANSWER : texts.get(method) ?? '{"error":[],"result":{}}';
  return Promise.resolve(new Response(text, { status: 200, headers: { 'content-type': 'application/json' } }));
};

export interface ClientOverheadFigures {
  readonly rows: readonly { readonly what: string; readonly ours: number; readonly ccxt: number; readonly oursRange: string; readonly ccxtRange: string }[];
  readonly ccxtVersion: string;
}

export async function measureClientOverhead(): Promise<ClientOverheadFigures> {
  // ccxt's CommonJS build, loaded the ordinary way (plain node; only jest cannot load it).
  const ccxt = require('ccxt') as CcxtModule & { version: string };
  const { url, apiKey, apiSecret, texts } = await publicAnswers();
  const orders = makeOrders();
  const canned = cannedFetch(texts);

  const kraken = new ccxt.kraken({ apiKey, secret: apiSecret, enableRateLimit: false });
  kraken.urls.api['public'] = url;
  kraken.urls.api['private'] = url;
  kraken.fetchImplementation = canned;
  await kraken.loadMarkets();

  const credentials = new Credentials(apiKey, apiSecret);
  const fetchLike: FetchLike = (target, init) => canned(target).then((response) => (init.signal.aborted ? Promise.reject(new Error('aborted')) : response));
  const exchange = createKrakenExchange({ url, timeoutMs: 10_000, credentials, fetch: fetchLike });

  let nonce = 1n;
  const ourBuildAndSign = await timePerOrder(() => {
    for (const order of orders) signedPost('/0/private/AddOrder', formEntries({ ...addOrderParamsOf(order.request) }), nonce++, credentials);
  });
  const ccxtBuildAndSign = await timePerOrder(() => {
    for (const order of orders) {
      // What ccxt's createOrder does before it sends: the market, the amount and price to precision, the
      // order request (cl_ord_id from clientOrderId), then sign() builds the body and signs it.
      const market = kraken.market('BTC/USD');
      const request = { pair: market.id, type: 'buy', ordertype: 'limit', volume: kraken.amountToPrecision('BTC/USD', order.amount) };
      const [built, rest] = kraken.orderRequest('createOrder', 'BTC/USD', 'limit', request, order.amount, order.price, { clientOrderId: order.request.clientOrderId });
      kraken.sign('AddOrder', 'private', 'POST', kraken.extend(built, rest));
    }
  });
  const ourCall = await timePerOrder(async () => {
    for (const order of orders) await firstValueFrom(exchange.placeOrder(order.request));
  });
  const ccxtCall = await timePerOrder(async () => {
    for (const order of orders) await kraken.createOrder('BTC/USD', 'limit', 'buy', order.amount, order.price, { clientOrderId: order.request.clientOrderId });
  });
  const range = (figures: { min: number; max: number }): string => `${fixed(figures.min, 1)}–${fixed(figures.max, 1)}`;
  return {
    ccxtVersion: ccxt.version,
    rows: [
      { what: 'AddOrder build + sign', ours: ourBuildAndSign.median, ccxt: ccxtBuildAndSign.median, oursRange: range(ourBuildAndSign), ccxtRange: range(ccxtBuildAndSign) },
      { what: 'whole placement call (in-memory answer)', ours: ourCall.median, ccxt: ccxtCall.median, oursRange: range(ourCall), ccxtRange: range(ccxtCall) },
    ],
  };
}

export function clientOverheadTable(figures: ClientOverheadFigures): Table {
  return {
    title: `Per-request overhead of an AddOrder: this client against ccxt ${figures.ccxtVersion}, one process (µs per order, median of ${RUNS} passes of ${count(ORDERS)})`,
    columns: ['step', 'this client', 'ccxt', 'ccxt ÷ this client', 'this client: fastest–slowest pass', 'ccxt: fastest–slowest pass'],
    rows: figures.rows.map((row) => [row.what, fixed(row.ours, 1), fixed(row.ccxt, 1), `${fixed(row.ccxt / row.ours, 1)} ×`, row.oursRange, row.ccxtRange]),
    notes: [
      'Same orders (limit buys on XBT/USD with a client order id) and the same canned answers from an in-memory fetch (a WHATWG Response):',
      'no network, so only each client\'s own work counts. Build + sign: this client\'s addOrderParamsOf + the transport\'s signedPost; ccxt\'s',
      'market lookup, amount/price to precision and orderRequest, then its sign(). Whole call: KrakenExchange.placeOrder (private lane, nonce,',
      'signing, fetch, envelope and AddOrder parse) against ccxt createOrder (the same plus its order parse); markets loaded beforehand.',
    ],
  };
}
