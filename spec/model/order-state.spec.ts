import { describe, expect, it } from '@jest/globals';
import { Decimal } from 'decimal.js';
import { concatMap, from, map, scan } from 'rxjs';
import {
  type LifecycleEvent,
  type OrderState,
  type OrderStatus,
  type Transition,
  foldEvents,
  initialOrderState,
  isFinalOrderStatus,
  transition,
} from '../../src/model/order-state';
import { isFinalStatus } from '../../src/model/report';
import { marbles } from '../operators/support';

const CL_ORD_ID = 'c0ffee00-0000-4000-8000-000000000013';
const TXID = 'OTX111-AAAAA-BBBBBB';
const d = (value: string | number): Decimal => new Decimal(value);

const sent: LifecycleEvent = { kind: 'sent', deadline: 2_000 };
const accepted: LifecycleEvent = { kind: 'accepted', txid: TXID };
const ambiguous: LifecycleEvent = { kind: 'ambiguous', reason: 'timeout after sending' };
const found: LifecycleEvent = { kind: 'found', txid: TXID };
const provenAbsent: LifecycleEvent = { kind: 'proven-absent' };
const fillTo = (volumeExecuted: string, tradeId: string, quantity = volumeExecuted, price = '100'): LifecycleEvent => ({
  kind: 'fill',
  txid: TXID,
  tradeId,
  quantity: d(quantity),
  price: d(price),
  fee: d('0.1'),
  volumeExecuted: d(volumeExecuted),
});
const cancelSent: LifecycleEvent = { kind: 'cancel-sent', reason: 'timeout' };
const cancelMissed: LifecycleEvent = { kind: 'cancel-missed' };
const cancelWithdrawn: LifecycleEvent = { kind: 'cancel-withdrawn', reason: 'close-position gave up' };
const closedAt = (volumeExecuted: string): LifecycleEvent => ({ kind: 'final', outcome: 'closed', volumeExecuted: d(volumeExecuted), reason: null });
const canceledAt = (volumeExecuted: string, reason: string | null = 'User requested'): LifecycleEvent => ({
  kind: 'final',
  outcome: 'canceled',
  volumeExecuted: d(volumeExecuted),
  reason,
});
const expiredAt = (volumeExecuted: string): LifecycleEvent => ({ kind: 'expired', volumeExecuted: d(volumeExecuted), reason: 'deadline' });
const rejected: LifecycleEvent = { kind: 'rejected', reason: 'EOrder:Insufficient funds' };
const failed: LifecycleEvent = { kind: 'failed', reason: 'position unprotected: not placed' };

const START = initialOrderState(CL_ORD_ID, d('1'));

function reach(events: readonly LifecycleEvent[]): OrderState {
  const folded = foldEvents(START, events);
  if (folded.kind === 'invalid') throw new Error(`path to a state is invalid at ${folded.index}: ${folded.reason}`);
  return folded.state;
}

/** One order in each status, reached by a real path (quantity 1, partial fills of 0.4). */
const IN: Readonly<Record<OrderStatus, OrderState>> = {
  intended: START,
  sent: reach([sent]),
  ambiguous: reach([sent, ambiguous]),
  absent: reach([sent, ambiguous, provenAbsent]),
  accepted: reach([sent, accepted]),
  'partially-filled': reach([sent, accepted, fillTo('0.4', 'T1')]),
  'pending-cancel': reach([sent, accepted, fillTo('0.4', 'T1'), cancelSent]),
  filled: reach([sent, accepted, fillTo('1', 'T1')]),
  canceled: reach([sent, accepted, fillTo('0.4', 'T1'), cancelSent, canceledAt('0.4')]),
  expired: reach([sent, accepted, expiredAt('0')]),
  rejected: reach([sent, rejected]),
  failed: reach([sent, failed]),
};

