import { Decimal } from 'decimal.js';
import { firstValueFrom } from 'rxjs';
import { type Journal, type OrderIntentRecord } from '../../../src/model/journal';
import { type LifecycleEvent } from '../../../src/model/order-state';

/** Filling a journal through its port, as a run would: intents, then the transitions the exchange reported. */

export const T0 = Date.UTC(2026, 11, 3, 12, 0, 0);
export const d = (value: string): Decimal => new Decimal(value);

/** A market buy entry of 0.5 on XXBTZUSD with no duties, with `fields` over it. */
export const intent = (clientOrderId: string, fields: Partial<OrderIntentRecord>): OrderIntentRecord => ({
  clientOrderId,
  signalId: 's',
  role: 'entry',
  parentClientOrderId: null,
  pair: 'XXBTZUSD',
  side: 'buy',
  orderType: 'market',
  volume: d('0.5'),
  price: null,
  price2: null,
  deadlineMs: 10_000,
  duties: { stopLoss: null, takeProfit: null, limitTimeoutMs: null, protectionMode: null },
  createdAt: T0,
  ...fields,
});

export const fill = (txid: string, tradeId: string, quantity: string, volumeExecuted = quantity): LifecycleEvent => ({
  kind: 'fill',
  txid,
  tradeId,
  quantity: d(quantity),
  price: d('60000'),
  fee: d('0.01'),
  volumeExecuted: d(volumeExecuted),
});

/** Sent and accepted as `txid`, at `start` and a second later. */
export const acceptedAs = (txid: string, start: number): LifecycleEvent[] => [
  { kind: 'sent', deadline: start + 10_000 },
  { kind: 'accepted', txid },
];

/** Journals `order` and its events, one second apart from `start`; every event must move the order. */
export async function place(journal: Journal, order: OrderIntentRecord, events: readonly LifecycleEvent[], start: number): Promise<void> {
  await firstValueFrom(journal.recordIntent(order));
  for (const [index, event] of events.entries()) {
    const step = await firstValueFrom(journal.recordTransition(order.clientOrderId, event, start + index * 1000));
    if (step.kind !== 'moved') throw new Error(`${order.clientOrderId}: ${event.kind} did not move the order (${step.kind})`);
  }
}
