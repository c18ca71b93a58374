import { afterEach, describe, expect, it } from '@jest/globals';
import { firstValueFrom } from 'rxjs';
import { createKrakenClient } from '../../src/kraken/client';
import { Credentials } from '../../src/kraken/credentials';
import { NonceSource } from '../../src/kraken/nonce';
import { PrivateLane } from '../../src/kraken/private-lane';
import { type TradeSignal } from '../../src/model/signal';
import { type FaultKind } from '../../src/paper';
import { E2eRun, type SignalFields, closeAllRuns, signalWith } from './support/harness';

/**
 * Placement over loopback HTTP against the paper exchange: idempotent AddOrder under every ambiguous outcome
 * (design.md §3.1), the OpenOrders lag, nonce races, HALT and bad input. The paper exchange's inspection API
 * is the ground truth for what was placed.
 */

afterEach(closeAllRuns);

const restingBuy = (signalId: string, extra: SignalFields = {}): TradeSignal =>
  signalWith(
    {
      signalId,
      pair: 'BTC/USD',
      side: 'buy',
      orderType: 'limit',
      quantity: '0.05',
      limitPrice: '59000',
      stopLoss: '57000',
      timeoutMs: 600_000,
    },
    extra,
  );

const marketBuy = (signalId: string, extra: SignalFields = {}): TradeSignal =>
  signalWith(
    {
      signalId,
      pair: 'BTC/USD',
      side: 'buy',
      orderType: 'market',
      quantity: '0.05',
      stopLoss: '57000',
    },
    extra,
  );

const entryOf = (run: E2eRun, signalId: string) => {
  const id = run.of(signalId, 'entry').find((r) => r.clientOrderId !== null)?.clientOrderId;
  if (!id) throw new Error(`no client order id reported for ${signalId}\n${run.timeline()}`);
  return id;
};

