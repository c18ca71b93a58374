import { describe, expect, it } from '@jest/globals';
import { Decimal } from 'decimal.js';
import { EMPTY, NEVER, type Observable, of } from 'rxjs';
import { AckLedger, type RunInput } from '../../src/bus/ack-ledger';
import { type Delivery } from '../../src/bus/bus-inputs';
import { parseInputLine } from '../../src/cli/input';
import { type JournaledCloseCommand, type JournaledSignal } from '../../src/model/journal';
import { type ExecutionReport, type ReportStatus } from '../../src/model/report';

/**
 * The ledger alone (no Redis, no handler): which entries are released to `ack`, and when, as the journal answers
 * and the reports are written.
 */

const signalLine = (signalId: string): string => JSON.stringify({ signalId, pair: 'BTC/USD', side: 'buy', orderType: 'market', quantity: '0.01' });

let sequence = 0;
const entry = (line: string, delivery: Delivery = 'new'): RunInput => {
  sequence += 1;
  return { entryId: `1-${sequence}`, delivery, value: parseInputLine(line, sequence), ack: () => EMPTY };
};

const report = (signalId: string, status: ReportStatus, clientOrderId: string | null, role: ExecutionReport['role'] = 'entry'): ExecutionReport => ({
  reportId: `r-${signalId}-${status}`,
  timestamp: 0,
  signalId,
  clientOrderId,
  exchangeOrderId: null,
  pair: 'BTC/USD',
  role,
  side: 'buy',
  orderType: 'market',
  status,
  quantityOrdered: new Decimal('0.01'),
  quantityFilled: new Decimal(0),
  lastFillQuantity: null,
  lastFillPrice: null,
  averageFillPrice: null,
  limitPrice: null,
  stopPrice: null,
  commission: new Decimal(0),
  commissionAsset: null,
  reason: 'r',
});

interface Harness {
  readonly ledger: AckLedger;
  /** Entry ids released to `ack`, in order. */
  readonly acked: string[];
  readonly delivered: string[];
  readonly skips: RunInput[];
}

function harness(options: { journaled?: readonly string[]; journaledHalt?: boolean; lookup?: Observable<never> } = {}): Harness {
  const acked: string[] = [];
  const delivered: string[] = [];
  const skips: RunInput[] = [];
  const journaled = new Set(options.journaled ?? []);
  const ledger = new AckLedger({
    journal: {
      signal: (signalId) => options.lookup ?? of(journaled.has(signalId) ? ({ signalId } as JournaledSignal) : null),
      closeCommands: () => options.lookup ?? of([...journaled].map((commandId) => ({ commandId }) as JournaledCloseCommand)),
    },
    deliver: (input) => delivered.push(input.entryId),
    writeSkip: (input) => skips.push(input),
    ack: (input) => acked.push(input.entryId),
    log: { debug: () => undefined, info: () => undefined, warn: () => undefined, error: () => undefined },
    journaledHalt: options.journaledHalt ?? false,
  });
  return { ledger, acked, delivered, skips };
}

