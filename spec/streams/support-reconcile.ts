import { Decimal } from 'decimal.js';
import { concat, concatMap, from, toArray } from 'rxjs';
import { type Journal, type JournaledOrder, type OrderIntentRecord } from '../../src/model/journal';
import { type LifecycleEvent } from '../../src/model/order-state';
import { XBT } from './fake-exchange';

export type IntentFields = Partial<Omit<OrderIntentRecord, 'duties'>> & {
  readonly clientOrderId: string;
  readonly duties?: Partial<OrderIntentRecord['duties']>;
};

/** A journaled intent: by default a 1 XBT limit buy at 100 with a stop-loss at 90, created at 0. */
export function intentOf(fields: IntentFields): OrderIntentRecord {
  const { duties, ...rest } = fields;
  return {
    signalId: `signal-of-${fields.clientOrderId}`,
    role: 'entry',
    parentClientOrderId: null,
    pair: XBT.key,
    side: 'buy',
    orderType: 'limit',
    volume: new Decimal('1'),
    price: new Decimal('100'),
    price2: null,
    deadlineMs: 3_000,
    createdAt: 0,
    ...rest,
    duties: { stopLoss: new Decimal('90'), takeProfit: null, limitTimeoutMs: null, protectionMode: 'stop-resting', ...duties },
  };
}

/** One journaled event as the handler would have written it before the restart. */
export interface Seeded {
  readonly event: LifecycleEvent;
  readonly at: number;
}

export const sent = (at: number, deadline = at + 3_000): Seeded => ({ event: { kind: 'sent', deadline }, at });
export const accepted = (txid: string, at: number): Seeded => ({ event: { kind: 'accepted', txid }, at });
export const ambiguous = (at: number): Seeded => ({ event: { kind: 'ambiguous', reason: 'timeout' }, at });

export const cancelSent = (reason: string, at: number): Seeded => ({ event: { kind: 'cancel-sent', reason }, at });

export function fillOf(txid: string, tradeId: string, volumeExecuted: string, at: number, price = '100'): Seeded {
  const event: LifecycleEvent = {
    kind: 'fill',
    txid,
    tradeId,
    quantity: new Decimal(volumeExecuted),
    price: new Decimal(price),
    fee: new Decimal('0'),
    volumeExecuted: new Decimal(volumeExecuted),
  };
  return { event, at };
}

/** Writes intents and their events into the journal (synchronous stores: done when this returns). */
export function seed(journal: Journal, orders: ReadonlyArray<readonly [OrderIntentRecord, ...Seeded[]]>): void {
  let failure: unknown = null;
  from(orders)
    .pipe(
      concatMap(([intent, ...events]) =>
        concat(
          journal.recordIntent(intent),
          from(events).pipe(concatMap(({ event, at }) => journal.recordTransition(intent.clientOrderId, event, at))),
        ),
      ),
      toArray(),
    )
    .subscribe({
      next: (steps) => {
        const refused = steps.find((step) => 'kind' in step && step.kind !== 'moved');
        if (refused) failure = new Error(`seed: a transition did not move: ${JSON.stringify(refused)}`);
      },
      error: (error: unknown) => (failure = error),
    });
  if (failure) throw failure;
}

/** The journal's orders now (synchronous stores). */
export function ordersIn(journal: Journal): Map<string, JournaledOrder> {
  let read: readonly JournaledOrder[] = [];
  journal.orders().subscribe((orders) => (read = orders));
  return new Map(read.map((order) => [order.intent.clientOrderId, order]));
}