/** The events of the table, each made for the state it is applied to (a fill adds 0.2 to what executed). */
const EVENTS = {
  sent: () => sent,
  accepted: () => accepted,
  ambiguous: () => ambiguous,
  found: () => found,
  'proven-absent': () => provenAbsent,
  fill: (state: OrderState) => fillTo(state.filled.plus('0.2').toFixed(), 'T-new', '0.2'),
  'cancel-sent': () => cancelSent,
  'cancel-missed': () => cancelMissed,
  'cancel-withdrawn': () => cancelWithdrawn,
  'final closed': (state: OrderState) => closedAt(state.filled.toFixed()),
  'final canceled': (state: OrderState) => canceledAt(state.filled.toFixed()),
  expired: (state: OrderState) => expiredAt(state.filled.toFixed()),
  rejected: () => rejected,
  failed: () => failed,
} satisfies Record<string, (state: OrderState) => LifecycleEvent>;

type EventName = keyof typeof EVENTS;

/** `invalid`, `ignored`, or `→ <next status> [reports]`. */
const outcome = (step: Transition): string =>
  step.kind === 'moved' ? `→ ${step.state.status} [${step.reports.map((r) => r.status).join(' ')}]` : step.kind;

const I = 'invalid';
const G = 'ignored';

/**
 * The whole machine: every (status, event) pair and what it must give. A row not listed here does not exist.
 */
const TABLE: Readonly<Record<OrderStatus, Readonly<Record<EventName, string>>>> = {
  intended: {
    sent: '→ sent [PENDING_NEW]', accepted: I, ambiguous: I, found: I, 'proven-absent': I, fill: I, 'cancel-sent': I,
    'cancel-missed': I, 'cancel-withdrawn': I, 'final closed': I, 'final canceled': I, expired: I, rejected: '→ rejected [REJECTED]', failed: '→ failed [ERROR]',
  },
  sent: {
    sent: '→ sent []', accepted: '→ accepted [NEW]', ambiguous: '→ ambiguous [UNKNOWN]', found: '→ accepted [NEW]',
    'proven-absent': '→ absent []', fill: '→ partially-filled [NEW PARTIALLY_FILLED]', 'cancel-sent': I, 'cancel-missed': I, 'cancel-withdrawn': I,
    'final closed': I, 'final canceled': I, expired: I, rejected: '→ rejected [REJECTED]', failed: '→ failed [ERROR]',
  },
  ambiguous: {
    sent: I, accepted: '→ accepted [NEW]', ambiguous: I, found: '→ accepted [NEW]', 'proven-absent': '→ absent []',
    fill: '→ partially-filled [NEW PARTIALLY_FILLED]', 'cancel-sent': I, 'cancel-missed': I, 'cancel-withdrawn': I, 'final closed': I, 'final canceled': I,
    expired: I, rejected: I, failed: I,
  },
  absent: {
    sent: '→ sent []', accepted: I, ambiguous: I, found: I, 'proven-absent': I, fill: I, 'cancel-sent': I, 'cancel-missed': I, 'cancel-withdrawn': I,
    'final closed': I, 'final canceled': I, expired: I, rejected: '→ rejected [REJECTED]', failed: '→ failed [ERROR]',
  },
  accepted: {
    sent: I, accepted: G, ambiguous: I, found: G, 'proven-absent': I, fill: '→ partially-filled [PARTIALLY_FILLED]',
    'cancel-sent': '→ pending-cancel [PENDING_CANCEL]', 'cancel-missed': I, 'cancel-withdrawn': G, 'final closed': I, 'final canceled': '→ canceled [CANCELED]',
    expired: '→ expired [EXPIRED]', rejected: I, failed: I,
  },
  'partially-filled': {
    sent: I, accepted: G, ambiguous: I, found: G, 'proven-absent': I, fill: '→ partially-filled [PARTIALLY_FILLED]',
    'cancel-sent': '→ pending-cancel [PENDING_CANCEL]', 'cancel-missed': I, 'cancel-withdrawn': G, 'final closed': '→ filled [FILLED]',
    'final canceled': '→ canceled [CANCELED]', expired: '→ expired [EXPIRED]', rejected: I, failed: I,
  },
  'pending-cancel': {
    sent: I, accepted: G, ambiguous: I, found: G, 'proven-absent': I, fill: '→ pending-cancel [PARTIALLY_FILLED]', 'cancel-sent': G,
    'cancel-missed': '→ pending-cancel []', 'cancel-withdrawn': '→ partially-filled []', 'final closed': '→ filled [FILLED]', 'final canceled': '→ canceled [CANCELED]',
    expired: '→ expired [EXPIRED]', rejected: I, failed: I,
  },
  filled: {
    sent: I, accepted: G, ambiguous: I, found: G, 'proven-absent': I, fill: I, 'cancel-sent': G, 'cancel-missed': G, 'cancel-withdrawn': G,
    'final closed': G, 'final canceled': I, expired: I, rejected: I, failed: I,
  },
  canceled: {
    sent: I, accepted: G, ambiguous: I, found: G, 'proven-absent': I, fill: I, 'cancel-sent': G, 'cancel-missed': G, 'cancel-withdrawn': G,
    'final closed': I, 'final canceled': G, expired: I, rejected: I, failed: I,
  },
  expired: {
    sent: I, accepted: G, ambiguous: I, found: G, 'proven-absent': I, fill: I, 'cancel-sent': G, 'cancel-missed': G, 'cancel-withdrawn': G,
    'final closed': I, 'final canceled': I, expired: G, rejected: I, failed: I,
  },
  rejected: {
    sent: I, accepted: I, ambiguous: I, found: I, 'proven-absent': I, fill: I, 'cancel-sent': I, 'cancel-missed': I, 'cancel-withdrawn': I,
    'final closed': I, 'final canceled': I, expired: I, rejected: I, failed: I,
  },
  failed: {
    sent: I, accepted: I, ambiguous: I, found: I, 'proven-absent': I, fill: I, 'cancel-sent': I, 'cancel-missed': I, 'cancel-withdrawn': I,
    'final closed': I, 'final canceled': I, expired: I, rejected: I, failed: I,
  },
};

