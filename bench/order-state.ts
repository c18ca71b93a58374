import { performance } from 'node:perf_hooks';
import { Decimal } from 'decimal.js';
import { type Observable } from 'rxjs';
import { accountFingerprint } from '../src/journal/account';
import { openMemoryJournal } from '../src/journal/memory';
import { type LifecycleEvent, type OrderState, foldEvents, initialOrderState, transition } from '../src/model/order-state';
import { type Table, count, fixed } from './table';

/** Calls per timed batch: long enough for the timer's resolution, short enough to give many batches. */
const BATCH = 1_000;
const WARM_BATCHES = 20;
const MEASURED_BATCHES = 60;

/** µs per call of one measured case. */
export interface CallCost {
  readonly what: string;
  readonly calls: number;
  readonly p50Us: number;
  readonly meanUs: number;
}

const TXID = 'OBENCH-AAAAA-BBBBBB';
const fillTo = (volumeExecuted: string, tradeId: string): LifecycleEvent => ({
  kind: 'fill',
  txid: TXID,
  tradeId,
  quantity: new Decimal('0.004'),
  price: new Decimal('59000.1'),
  fee: new Decimal('0.0767'),
  volumeExecuted: new Decimal(volumeExecuted),
});

function reach(events: readonly LifecycleEvent[]): OrderState {
  const folded = foldEvents(initialOrderState('bench-order', new Decimal('0.0123')), events);
  if (folded.kind === 'invalid') throw new Error(`bench path invalid at ${folded.index}: ${folded.reason}`);
  return folded.state;
}

/** Batches of calls of `call`, each batch timed; a batch's mean per call is one sample. */
function timeCalls(what: string, call: () => unknown): CallCost {
  const samples: number[] = [];
  let sink = 0;
  for (let b = 0; b < WARM_BATCHES + MEASURED_BATCHES; b++) {
    const started = performance.now();
    for (let i = 0; i < BATCH; i++) if (call() !== undefined) sink++;
    const us = ((performance.now() - started) * 1_000) / BATCH;
    if (b >= WARM_BATCHES) samples.push(us);
  }
  if (sink === 0) throw new Error(`${what}: no call answered`);
  const sorted = [...samples].sort((a, b) => a - b);
  return {
    what,
    calls: BATCH * MEASURED_BATCHES,
    p50Us: sorted[Math.floor(sorted.length / 2)] ?? 0,
    meanUs: samples.reduce((sum, us) => sum + us, 0) / samples.length,
  };
}

/** The one-call cost of `transition`, checking first that each case takes the row it is named for. */
function transitionCase(what: string, state: OrderState, event: LifecycleEvent, expected: 'moved' | 'ignored' | 'invalid'): CallCost {
  const kind = transition(state, event).kind;
  if (kind !== expected) throw new Error(`${what}: expected ${expected}, got ${kind}`);
  return timeCalls(what, () => transition(state, event));
}

/** The journal's Observables are synchronous: this takes the answer without a Promise in the timed region. */
function now<T>(observable: Observable<T>): T {
  const box: { answer?: { readonly value: T } | { readonly error: unknown } } = {};
  observable.subscribe({ next: (value) => (box.answer = { value }), error: (error: unknown) => (box.answer = { error }) }).unsubscribe();
  const answer = box.answer;
  if (answer === undefined) throw new Error('the journal call did not answer synchronously');
  if ('error' in answer) throw answer.error;
  return answer.value;
}

/**
 * The in-memory journal's `recordTransition` of an ignored fill repeat (the machine runs, nothing is written),
 * on an order that already holds `priorFills` journaled fills: whether an append's cost grows with the order's history.
 */
function journalRepeatCase(priorFills: number): CallCost {
  const journal = openMemoryJournal({ account: accountFingerprint('bench-key') });
  now(
    journal.recordIntent({
      clientOrderId: 'bench-order',
      signalId: 'bench-signal',
      role: 'entry',
      parentClientOrderId: null,
      pair: 'XXBTZUSD',
      side: 'buy',
      orderType: 'limit',
      volume: new Decimal(priorFills + 1),
      price: new Decimal('59000.1'),
      price2: null,
      deadlineMs: 10_000,
      duties: { stopLoss: null, takeProfit: null, limitTimeoutMs: null, protectionMode: 'stop-resting' },
      createdAt: 1_700_000_000_000,
    }),
  );
  now(journal.recordTransition('bench-order', { kind: 'sent', deadline: 1 }, 1));
  now(journal.recordTransition('bench-order', { kind: 'accepted', txid: TXID }, 2));
  for (let i = 1; i <= priorFills; i++) now(journal.recordTransition('bench-order', fillTo(String(i), `T${i}`), 3));
  const repeat = fillTo('1', 'T1');
  const kind = now(journal.recordTransition('bench-order', repeat, 4)).kind;
  if (kind !== 'ignored') throw new Error(`journal repeat: expected ignored, got ${kind}`);
  const cost = timeCalls(`journal recordTransition, ignored repeat, ${count(priorFills)} prior fills`, () =>
    now(journal.recordTransition('bench-order', repeat, 4)),
  );
  now(journal.close());
  return cost;
}

/**
 * µs per `transition` call for the rows the journal and the monitor take most (an acceptance, a partial fill, a
 * final cancel, an ignored repeat of a fill) and the fall-through `invalid` row, then the in-memory journal's
 * append cost against the order's history.
 */
export function measureOrderState(): CallCost[] {
  const sent = reach([{ kind: 'sent', deadline: 1 }]);
  const accepted = reach([{ kind: 'sent', deadline: 1 }, { kind: 'accepted', txid: TXID }]);
  const partial = reach([{ kind: 'sent', deadline: 1 }, { kind: 'accepted', txid: TXID }, fillTo('0.004', 'T1')]);
  const filled = reach([{ kind: 'sent', deadline: 1 }, { kind: 'accepted', txid: TXID }, fillTo('0.0123', 'T1')]);
  return [
    transitionCase('accepted (sent → accepted)', sent, { kind: 'accepted', txid: TXID }, 'moved'),
    transitionCase('fill (accepted → partially-filled)', accepted, fillTo('0.004', 'T1'), 'moved'),
    transitionCase('final (partially-filled → canceled)', partial, { kind: 'final', outcome: 'canceled', volumeExecuted: new Decimal('0.004'), reason: null }, 'moved'),
    transitionCase('ignored repeat (a fill already counted)', partial, fillTo('0.004', 'T1'), 'ignored'),
    transitionCase('invalid (sent to a filled order)', filled, { kind: 'sent', deadline: 1 }, 'invalid'),
    journalRepeatCase(1),
    journalRepeatCase(20),
  ];
}

export function orderStateTable(costs: readonly CallCost[]): Table {
  return {
    title: 'Order state machine: µs per call',
    columns: ['call', 'calls timed', 'µs p50', 'µs mean'],
    rows: costs.map((c) => [c.what, count(c.calls), fixed(c.p50Us, 2), fixed(c.meanUs, 2)]),
    notes: [
      `Batches of ${count(BATCH)} calls on one state and event, ${WARM_BATCHES} warm-up batches, then ${MEASURED_BATCHES} timed; p50 and mean of the per-batch means.`,
      'The journal rows: the in-memory journal answering a fill it already holds (the machine runs, nothing is written), so what',
      'an append costs beyond the machine itself shows, and whether it grows with the order’s history.',
    ],
  };
}
