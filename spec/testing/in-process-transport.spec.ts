import { Decimal } from 'decimal.js';
import { Observable } from 'rxjs';
import { TestScheduler } from 'rxjs/testing';
import { type ExchangePort } from '../../src/model/port';
import { isExchangeError } from '../../src/model/errors';
import { type OrderRequest } from '../../src/model/order';
import { FAULT_KINDS, type FaultKind, type PaperInspector } from '../../src/paper';
import { closeAllTestRuns, createVirtualExchange, startTestRun } from '../../src/testing';

/** What a caller of the port can tell about one call's outcome. */
interface Seen {
  readonly kind: string;
  readonly httpStatus: number | undefined;
  /** Kraken's error strings (transport failures are described in words that name the path, so left out). */
  readonly codes: readonly string[];
  /** Orders with the call's client order id that the exchange accepted. */
  readonly placed: number;
  /** Clock ms from the call to its outcome. */
  readonly afterMs: number;
}

const TIMEOUT_MS = 1_000;

const order = (clientOrderId: string, volume = '0.1'): OrderRequest => ({
  clientOrderId,
  pair: 'XXBTZUSD',
  side: 'buy',
  orderType: 'limit',
  volume: new Decimal(volume),
  price: new Decimal('59000'),
});

type Call = (port: ExchangePort, clientOrderId: string, now: number) => Observable<unknown>;
const addOrder: Call = (port, id) => port.placeOrder(order(id));
const openOrders: Call = (port) => port.openOrders();

function seenOf(error: unknown, placed: number, afterMs: number): Seen {
  if (!isExchangeError(error)) return { kind: 'answered', httpStatus: undefined, codes: [], placed, afterMs };
  return { kind: error.kind, httpStatus: error.httpStatus, codes: error.codes.filter((c) => /^E[A-Z]/.test(c)), placed, afterMs };
}

/** The call over loopback HTTP to the paper exchange, on the idle clock. */
type Setup = (inject: (endpoint: string, kind: FaultKind) => void, setLatency: (endpoint: string, ms: number) => void) => void;

async function overHttp(call: Call, id: string, setup: Setup, timeoutMs = TIMEOUT_MS): Promise<Seen> {
  const run = await startTestRun({ requestTimeoutMs: timeoutMs });
  setup((endpoint, kind) => run.paper.faults.inject(endpoint, kind), (endpoint, ms) => run.paper.faults.setLatency(endpoint, ms));
  const started = run.clock.now();
  let outcome: { error: unknown; at: number } | undefined;
  const subscription = call(run.port, id, started).subscribe({
    next: () => undefined,
    error: (error: unknown) => (outcome = { error, at: run.clock.now() }),
    complete: () => (outcome ??= { error: undefined, at: run.clock.now() }),
  });
  try {
    await run.until('the call to end', () => outcome !== undefined);
    return seenOf(outcome?.error, run.paper.inspect.acceptedCount(id), (outcome?.at ?? 0) - started);
  } finally {
    subscription.unsubscribe();
    await run.close();
  }
}

/** The same call through the in-process transport, in virtual time, answering as fast as loopback does. */
function inProcess(call: Call, id: string, setup: Setup, timeoutMs = TIMEOUT_MS): Seen {
  let seen: Seen | undefined;
  const scheduler = new TestScheduler((actual, expected) => expect(actual).toEqual(expected));
  scheduler.run(() => {
    const exchange = createVirtualExchange({ scheduler, seed: 7, latencyMs: 0, requestTimeoutMs: timeoutMs });
    const inspect: PaperInspector = exchange.inspect;
    setup((endpoint, kind) => exchange.faults.inject(endpoint, kind), (endpoint, ms) => exchange.faults.setLatency(endpoint, ms));
    call(exchange.port, id, scheduler.now()).subscribe({
      error: (error: unknown) => (seen = seenOf(error, inspect.acceptedCount(id), scheduler.now())),
      complete: () => (seen ??= seenOf(undefined, inspect.acceptedCount(id), scheduler.now())),
    });
  });
  if (!seen) throw new Error('the in-process call never ended');
  return seen;
}