describe('AckLedger', () => {
  it('releases a signal once its recordSignal answered (recorded or duplicate), never on a failed write', () => {
    const { ledger, acked, delivered } = harness();
    const [a, b, c] = [entry(signalLine('a')), entry(signalLine('b')), entry(signalLine('c'))];
    for (const input of [a, b, c]) ledger.arrive(input);
    expect(delivered).toEqual([a.entryId, b.entryId, c.entryId]);
    expect(acked).toEqual([]);
    ledger.answered({ kind: 'signal', id: 'b', outcome: 'duplicate' });
    ledger.answered({ kind: 'signal', id: 'a', outcome: 'recorded' });
    ledger.answered({ kind: 'signal', id: 'c', outcome: 'failed' });
    // c's rejection (`journal: …; not sent`) is written: still not acknowledged, it is delivered again at the next start.
    ledger.reportWritten(report('c', 'REJECTED', null));
    expect(acked).toEqual([b.entryId, a.entryId]);
    expect(ledger.close()).toMatchObject({ read: 3, released: 2, waiting: 0 });
  });

  it('releases a signal refused before journaling once its REJECTED report is written, not on other reports', () => {
    const { ledger, acked } = harness();
    const a = entry(signalLine('a'));
    ledger.arrive(a);
    ledger.reportWritten(report('a', 'PENDING_NEW', 'cl-1'));
    ledger.reportWritten(report('a', 'REJECTED', null, 'close'));
    expect(acked).toEqual([]);
    ledger.reportWritten(report('a', 'REJECTED', null));
    expect(acked).toEqual([a.entryId]);
  });

  it('releases a close command on its recordCloseCommand answer or its REJECTED close report', () => {
    const { ledger, acked } = harness();
    const [c1, c2] = [entry('{"type":"close","commandId":"c1","pair":"BTC/USD"}'), entry('{"type":"close","commandId":"c2","pair":"NOPE"}')];
    ledger.arrive(c1);
    ledger.arrive(c2);
    ledger.answered({ kind: 'signal', id: 'c1', outcome: 'recorded' });
    expect(acked).toEqual([]);
    ledger.answered({ kind: 'close', id: 'c1', outcome: 'recorded' });
    ledger.reportWritten(report('c2', 'REJECTED', null, 'close'));
    expect(acked).toEqual([c1.entryId, c2.entryId]);
  });

  it('holds a second entry with the same id until the first is settled, so an answer is never taken for the wrong one', () => {
    const { ledger, acked, delivered } = harness();
    const [first, again] = [entry(signalLine('a')), entry(signalLine('a'))];
    ledger.arrive(first);
    ledger.arrive(again);
    expect(delivered).toEqual([first.entryId]);
    // The first is refused before journaling (HALT): its REJECTED releases it, and only then does the second go on.
    ledger.reportWritten(report('a', 'REJECTED', null));
    expect(acked).toEqual([first.entryId]);
    expect(delivered).toEqual([first.entryId, again.entryId]);
    ledger.answered({ kind: 'signal', id: 'a', outcome: 'recorded' });
    expect(acked).toEqual([first.entryId, again.entryId]);
  });

  it('releases a re-delivered entry whose id is journaled without handing it over; a new one is handed over', () => {
    const { ledger, acked, delivered } = harness({ journaled: ['a', 'c1'] });
    const [pending, claimed, fresh, other] = [
      entry(signalLine('a'), 'pending'),
      entry('{"type":"close","commandId":"c1","pair":"BTC/USD"}', 'claimed'),
      entry(signalLine('a')),
      entry(signalLine('b'), 'pending'),
    ];
    for (const input of [pending, claimed, fresh, other]) ledger.arrive(input);
    expect(acked).toEqual([pending.entryId, claimed.entryId]);
    expect(delivered).toEqual([fresh.entryId, other.entryId]);
    expect(ledger.close()).toMatchObject({ dropped: 2, waiting: 2 });
  });

  it('leaves an entry whose journal lookup has not answered unacknowledged at close, and hands nothing over after it', () => {
    const { ledger, acked, delivered } = harness({ lookup: NEVER });
    ledger.arrive(entry(signalLine('a'), 'pending'));
    expect(ledger.close()).toMatchObject({ read: 1, waiting: 1 });
    ledger.arrive(entry(signalLine('b')));
    expect([acked, delivered]).toEqual([[], []]);
  });

  it('releases HALT lines once the journal holds the input’s HALT state: at once when it already does', () => {
    const { ledger, acked } = harness({ journaledHalt: true });
    const halt = (halted: boolean): RunInput => entry(`{"type":"halt","halted":${String(halted)}}`);
    const [on, off, onAgain, offAgain] = [halt(true), halt(false), halt(true), halt(false)];
    ledger.arrive(on);
    expect(acked).toEqual([on.entryId]);
    expect(ledger.haltedNow).toBe(true);
    ledger.arrive(off);
    expect(acked).toEqual([on.entryId]);
    // Back to what the journal holds: the line in between is superseded, and a restart starts halted as the last line says.
    ledger.arrive(onAgain);
    expect(acked).toEqual([on.entryId, off.entryId, onAgain.entryId]);
    ledger.arrive(offAgain);
    expect(ledger.haltedNow).toBe(false);
    ledger.answered({ kind: 'halt', halted: false, outcome: 'failed' });
    expect(acked).toHaveLength(3);
    ledger.answered({ kind: 'halt', halted: false, outcome: 'recorded' });
    expect(acked).toEqual([on.entryId, off.entryId, onAgain.entryId, offAgain.entryId]);
  });

  it('releases a malformed line once its skip report is written; an unreadable halt line also waits for HALT to be journaled', () => {
    const { ledger, acked, skips } = harness();
    const [bad, unreadable, blank] = [entry('not json'), entry('{"type":"halt","halted":"yes"}'), entry('# a comment')];
    ledger.arrive(bad);
    ledger.arrive(unreadable);
    ledger.arrive(blank);
    expect(acked).toEqual([blank.entryId]);
    expect(skips.map((input) => input.entryId)).toEqual([bad.entryId, unreadable.entryId]);
    ledger.skipWritten(unreadable);
    ledger.skipWritten(bad);
    expect(acked).toEqual([blank.entryId, bad.entryId]);
    expect(ledger.haltedNow).toBe(true);
    ledger.answered({ kind: 'halt', halted: true, outcome: 'recorded' });
    expect(acked).toEqual([blank.entryId, bad.entryId, unreadable.entryId]);
  });
});