describe('e2e: ambiguous placement is resolved by lookup, never by a blind resend', () => {
  it('accepted-then-timeout: the order rests, the answer never comes → UNKNOWN, then adopted; placed once', async () => {
    const run = await E2eRun.start();
    run.paper.faults.inject('AddOrder', 'accept-then-timeout');
    run.signals.next(restingBuy('att'));

    const adopted = await run.waitFor('entry adopted', (r) => r.signalId === 'att' && r.status === 'NEW');
    const clOrdId = entryOf(run, 'att');
    expect(run.statuses('att', 'entry')).toEqual(['PENDING_NEW', 'UNKNOWN', 'NEW']);
    expect(run.of('att', 'entry')[1]?.reason).toMatch(/ambiguous.*no response within 10000 ms/);
    expect(adopted.reason).toMatch(/found by its client order id/);
    expect(run.answers('AddOrder').map((w) => [w.status, w.body])).toEqual([[0, 'AbortError']]);
    const placed = run.paper.inspect.ordersByClOrdId(clOrdId);
    expect(placed).toHaveLength(1);
    expect(adopted.exchangeOrderId).toBe(placed[0]?.txid);

    // Adopted means followed: the fill is reported and protected like any other.
    run.paper.setPrice('XBTUSD', '59000');
    await run.waitFor('stop resting', (r) => r.signalId === 'att' && r.role === 'stop-loss' && r.status === 'NEW');
    expect(run.finals('att', 'entry').map((r) => r.status)).toEqual(['FILLED']);
    expect(run.paper.inspect.acceptedCount(clOrdId)).toBe(1);
    expect(run.paper.inspect.requestCount('AddOrder')).toBe(2);
  });

  it('accepted-then-drop: the connection is reset after the order was taken → adopted, placed once', async () => {
    const run = await E2eRun.start();
    run.paper.faults.inject('AddOrder', 'accept-then-drop');
    run.signals.next(restingBuy('atd'));

    await run.waitFor('entry adopted', (r) => r.signalId === 'atd' && r.status === 'NEW');
    expect(run.statuses('atd', 'entry')).toEqual(['PENDING_NEW', 'UNKNOWN', 'NEW']);
    expect(run.paper.inspect.acceptedCount(entryOf(run, 'atd'))).toBe(1);
    expect(run.paper.inspect.requestCount('AddOrder')).toBe(1);
  });

  it('filled-then-timeout: a market order that filled before the lookup is adopted from ClosedOrders, FILLED and protected', async () => {
    const run = await E2eRun.start();
    run.paper.faults.inject('AddOrder', 'accept-then-timeout');
    run.signals.next(marketBuy('ftt'));

    const stop = await run.waitFor('stop resting', (r) => r.signalId === 'ftt' && r.role === 'stop-loss' && r.status === 'NEW');
    const clOrdId = entryOf(run, 'ftt');
    const entry = run.of('ftt', 'entry');
    expect(entry.map((r) => r.status)).toEqual(['PENDING_NEW', 'UNKNOWN', 'NEW', 'FILLED']);
    expect(entry[2]?.quantityFilled.toFixed()).toBe('0.05');
    expect(run.paper.inspect.acceptedCount(clOrdId)).toBe(1);
    expect(run.paper.inspect.ordersByClOrdId(clOrdId)[0]?.status).toBe('closed');
    // Found among the closed orders: the lookup went past OpenOrders.
    expect(run.answers('ClosedOrders').some((w) => w.body.includes(clOrdId))).toBe(true);
    const resting = run.paper.inspect.order(stop.exchangeOrderId ?? '');
    expect(resting).toMatchObject({ orderType: 'stop-loss', side: 'sell', status: 'open' });
    expect(resting?.volume.toFixed()).toBe('0.05');
  });

  it('5xx-HTML-but-placed: a Cloudflare 520 page after the order was placed → UNKNOWN, adopted, placed once', async () => {
    const run = await E2eRun.start();
    run.paper.faults.inject('AddOrder', 'html-5xx-placed');
    run.signals.next(marketBuy('html'));

    await run.waitFor('stop resting', (r) => r.signalId === 'html' && r.role === 'stop-loss' && r.status === 'NEW');
    const first = run.answers('AddOrder')[0];
    expect(first?.status).toBe(520);
    expect(first?.body).toMatch(/<html/i);
    expect(run.statuses('html', 'entry')).toEqual(['PENDING_NEW', 'UNKNOWN', 'NEW', 'FILLED']);
    expect(run.of('html', 'entry')[1]?.reason).toMatch(/HTTP 520/);
    expect(run.paper.inspect.acceptedCount(entryOf(run, 'html'))).toBe(1);
  });

  it.each<[FaultKind, string]>([
    ['drop-before-accept', 'reset-before-accept'],
    ['html-5xx-not-placed', '502 page before processing'],
  ])('%s (%s): nothing was placed, absence is proven past the deadline, then sent once more → placed exactly once', async (fault) => {
    const run = await E2eRun.start();
    run.paper.faults.inject('AddOrder', fault);
    run.signals.next(marketBuy('rba'));

    await run.waitFor('stop resting', (r) => r.signalId === 'rba' && r.role === 'stop-loss' && r.status === 'NEW');
    const clOrdId = entryOf(run, 'rba');
    const entry = run.of('rba', 'entry');
    expect(entry.map((r) => r.status)).toEqual(['PENDING_NEW', 'UNKNOWN', 'NEW', 'FILLED']);
    // The resend waited until the lookups had proven absence: past the deadline plus the OpenOrders lag.
    const unknownAt = entry[1]?.timestamp ?? 0;
    const newAt = entry[2]?.timestamp ?? 0;
    expect(newAt - unknownAt).toBeGreaterThanOrEqual(run.config.entry.deadlineMs);
    expect(run.paper.inspect.requestCount('AddOrder')).toBe(3); // entry twice, stop once
    expect(run.paper.inspect.acceptedCount(clOrdId)).toBe(1);
    expect(run.paper.inspect.ordersByClOrdId(clOrdId)).toHaveLength(1);
  });
});