describe('in-process transport: what a client sees is what it sees over HTTP', () => {
  afterEach(() => closeAllTestRuns());

  it.each(FAULT_KINDS.map((kind) => [kind]))('AddOrder with %s: the same error class, status, Kraken string, effect and time', async (kind) => {
    const setup: Setup = (inject) => inject('AddOrder', kind);
    const id = `fault-${FAULT_KINDS.indexOf(kind)}`;
    const http = await overHttp(addOrder, id, setup);
    expect(inProcess(addOrder, id, setup)).toEqual(http);
  });

  it('pins the classification of the faults that leave a write in doubt', () => {
    const none: Setup = () => undefined;
    const each = (kind: FaultKind): Seen => inProcess(addOrder, 'pinned', (inject) => inject('AddOrder', kind));
    expect(each('accept-then-drop')).toEqual({ kind: 'ambiguous', httpStatus: undefined, codes: [], placed: 1, afterMs: 0 });
    // The client gives up at its request timeout; the exchange holds the answer longer (120 s by default).
    expect(each('accept-then-timeout')).toEqual({ kind: 'ambiguous', httpStatus: undefined, codes: [], placed: 1, afterMs: TIMEOUT_MS });
    // A reset looks the same whether or not the exchange got as far as processing: ambiguous, though nothing was placed.
    expect(each('drop-before-accept')).toEqual({ kind: 'ambiguous', httpStatus: undefined, codes: [], placed: 0, afterMs: 0 });
    expect(each('html-5xx-placed')).toEqual({ kind: 'ambiguous', httpStatus: 520, codes: [], placed: 1, afterMs: 0 });
    expect(each('html-5xx-not-placed')).toEqual({ kind: 'ambiguous', httpStatus: 502, codes: [], placed: 0, afterMs: 0 });
    expect(each('temporary-lockout')).toEqual({ kind: 'auth', httpStatus: 200, codes: ['EGeneral:Temporary lockout'], placed: 0, afterMs: 0 });
    expect(inProcess(addOrder, 'clean', none)).toEqual({ kind: 'answered', httpStatus: undefined, codes: [], placed: 1, afterMs: 0 });
  });

  it.each([['accept-then-drop'], ['html-5xx-placed'], ['accept-then-timeout']] as const)(
    'OpenOrders with %s: a read, so retryable on both paths',
    async (kind) => {
      const setup: Setup = (inject) => inject('OpenOrders', kind);
      const http = await overHttp(openOrders, 'read', setup);
      expect(http.kind).toBe('retryable');
      expect(inProcess(openOrders, 'read', setup)).toEqual(http);
    },
  );

  it('a refusal from the engine itself (insufficient funds) is the same refused error', async () => {
    const tooBig: Call = (port, id) => port.placeOrder(order(id, '100'));
    const http = await overHttp(tooBig, 'too-big', () => undefined);
    expect(http).toEqual({ kind: 'refused', httpStatus: 200, codes: ['EOrder:Insufficient funds'], placed: 0, afterMs: 0 });
    expect(inProcess(tooBig, 'too-big', () => undefined)).toEqual(http);
  });

  it('an AddOrder whose deadline comes within 2.5 s while it waits behind a slow call is not sent, on both paths', async () => {
    // OpenOrders takes 8 s at the exchange; the AddOrder queued behind it (one key, one lane) has a 10 s deadline.
    const queued: Call = (port, id, now) =>
      new Observable<unknown>((subscriber) => {
        const slow = port.openOrders().subscribe({ error: () => undefined });
        const placing = port.placeOrder({ ...order(id), deadline: now + 10_000 }).subscribe(subscriber);
        return () => {
          slow.unsubscribe();
          placing.unsubscribe();
        };
      });
    const setup: Setup = (_inject, setLatency) => setLatency('OpenOrders', 8_000);
    const http = await overHttp(queued, 'late', setup, 20_000);
    expect(http).toEqual({ kind: 'retryable', httpStatus: undefined, codes: [], placed: 0, afterMs: 8_000 });
    expect(inProcess(queued, 'late', setup, 20_000)).toEqual(http);
  });

  it('the REST counter is the engine\'s: the 16th OpenOrders in a burst at starter tier is rate-limited', () => {
    const scheduler = new TestScheduler((actual, expected) => expect(actual).toEqual(expected));
    scheduler.run(({ expectObservable }) => {
      const exchange = createVirtualExchange({ scheduler, latencyMs: 0 });
      const kinds: string[] = [];
      for (let i = 0; i < 16; i++) {
        exchange.port.openOrders().subscribe({ next: () => kinds.push('ok'), error: (e: unknown) => kinds.push(isExchangeError(e) ? e.kind : 'other') });
      }
      expectObservable(exchange.port.ticker(['XXBTZUSD'])).toBe('(a|)', { a: expect.any(Map) });
      scheduler.schedule(() => {
        expect(kinds).toEqual([...Array<string>(15).fill('ok'), 'rate-limited']);
        expect(exchange.inspect.requestCount('OpenOrders')).toBe(16);
      }, 1);
    });
  });

  it('answers latencyMs after the subscription and processes nothing before it (cold)', () => {
    const scheduler = new TestScheduler((actual, expected) => expect(actual).toEqual(expected));
    scheduler.run(({ expectObservable }) => {
      const exchange = createVirtualExchange({ scheduler, latencyMs: 25 });
      const placed = exchange.port.placeOrder(order('cold-1'));
      scheduler.schedule(() => expect(exchange.inspect.acceptedCount('cold-1')).toBe(0), 99);
      scheduler.schedule(() => expect(exchange.inspect.acceptedCount('cold-1')).toBe(1), 101);
      expectObservable(placed, '100ms ^').toBe('125ms (p|)', { p: { txid: expect.any(String), clientOrderId: 'cold-1', description: 'buy 0.10000000 XBTUSD @ limit 59000.0' } });
    });
  });
});
