import { afterEach, describe, expect, it } from '@jest/globals';
import { firstValueFrom } from 'rxjs';
import { createKrakenClient } from '../../src/kraken/client';
import { Credentials } from '../../src/kraken/credentials';
import { PrivateLane } from '../../src/kraken/private-lane';
import { type TradeSignal } from '../../src/model/signal';
import { E2eRun, type SignalFields, closeAllRuns, signalWith } from './support/harness';

/**
 * An entry's life after acceptance, over loopback HTTP: the limit timeout and its cancel racing the exchange,
 * partial fills, and protection sized to what filled (design.md §3.5, §3.6).
 */

afterEach(closeAllRuns);

const limitBuy = (signalId: string, quantity: string, extra: SignalFields = {}): TradeSignal =>
  signalWith(
    {
      signalId,
      pair: 'BTC/USD',
      side: 'buy',
      orderType: 'limit',
      quantity,
      limitPrice: '59000',
      stopLoss: '57000',
    },
    extra,
  );

describe('e2e: order lifecycle against the paper exchange', () => {
  it('cancel racing a fill: the timeout cancel arrives after the order filled → "unknown order", looked up, FILLED and protected', async () => {
    const run = await E2eRun.start();
    // The cancel spends 3.2 s on its way in; the fill happens meanwhile.
    run.paper.faults.setLatency('CancelOrder', 3_200);
    run.signals.next(limitBuy('race', '0.05', { timeoutMs: 3_000 }));

    await run.waitFor('timeout cancel', (r) => r.signalId === 'race' && r.status === 'PENDING_CANCEL');
    run.paper.setPrice('XBTUSD', '59000');
    const stop = await run.waitFor('stop resting', (r) => r.signalId === 'race' && r.role === 'stop-loss' && r.status === 'NEW');

    expect(run.statuses('race', 'entry')).toEqual(['PENDING_NEW', 'NEW', 'PENDING_CANCEL', 'FILLED']);
    expect(run.finals('race', 'entry')[0]?.quantityFilled.toFixed()).toBe('0.05');
    expect(run.answers('CancelOrder').map((w) => w.body)).toEqual(['{"error":["EOrder:Unknown order"]}']);
    expect(run.paper.inspect.order(stop.exchangeOrderId ?? '')?.volume.toFixed()).toBe('0.05');
  });

  it('cancel of an order already gone (cancelled from elsewhere): "unknown order" is not taken as a cancel, the lookup reports CANCELED once', async () => {
    // A slow monitor: the handler has not noticed the outside cancel when its own timeout cancel goes out.
    const run = await E2eRun.start({ config: { monitor: { minIntervalMs: 20_000, maxIntervalMs: 25_000 } } });
    run.signals.next(limitBuy('gone', '0.05', { timeoutMs: 8_000 }));
    const accepted = await run.waitFor('entry NEW', (r) => r.signalId === 'gone' && r.status === 'NEW');

    // A person (another key on the same account) cancels it.
    const other = run.paper.addApiKey();
    const person = createKrakenClient({
      url: run.paper.url,
      credentials: new Credentials(other.apiKey, other.apiSecret),
      timeoutMs: 1_000,
      lane: new PrivateLane(),
    });
    await firstValueFrom(person.cancelOrder({ txid: accepted.exchangeOrderId ?? '' }));

    const final = await run.waitFor('entry final', (r) => r.signalId === 'gone' && r.status === 'CANCELED');
    expect(run.statuses('gone', 'entry')).toEqual(['PENDING_NEW', 'NEW', 'PENDING_CANCEL', 'CANCELED']);
    expect(run.answers('CancelOrder').map((w) => w.body)).toEqual(['{"error":["EOrder:Unknown order"]}']);
    // The handler's cancel did not take: the report says who did, with Kraken's reason.
    expect(final.reason).toBe('cancelled outside the handler (User requested)');
    expect(final.quantityFilled.isZero()).toBe(true);
    // Nothing filled, nothing to protect.
    await run.pass(3_000);
    expect(run.of('gone').filter((r) => r.role !== 'entry')).toEqual([]);
    expect(run.paper.inspect.orders()).toHaveLength(1);
  });

  it('a timeout cancel refused twice for a nonce race is tried again until the entry is cancelled', async () => {
    const run = await E2eRun.start();
    run.signals.next(limitBuy('recancel', '0.05', { timeoutMs: 3_000 }));
    await run.waitFor('entry NEW', (r) => r.signalId === 'recancel' && r.status === 'NEW');
    // The cancel's first attempt and its one nonce retry are refused as if another process had raced the nonce.
    run.paper.faults.inject('CancelOrder', 'invalid-nonce', 2);

    const final = await run.waitFor('entry final', (r) => r.signalId === 'recancel' && r.role === 'entry' && ['CANCELED', 'FILLED', 'ERROR'].includes(r.status));
    expect(final.status).toBe('CANCELED');
    expect(run.paper.inspect.openOrders()).toEqual([]);
  });

  it('partial fill then timeout: the rest is cancelled and what filled is protected by a stop of that size', async () => {
    const run = await E2eRun.start();
    // The timeout leaves the monitor several ticks to see the partial fill first.
    run.signals.next(limitBuy('partial', '1', { timeoutMs: 10_000 }));
    await run.waitFor('entry NEW', (r) => r.signalId === 'partial' && r.status === 'NEW');
    // The paper market offers 0.5 BTC per matching run.
    run.paper.setPrice('XBTUSD', '59000');

    const part = await run.waitFor('partial fill', (r) => r.signalId === 'partial' && r.status === 'PARTIALLY_FILLED');
    expect(part.lastFillQuantity?.toFixed()).toBe('0.5');
    expect(part.lastFillPrice?.toFixed()).toBe('59000');
    const stop = await run.waitFor('stop resting', (r) => r.signalId === 'partial' && r.role === 'stop-loss' && r.status === 'NEW');

    expect(run.statuses('partial', 'entry')).toEqual(['PENDING_NEW', 'NEW', 'PARTIALLY_FILLED', 'PENDING_CANCEL', 'CANCELED']);
    const final = run.finals('partial', 'entry')[0];
    expect(final?.quantityFilled.toFixed()).toBe('0.5');
    expect(final?.reason).toBe('cancelled: timeout');
    const entry = run.paper.inspect.order(final?.exchangeOrderId ?? '');
    expect(entry).toMatchObject({ status: 'canceled' });
    expect(entry?.volumeExecuted.toFixed()).toBe('0.5');
    const resting = run.paper.inspect.order(stop.exchangeOrderId ?? '');
    expect(resting).toMatchObject({ orderType: 'stop-loss', side: 'sell', status: 'open' });
    expect(resting?.volume.toFixed()).toBe('0.5');
    expect(resting?.price?.toFixed()).toBe('57000');
  });

  it('partial fill below ordermin: the dust is reported, never sent', async () => {
    const run = await E2eRun.start();
    // An earlier order at the same price takes all but 0.00001 BTC of the run's liquidity (time priority).
    run.signals.next(limitBuy('big', '0.49999', { timeoutMs: 600_000, stopLoss: undefined }));
    await run.waitFor('big NEW', (r) => r.signalId === 'big' && r.status === 'NEW');
    run.signals.next(limitBuy('dust', '0.001', { timeoutMs: 3_000 }));
    await run.waitFor('dust NEW', (r) => r.signalId === 'dust' && r.status === 'NEW');
    run.paper.setPrice('XBTUSD', '59000');

    const dust = await run.waitFor('dust report', (r) => r.signalId === 'dust' && r.role === 'stop-loss');
    expect(dust.status).toBe('REJECTED');
    expect(dust.reason).toMatch(/^dust: 0\.00001 is below the BTC\/USD order minimum 0\.00005/);
    expect(dust.clientOrderId).toBeNull();
    const entryFinal = run.finals('dust', 'entry');
    expect(entryFinal.map((r) => [r.status, r.quantityFilled.toFixed()])).toEqual([['CANCELED', '0.00001']]);
    expect(run.paper.inspect.orders().filter((o) => o.orderType === 'stop-loss')).toEqual([]);
    expect(run.paper.inspect.requestCount('AddOrder')).toBe(2);
  });
});