describe('e2e: OpenOrders lag right after placement', () => {
  it('a resting entry missing from OpenOrders for a while is not taken for gone; it is followed to its fill', async () => {
    const run = await E2eRun.start({ paper: { openOrdersLagMs: 8_000 }, tuning: { openOrdersLagMs: 10_000 } });
    run.signals.next(restingBuy('lag'));
    await run.waitFor('entry NEW', (r) => r.signalId === 'lag' && r.status === 'NEW');
    // Several monitor ticks inside the lag, in which OpenOrders does not list it yet.
    await run.until('three monitor ticks', () => run.paper.inspect.requestCount('OpenOrders') >= 3);
    expect(run.answers('OpenOrders')[0]?.body).toBe('{"error":[],"result":{"open":{}}}');
    expect(run.statuses('lag', 'entry')).toEqual(['PENDING_NEW', 'NEW']);

    run.paper.setPrice('XBTUSD', '59000');
    await run.waitFor('stop resting', (r) => r.signalId === 'lag' && r.role === 'stop-loss' && r.status === 'NEW');
    expect(run.statuses('lag', 'entry')).toEqual(['PENDING_NEW', 'NEW', 'FILLED']);
    expect(run.paper.inspect.acceptedCount(entryOf(run, 'lag'))).toBe(1);
  });

  it('an ambiguous placement inside the lag keeps looking until the order shows, rather than resending it', async () => {
    const run = await E2eRun.start({ paper: { openOrdersLagMs: 8_000 }, tuning: { openOrdersLagMs: 10_000 } });
    run.paper.faults.inject('AddOrder', 'accept-then-drop');
    run.signals.next(restingBuy('lagamb'));

    const adopted = await run.waitFor('entry adopted', (r) => r.signalId === 'lagamb' && r.status === 'NEW');
    const clOrdId = entryOf(run, 'lagamb');
    expect(run.statuses('lagamb', 'entry')).toEqual(['PENDING_NEW', 'UNKNOWN', 'NEW']);
    // At least one lookup came back empty (inside the lag) before the order showed.
    expect(run.answers('OpenOrders').some((w) => w.body === '{"error":[],"result":{"open":{}}}')).toBe(true);
    const order = run.paper.inspect.ordersByClOrdId(clOrdId)[0];
    // Looked up every second: the first lookup after the 8 s lag finds it, to the millisecond.
    expect(adopted.timestamp).toBe((order?.openedAt ?? 0) + 8_000);
    expect(run.paper.inspect.requestCount('AddOrder')).toBe(1);
    expect(run.paper.inspect.acceptedCount(clOrdId)).toBe(1);
  });
});

describe('e2e: the AddOrder deadline and the private-call queue', () => {
  it('an AddOrder queued behind a slow private call still reaches Kraken with a valid deadline', async () => {
    const run = await E2eRun.start({ config: { entry: { deadlineMs: 5_000 } } });
    run.signals.next(restingBuy('first'));
    await run.waitFor('first NEW', (r) => r.signalId === 'first' && r.status === 'NEW');
    // The next monitor tick's OpenOrders takes 4 s to answer; private calls are serialised on the key, so an
    // AddOrder sent meanwhile waits for it.
    run.paper.faults.setLatency('OpenOrders', 4_000);
    const ticks = run.paper.inspect.requestCount('OpenOrders');
    await run.until('a slow OpenOrders in flight', () => run.paper.inspect.requestCount('OpenOrders') > ticks);
    run.signals.next(restingBuy('queued', { limitPrice: '58900' }));

    const final = await run.waitFor('queued placed or refused', (r) => r.signalId === 'queued' && (r.status === 'NEW' || r.status === 'REJECTED'));
    // Kraken never saw a deadline under 2 s away: the stale attempt was held back, re-stamped and sent.
    expect(run.answers('AddOrder').map((w) => w.body).filter((body) => body.includes('deadline'))).toEqual([]);
    expect(final.status).toBe('NEW');
    expect(run.statuses('queued')).toEqual(['PENDING_NEW', 'NEW']);
    expect(run.paper.inspect.acceptedCount(entryOf(run, 'queued'))).toBe(1);
  });
});