const ROWS = (Object.keys(TABLE) as OrderStatus[]).flatMap((status) =>
  (Object.keys(EVENTS) as EventName[]).map((event) => [status, event, TABLE[status][event]] as const),
);

describe('transition: the table', () => {
  it('has a row for every status and every event', () => {
    expect(ROWS).toHaveLength(12 * 14);
    expect(Object.keys(IN).map((status) => IN[status as OrderStatus].status)).toEqual(Object.keys(IN));
  });

  it.each(ROWS)('%s + %s gives %s', (status, event, expected) => {
    const state = IN[status];
    expect(outcome(transition(state, EVENTS[event](state)))).toBe(expected);
  });

  it('leaves the state untouched on every ignored and invalid row', () => {
    for (const [status, event, expected] of ROWS) {
      if (expected.startsWith('→')) continue;
      const state = IN[status];
      expect(transition(state, EVENTS[event](state)).state).toBe(state);
    }
  });
});

describe('transition: what the reports say', () => {
  it('reports NEW with the txid on acceptance', () => {
    const step = transition(IN.sent, accepted);
    expect(step.kind === 'moved' && step.reports[0]).toMatchObject({ status: 'NEW', exchangeOrderId: TXID, quantityFilled: d(0) });
  });

  it('reports each fill increment with its price, the cumulative volume, the average price and the fees', () => {
    const folded = foldEvents(START, [sent, accepted, fillTo('0.4', 'T1', '0.4', '100'), fillTo('1', 'T2', '0.6', '110')]);
    expect(folded.kind).toBe('folded');
    if (folded.kind !== 'folded') return;
    const [, , first, last] = folded.reports;
    expect(first).toMatchObject({ status: 'PARTIALLY_FILLED', lastFillQuantity: d('0.4'), lastFillPrice: d('100'), quantityFilled: d('0.4') });
    expect(last).toMatchObject({ status: 'FILLED', lastFillQuantity: d('0.6'), lastFillPrice: d('110'), quantityFilled: d('1') });
    expect(last?.averageFillPrice?.toFixed()).toBe('106');
    expect(last?.commission.toFixed()).toBe('0.2');
    expect(folded.state.status).toBe('filled');
  });

  it('says a cancel took when it did: "cancelled: timeout"', () => {
    const step = transition(IN['pending-cancel'], canceledAt('0.4', 'User requested'));
    expect(step.kind === 'moved' && step.reports[0]?.reason).toBe('cancelled: timeout');
  });

  it('says "cancelled outside the handler" with the exchange reason when the cancel was answered unknown order', () => {
    const missed = reach([sent, accepted, cancelSent, cancelMissed]);
    expect(missed.cancelMissed).toBe(true);
    const step = transition(missed, canceledAt('0', 'Cancelled by the trader'));
    expect(step.kind === 'moved' && step.reports[0]?.reason).toBe('cancelled outside the handler (Cancelled by the trader)');
  });

  it("keeps the exchange's reason for an order cancelled elsewhere without a cancel of the handler's", () => {
    const step = transition(IN.accepted, canceledAt('0', 'Self trade prevention'));
    expect(step.kind === 'moved' && step.reports[0]?.reason).toBe('Self trade prevention');
  });

  it('reports PENDING_CANCEL with the cancel reason', () => {
    const step = transition(IN.accepted, cancelSent);
    expect(step.kind === 'moved' && step.reports[0]).toMatchObject({ status: 'PENDING_CANCEL', reason: 'cancel: timeout', exchangeOrderId: TXID });
  });

  it('counts the attempts and keeps the latest deadline across a retry and a resend', () => {
    const state = reach([sent, { kind: 'sent', deadline: 3_000 }, ambiguous, provenAbsent, { kind: 'sent', deadline: 9_000 }]);
    expect(state).toMatchObject({ status: 'sent', attempts: 3, deadline: 9_000 });
  });
});

describe('transition: odd but real', () => {
  it('reports a fill after a cancel was sent and stays pending-cancel', () => {
    const step = transition(IN['pending-cancel'], fillTo('0.7', 'T2', '0.3'));
    expect(outcome(step)).toBe('→ pending-cancel [PARTIALLY_FILLED]');
    expect(step.state.filled.toFixed()).toBe('0.7');
  });

  it('is FILLED when a fill after the cancel completes the order, and the cancel answered later changes nothing', () => {
    const filled = transition(IN['pending-cancel'], fillTo('1', 'T2', '0.6'));
    expect(outcome(filled)).toBe('→ filled [FILLED]');
    expect(outcome(transition(filled.state, cancelMissed))).toBe('ignored');
    expect(outcome(transition(filled.state, closedAt('1')))).toBe('ignored');
  });

  it('ignores an acceptance seen after a lookup found the order', () => {
    const adopted = reach([sent, ambiguous, found]);
    const step = transition(adopted, accepted);
    expect(step).toEqual({ kind: 'ignored', state: adopted, why: 'the order is already known' });
  });

  it('refuses an acceptance that names another txid: two orders for one client order id', () => {
    const step = transition(IN.accepted, { kind: 'accepted', txid: 'OTHER-TXID' });
    expect(step.kind).toBe('invalid');
    expect(step.kind === 'invalid' && step.reason).toContain('two orders for one client order id');
  });

  it('ignores a duplicate fill by trade id, even when the source claims more volume', () => {
    const step = transition(IN['partially-filled'], fillTo('0.8', 'T1'));
    expect(step).toEqual({ kind: 'ignored', state: IN['partially-filled'], why: 'trade T1 already counted' });
  });

  it('never rolls back on a REST snapshot older than what was seen (lower executed volume, or a bare acceptance)', () => {
    const state = reach([sent, accepted, fillTo('0.4', 'T1'), fillTo('0.6', 'T2', '0.2')]);
    expect(transition(state, fillTo('0.4', `${TXID}/0.4`)).kind).toBe('ignored');
    expect(transition(state, accepted).kind).toBe('ignored');
    expect(state.filled.toFixed()).toBe('0.6');
  });

  it('takes a socket fill before the AddOrder answer as the acceptance: NEW, then the fill', () => {
    const step = transition(IN.sent, fillTo('0.5', 'T1'));
    expect(outcome(step)).toBe('→ partially-filled [NEW PARTIALLY_FILLED]');
    expect(step.state.txid).toBe(TXID);
  });

  it('reports the growth of executed volume when a source skipped an execution', () => {
    const step = transition(IN['partially-filled'], fillTo('0.9', 'T3', '0.2'));
    expect(step.kind === 'moved' && step.reports[0]?.lastFillQuantity?.toFixed()).toBe('0.5');
  });

  it('ignores a fill repeated after the order ended, by trade id or by an older executed volume', () => {
    expect(transition(IN.filled, fillTo('1', 'T1'))).toEqual({ kind: 'ignored', state: IN.filled, why: 'trade T1 already counted' });
    expect(transition(IN.canceled, fillTo('0.4', `${TXID}/0.4`))).toEqual({
      kind: 'ignored',
      state: IN.canceled,
      why: 'executed volume already at 0.4',
    });
  });

  it('says how an ambiguous placement was settled: by a late acceptance or by the lookup', () => {
    const late = transition(IN.ambiguous, accepted);
    expect(late.kind === 'moved' && late.reports[0]?.reason).toBe('accepted after the placement looked ambiguous');
    const looked = transition(IN.ambiguous, found);
    expect(looked.kind === 'moved' && looked.reports[0]?.reason).toBe('found by its client order id after an ambiguous placement');
  });

  it('settles an order still `sent` after a restart by lookup: found, or proven absent and sent again', () => {
    expect(outcome(transition(IN.sent, found))).toBe('→ accepted [NEW]');
    expect(outcome(transition(reach([sent, provenAbsent]), sent))).toBe('→ sent []');
  });
});