describe('e2e: deadline and validate-only', () => {
  it('an AddOrder that Kraken still had queued at its deadline is refused, not placed, and sent again with a fresh deadline', async () => {
    const run = await E2eRun.start({ config: { entry: { deadlineMs: 3_000 } } });
    // Kraken sits on AddOrders for 4 s: past the 3 s deadline.
    run.paper.faults.setLatency('AddOrder', 4_000);
    run.signals.next(restingBuy('late'));
    await run.until('the deadline refusal', () => run.answers('AddOrder').length > 0);
    run.paper.faults.setLatency('AddOrder', 0);

    await run.waitFor('entry NEW', (r) => r.signalId === 'late' && r.status === 'NEW');
    const answers = run.answers('AddOrder').map((w) => w.body);
    expect(answers[0]).toBe('{"error":["EService:Deadline elapsed"]}');
    expect(answers[answers.length - 1]).toMatch(/"txid":\["O/);
    expect(run.statuses('late', 'entry')).toEqual(['PENDING_NEW', 'NEW']);
    expect(run.paper.inspect.acceptedCount(entryOf(run, 'late'))).toBe(1);
  });

  it('validate-only: Kraken checks the order, nothing is placed, the entry ends CANCELED with the reason', async () => {
    const run = await E2eRun.start({ config: { exchange: { validateOnly: true } } });
    run.signals.next(marketBuy('dry'));
    const final = await run.waitFor('entry final', (r) => r.signalId === 'dry' && r.status === 'CANCELED');
    expect(final.reason).toMatch(/validate only/);
    expect(run.answers('AddOrder').map((w) => w.body)).toEqual([expect.stringMatching(/"descr":\{"order":"buy 0\.05000000 XBTUSD @ market"\}/)]);
    expect(run.paper.inspect.orders()).toEqual([]);
    expect(run.of('dry').filter((r) => r.role !== 'entry')).toEqual([]);
  });
});

describe('e2e: EAPI:Invalid nonce', () => {
  /** Another client on the same key whose nonces run `aheadMs` ahead of the handler's: one call moves Kraken's last nonce. */
  const bumpNonce = async (run: E2eRun, aheadMs: number): Promise<void> => {
    const other = createKrakenClient({
      url: run.paper.url,
      credentials: new Credentials(run.paper.apiKey, run.paper.apiSecret),
      timeoutMs: 1_000,
      lane: new PrivateLane(new NonceSource(() => run.clock.now() + aheadMs)),
    });
    await firstValueFrom(other.openOrders());
  };

  it('is re-signed with a fresh nonce and retried once; the order is placed once', async () => {
    // The retry waits ≥ 0.8 × 40 000 ms: by then the handler's nonces (taken from the run's clock) have passed the bump.
    const run = await E2eRun.start({ config: { retry: { initialDelayMs: 40_000, maxDelayMs: 40_000 } } });
    await bumpNonce(run, 600);
    run.signals.next(restingBuy('nonce'));

    await run.waitFor('entry NEW', (r) => r.signalId === 'nonce' && r.status === 'NEW');
    const answers = run.answers('AddOrder').map((w) => w.body);
    expect(answers).toHaveLength(2);
    expect(answers[0]).toBe('{"error":["EAPI:Invalid nonce"]}');
    expect(answers[1]).toMatch(/"txid":\["O/);
    expect(run.statuses('nonce', 'entry')).toEqual(['PENDING_NEW', 'NEW']);
    expect(run.paper.inspect.acceptedCount(entryOf(run, 'nonce'))).toBe(1);
  });

  it('a second invalid nonce in a row is not retried again: REJECTED, nothing placed', async () => {
    const run = await E2eRun.start({ config: { retry: { initialDelayMs: 400, maxDelayMs: 400 } } });
    await bumpNonce(run, 60_000);
    run.signals.next(restingBuy('nonce2'));

    const rejected = await run.waitFor('entry final', (r) => r.signalId === 'nonce2' && r.status === 'REJECTED');
    expect(rejected.reason).toMatch(/Invalid nonce/);
    expect(run.answers('AddOrder').map((w) => w.body)).toEqual(['{"error":["EAPI:Invalid nonce"]}', '{"error":["EAPI:Invalid nonce"]}']);
    expect(run.paper.inspect.orders()).toHaveLength(0);
  });
});

describe('e2e: HALT and bad input', () => {
  it('HALT while a placement is in flight: the admitted order is placed, the next signal is rejected, monitoring and protection go on', async () => {
    const run = await E2eRun.start();
    // 2.4 s in flight: long enough to HALT meanwhile, well inside the 5 s deadline.
    run.paper.faults.setLatency('AddOrder', 2_400);
    run.signals.next(restingBuy('inflight'));
    await run.waitFor('placement under way', (r) => r.signalId === 'inflight' && r.status === 'PENDING_NEW');
    run.halted.next(true);
    run.signals.next(restingBuy('afterHalt'));

    const refused = await run.waitFor('halted rejection', (r) => r.signalId === 'afterHalt' && r.status === 'REJECTED');
    expect(refused.reason).toMatch(/HALT/);
    await run.waitFor('in-flight entry accepted', (r) => r.signalId === 'inflight' && r.status === 'NEW');
    expect(run.statuses('afterHalt')).toEqual(['REJECTED']);

    // Still halted: the fill is seen and the stop (which reduces risk) is placed.
    run.paper.faults.setLatency('AddOrder', 0);
    run.paper.setPrice('XBTUSD', '59000');
    await run.waitFor('stop resting', (r) => r.signalId === 'inflight' && r.role === 'stop-loss' && r.status === 'NEW');
    const orders = run.paper.inspect.orders();
    expect(orders.map((o) => [o.clOrdId, o.orderType])).toEqual([
      [entryOf(run, 'inflight'), 'limit'],
      [expect.any(String), 'stop-loss'],
    ]);
  });

  it('a malformed signal among good ones is rejected with its field and reason; the stream goes on', async () => {
    const run = await E2eRun.start();
    const malformed: unknown[] = [
      { signalId: 'badQty', pair: 'BTC/USD', side: 'buy', orderType: 'market', quantity: 'abc' },
      { signalId: 'badPair', pair: 'NOPE/USD', side: 'buy', orderType: 'market', quantity: '1' },
      { signalId: 'floatQty', pair: 'BTC/USD', side: 'buy', orderType: 'market', quantity: 0.1 },
      { signalId: 'noPrice', pair: 'BTC/USD', side: 'buy', orderType: 'limit', quantity: '0.1' },
      {},
    ];
    run.signals.next(marketBuy('good1'));
    for (const signal of malformed) run.signals.next(signal as TradeSignal);
    run.signals.next({ signalId: 'good2', pair: 'ETH/USD', side: 'buy', orderType: 'market', quantity: '0.5', stopLoss: '2900' });

    await run.waitFor('good2 protected', (r) => r.signalId === 'good2' && r.role === 'stop-loss' && r.status === 'NEW');
    await run.waitFor('good1 protected', (r) => r.signalId === 'good1' && r.role === 'stop-loss' && r.status === 'NEW');
    const rejectedReasons = run.reports.filter((r) => r.status === 'REJECTED').map((r) => [r.signalId, r.reason?.split(':')[0]]);
    expect(rejectedReasons).toEqual([
      ['badQty', 'quantity'],
      ['badPair', 'pair'],
      ['floatQty', 'quantity'],
      ['noPrice', 'limitPrice'],
      ['', expect.any(String)],
    ]);
    expect(run.problems).toEqual([]);
    const entries = run.paper.inspect.orders().filter((o) => o.orderType === 'market');
    expect(entries.map((o) => o.volume.toFixed())).toEqual(['0.05', '0.5']);
    expect(entries.every((o) => o.status === 'closed' && o.volumeExecuted.eq(o.volume))).toBe(true);
    expect(run.finals('good1', 'entry').map((r) => r.quantityFilled.toFixed())).toEqual(['0.05']);
  });
});