describe('transition: refusals that protect the account', () => {
  it('never rejects an ambiguous placement while it may be live', () => {
    const step = transition(IN.ambiguous, rejected);
    expect(step.kind === 'invalid' && step.reason).toBe('the order may be live: only a lookup (found or proven absent) settles an ambiguous placement');
  });

  it('never sends again before absence is proven', () => {
    const step = transition(IN.ambiguous, sent);
    expect(step.kind === 'invalid' && step.reason).toBe('never blind-retry a write: resend only once absence is proven');
  });

  it('refuses a fill larger than the order', () => {
    const step = transition(IN['partially-filled'], fillTo('1.2', 'T9', '0.8'));
    expect(step.kind === 'invalid' && step.reason).toBe('executed 1.2 exceeds the 1 ordered');
  });

  it('refuses a final state that shows fills not yet counted', () => {
    const step = transition(IN['partially-filled'], canceledAt('0.5'));
    expect(step.kind === 'invalid' && step.reason).toBe('the exchange shows 0.5 executed, the fills seen 0.4: the missing fills come first');
  });

  it('refuses a final state that shows less than was already filled', () => {
    const step = transition(IN['partially-filled'], expiredAt('0.1'));
    expect(step.kind === 'invalid' && step.reason).toBe('the exchange shows 0.1 executed, less than the 0.4 already filled');
  });

  it('refuses a fill that executes nothing before acceptance, leaving the order as it was', () => {
    const step = transition(IN.sent, fillTo('0', 'T0'));
    expect(step.kind === 'invalid' && step.reason).toBe('a fill that executes nothing: 0 executed, 0 already filled');
    expect(step.state).toBe(IN.sent);
  });

  it('refuses an order closed with nothing executed', () => {
    const step = transition(IN.accepted, closedAt('0'));
    expect(step).toEqual({ kind: 'invalid', state: IN.accepted, event: closedAt('0'), reason: 'closed with nothing executed' });
  });

  it('refuses the end told again with another executed volume', () => {
    const step = transition(IN.canceled, canceledAt('0.2'));
    expect(step.kind === 'invalid' && step.reason).toBe('already canceled with 0.4 executed');
  });

  it('names the status and the event of every other combination', () => {
    const step = transition(IN.rejected, accepted);
    expect(step).toEqual({ kind: 'invalid', state: IN.rejected, event: accepted, reason: 'accepted cannot happen to an order that is rejected' });
  });
});

describe('transition: exactly one final status per order', () => {
  /**
   * Every path of up to DEPTH events from the start, the events made for the state they meet (duplicates and
   * stale fills included); a path ends at an invalid event, as a stream would refuse it.
   */
  const DEPTH = 6;
  const ALPHABET: readonly ((state: OrderState) => LifecycleEvent)[] = [
    ...Object.values(EVENTS),
    (state) => fillTo(state.quantityOrdered.toFixed(), 'T-all', state.quantityOrdered.minus(state.filled).toFixed()),
    (state) => fillTo(state.filled.plus('0.2').toFixed(), 'T-new'),
    (state) => fillTo(state.filled.toFixed(), 'T-stale'),
  ];

  function walk(state: OrderState, finals: number, filledReported: Decimal, depth: number, visit: (paths: number) => void): void {
    visit(1);
    if (depth === 0) return;
    for (const make of ALPHABET) {
      const step = transition(state, make(state));
      if (step.kind === 'invalid') continue;
      if (step.kind === 'ignored') {
        expect(step.state).toBe(state);
        continue;
      }
      if (isFinalOrderStatus(state.status)) throw new Error(`${state.status} moved`);
      const finalReports = step.reports.filter((r) => isFinalStatus(r.status)).length;
      const increments = step.reports.reduce((sum, r) => sum.plus(r.lastFillQuantity ?? 0), d(0));
      expect(finals + finalReports).toBeLessThanOrEqual(1);
      // A final report is the last report of its transition, and a final status comes with one.
      if (finalReports === 1) expect(isFinalStatus(step.reports[step.reports.length - 1]?.status ?? 'NEW')).toBe(true);
      expect(isFinalOrderStatus(step.state.status)).toBe(finals + finalReports === 1);
      // Every fill increment reported once: the increments add up to what the state counts.
      expect(filledReported.plus(increments).eq(step.state.filled)).toBe(true);
      walk(step.state, finals + finalReports, filledReported.plus(increments), depth - 1, visit);
    }
  }

  it('holds on every path the machine allows, and no final status ever moves', () => {
    let paths = 0;
    walk(START, 0, d(0), DEPTH, (n) => (paths += n));
    // A guard against a walk that silently explored nothing.
    expect(paths).toBeGreaterThan(1_000);
  });
});

describe('transition: folded over an event stream', () => {
  it('derives the report statuses of an order whose cancel raced a fill', () => {
    marbles(({ cold, expectObservable, expectSubscriptions }) => {
      const events = cold<LifecycleEvent>('-s-a-f-c-g-x-|', {
        s: sent,
        a: accepted,
        f: fillTo('0.4', 'T1'),
        c: cancelSent,
        g: fillTo('0.4', 'T1'), // the same fill again, from REST
        x: canceledAt('0.4'),
      });
      const expected = '                  -p-n-f-c---x-|';
      const reports = events.pipe(
        scan((step: Transition, event: LifecycleEvent) => transition(step.state, event), { kind: 'moved', state: START, reports: [] }),
        concatMap((step) => from(step.kind === 'moved' ? step.reports : [])),
        map((r) => `${r.status}${r.reason ? ` (${r.reason})` : ''}`),
      );
      expectObservable(reports).toBe(expected, {
        p: 'PENDING_NEW',
        n: 'NEW',
        f: 'PARTIALLY_FILLED',
        c: 'PENDING_CANCEL (cancel: timeout)',
        x: 'CANCELED (cancelled: timeout)',
      });
      expectSubscriptions(events.subscriptions).toBe('^------------!');
    });
  });

  it('derives UNKNOWN then NEW for an ambiguous placement found by lookup, then the fill and one FILLED', () => {
    marbles(({ cold, expectObservable }) => {
      const events = cold<LifecycleEvent>('-s-u-f-a-t-x-|', {
        s: sent,
        u: ambiguous,
        f: found,
        a: accepted, // the late answer: the same order
        t: fillTo('1', 'T1'),
        x: closedAt('1'),
      });
      const expected = '                  -p-u-n---t---|';
      const reports = events.pipe(
        scan((step: Transition, event: LifecycleEvent) => transition(step.state, event), { kind: 'moved', state: START, reports: [] }),
        concatMap((step) => from(step.kind === 'moved' ? step.reports : [])),
        map((r) => r.status),
      );
      expectObservable(reports).toBe(expected, { p: 'PENDING_NEW', u: 'UNKNOWN', n: 'NEW', t: 'FILLED' });
    });
  });
});
