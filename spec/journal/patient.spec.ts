import { describe, expect, it } from '@jest/globals';
import { Decimal } from 'decimal.js';
import { type Observable, defer, firstValueFrom, map, switchMap, throwError } from 'rxjs';
import { accountFingerprint } from '../../src/journal/account';
import { openMemoryJournal } from '../../src/journal/memory';
import { type PatientJournalOptions, patientJournal } from '../../src/journal/patient';
import { type Journal, JournalError, type JournalErrorKind, type OrderIntentRecord, type SignalRecord } from '../../src/model/journal';
import { marbles } from '../operators/support';

const ACCOUNT = accountFingerprint('API-KEY-OF-ACCOUNT-A');
const d = (value: string): Decimal => new Decimal(value);

const signal = (signalId: string, overrides: Partial<SignalRecord> = {}): SignalRecord => ({
  signalId,
  receivedAt: 1_000,
  pair: 'XXBTZUSD',
  side: 'buy',
  orderType: 'limit',
  quantity: d('0.0123'),
  limitPrice: d('59000.1'),
  stopLoss: d('57000'),
  takeProfit: null,
  timeoutMs: null,
  ...overrides,
});

const intent = (clientOrderId: string, overrides: Partial<OrderIntentRecord> = {}): OrderIntentRecord => ({
  clientOrderId,
  signalId: 's1',
  role: 'entry',
  parentClientOrderId: null,
  pair: 'XXBTZUSD',
  side: 'buy',
  orderType: 'limit',
  volume: d('1'),
  price: d('59000.1'),
  price2: null,
  deadlineMs: 10_000,
  duties: { stopLoss: d('57000'), takeProfit: null, limitTimeoutMs: null, protectionMode: 'stop-resting' },
  createdAt: 1_001,
  ...overrides,
});

/**
 * What one call to the store does: `ok` goes through; `lost` fails with `storage` before anything is written
 * (the server was unreachable); `ambiguous` writes, then fails with `storage` (the connection dropped after the
 * commit, before the answer); any other kind fails with that kind and writes nothing.
 */
type Fault = 'ok' | 'lost' | 'ambiguous' | Exclude<JournalErrorKind, 'storage'>;

const storageDown = (): JournalError => new JournalError('storage', 'journal write failed: connect ECONNREFUSED 127.0.0.1:5432');

/**
 * The memory journal behind a plan of faults: each call takes the next fault of the plan (then `ok` for ever),
 * and every attempt is noted with the time it was made.
 */
function faulty(journal: Journal, plan: Fault[], now: () => number): { journal: Journal; attempts: string[] } {
  const attempts: string[] = [];
  const inject = <T>(what: string, call: () => Observable<T>): Observable<T> =>
    defer(() => {
      const fault = plan.shift() ?? 'ok';
      attempts.push(`${now()}:${what}:${fault}`);
      if (fault === 'ok') return call();
      if (fault === 'ambiguous') return call().pipe(switchMap(() => throwError(storageDown)));
      if (fault === 'lost') return throwError(storageDown);
      return throwError(() => new JournalError(fault, `journal ${what} refused (${fault})`));
    });
  return {
    attempts,
    journal: {
      account: journal.account,
      recordSignal: (s) => inject('recordSignal', () => journal.recordSignal(s)),
      recordIntent: (i) => inject('recordIntent', () => journal.recordIntent(i)),
      recordTransition: (cid, event, at) => inject('recordTransition', () => journal.recordTransition(cid, event, at)),
      recordCloseCommand: (c) => inject('recordCloseCommand', () => journal.recordCloseCommand(c)),
      recordHalt: (h) => inject('recordHalt', () => journal.recordHalt(h)),
      recordRateCounters: (r) => inject('recordRateCounters', () => journal.recordRateCounters(r)),
      recordSignalOutcome: (o) => inject('recordSignalOutcome', () => journal.recordSignalOutcome(o)),
      recordForeignOrder: (o) => inject('recordForeignOrder', () => journal.recordForeignOrder(o)),
      signal: (id) => inject('signal', () => journal.signal(id)),
      order: (cid) => inject('order', () => journal.order(cid)),
      orders: () => inject('orders', () => journal.orders()),
      unresolvedOrders: () => inject('unresolvedOrders', () => journal.unresolvedOrders()),
      closeCommands: () => inject('closeCommands', () => journal.closeCommands()),
      lastHalt: () => inject('lastHalt', () => journal.lastHalt()),
      lastRateCounters: () => inject('lastRateCounters', () => journal.lastRateCounters()),
      signalsWithoutOrder: () => inject('signalsWithoutOrder', () => journal.signalsWithoutOrder()),
      close: () => journal.close(),
    },
  };
}

/** 10, 20, 40, 40 … ms between tries, no jitter: the retry times below are exact. */
const OPTIONS: PatientJournalOptions = { backoff: { initialDelayMs: 10, maxDelayMs: 40, multiplier: 2, jitter: 0 } };

describe('patientJournal', () => {
  it('waits out an unreachable store with backoff and answers once a write goes through', () => {
    marbles(({ expectObservable, scheduler }) => {
      const memory = openMemoryJournal({ account: ACCOUNT });
      const store = faulty(memory, ['lost', 'lost', 'lost', 'lost'], () => scheduler.now());
      const journal = patientJournal(store.journal, OPTIONS, scheduler);
      expectObservable(journal.recordSignal(signal('s1'))).toBe('110ms (r|)', { r: { kind: 'recorded', seq: 1 } });
      scheduler.flush();
      expect(store.attempts).toEqual(['0:recordSignal:lost', '10:recordSignal:lost', '30:recordSignal:lost', '70:recordSignal:lost', '110:recordSignal:ok']);
    });
  });

  it('tells of each wait before it begins', () => {
    marbles(({ scheduler }) => {
      const waits: string[] = [];
      const store = faulty(openMemoryJournal({ account: ACCOUNT }), ['lost', 'lost'], () => scheduler.now());
      const journal = patientJournal(store.journal, { ...OPTIONS, onRetry: (what, error, retry) => waits.push(`${scheduler.now()}:${what}#${retry}:${error.kind}`) }, scheduler);
      journal.recordHalt({ halted: true, at: 5 }).subscribe();
      scheduler.flush();
      expect(waits).toEqual(['0:recordHalt#1:storage', '10:recordHalt#2:storage']);
    });
  });

  it.each<[Exclude<JournalErrorKind, 'storage'>]>([['fenced'], ['misuse'], ['corrupt'], ['account-mismatch'], ['schema']])('does not retry a %s error: it goes through at once', (fault) => {
    marbles(({ expectObservable, scheduler }) => {
      const store = faulty(openMemoryJournal({ account: ACCOUNT }), [fault], () => scheduler.now());
      const journal = patientJournal(store.journal, OPTIONS, scheduler);
      const kinds = journal.recordSignal(signal('s1')).pipe(map((admission) => admission.kind));
      expectObservable(kinds).toBe('#', undefined, new JournalError(fault, `journal recordSignal refused (${fault})`));
      scheduler.flush();
      expect(store.attempts).toEqual([`0:recordSignal:${fault}`]);
    });
  });

  it('a fenced error after outages goes through at once: a deposed handler waits for nothing', () => {
    marbles(({ expectObservable, scheduler }) => {
      const store = faulty(openMemoryJournal({ account: ACCOUNT }), ['lost', 'fenced'], () => scheduler.now());
      const journal = patientJournal(store.journal, OPTIONS, scheduler);
      expectObservable(journal.recordIntent(intent('c1'))).toBe('10ms #', undefined, new JournalError('fenced', 'journal recordIntent refused (fenced)'));
    });
  });

  it('a signal committed before the connection dropped is recorded, with the seq of that commit, not a duplicate', () => {
    marbles(({ expectObservable, scheduler }) => {
      const memory = openMemoryJournal({ account: ACCOUNT });
      const store = faulty(memory, ['ambiguous'], () => scheduler.now());
      const journal = patientJournal(store.journal, OPTIONS, scheduler);
      expectObservable(journal.recordSignal(signal('s1'))).toBe('10ms (r|)', { r: { kind: 'recorded', seq: 1 } });
      scheduler.flush();
      expect(store.attempts).toEqual(['0:recordSignal:ambiguous', '10:recordSignal:ok']);
    });
  });

  it('a retry that finds another signal under the same id still answers duplicate', () => {
    marbles(({ expectObservable, scheduler }) => {
      const memory = openMemoryJournal({ account: ACCOUNT });
      const first = signal('s1', { receivedAt: 500 });
      memory.recordSignal(first).subscribe();
      const store = faulty(memory, ['lost'], () => scheduler.now());
      const journal = patientJournal(store.journal, OPTIONS, scheduler);
      expectObservable(journal.recordSignal(signal('s1')).pipe(map((a) => (a.kind === 'duplicate' ? `dup@${a.first.receivedAt}` : a.kind)))).toBe(
        '10ms (d|)',
        { d: 'dup@500' },
      );
    });
  });

  it('a redelivered signal answered at the first attempt stays a duplicate, even with the same fields', () => {
    marbles(({ expectObservable, scheduler }) => {
      const memory = openMemoryJournal({ account: ACCOUNT });
      memory.recordSignal(signal('s1')).subscribe();
      const journal = patientJournal(memory, OPTIONS, scheduler);
      expectObservable(journal.recordSignal(signal('s1')).pipe(map((a) => a.kind))).toBe('(d|)', { d: 'duplicate' });
    });
  });

  it('an intent committed before the connection dropped answers its seq instead of the second-intent misuse', () => {
    marbles(({ expectObservable, scheduler }) => {
      const memory = openMemoryJournal({ account: ACCOUNT });
      const store = faulty(memory, ['ambiguous'], () => scheduler.now());
      const journal = patientJournal(store.journal, OPTIONS, scheduler);
      expectObservable(journal.recordIntent(intent('c1'))).toBe('10ms (s|)', { s: { seq: 1 } });
      scheduler.flush();
      // The retry's misuse is checked against the journal: the second attempt, then the read of the order.
      expect(store.attempts).toEqual(['0:recordIntent:ambiguous', '10:recordIntent:ok', '10:order:ok']);
    });
  });

  it('a retry that finds a different intent under the client order id is still a misuse', () => {
    marbles(({ expectObservable, scheduler }) => {
      const memory = openMemoryJournal({ account: ACCOUNT });
      memory.recordIntent(intent('c1', { volume: d('2') })).subscribe();
      const store = faulty(memory, ['lost'], () => scheduler.now());
      const journal = patientJournal(store.journal, OPTIONS, scheduler);
      expectObservable(journal.recordIntent(intent('c1'))).toBe('10ms #', undefined, new JournalError('misuse', 'an intent for client order id c1 is already journaled'));
    });
  });

  it('a second intent at the first attempt is a misuse, not taken for a retry', () => {
    marbles(({ expectObservable, scheduler }) => {
      const memory = openMemoryJournal({ account: ACCOUNT });
      memory.recordIntent(intent('c1')).subscribe();
      const journal = patientJournal(memory, OPTIONS, scheduler);
      expectObservable(journal.recordIntent(intent('c1'))).toBe('#', undefined, new JournalError('misuse', 'an intent for client order id c1 is already journaled'));
    });
  });

  it('a close command committed before the connection dropped is recorded', () => {
    marbles(({ expectObservable, scheduler }) => {
      const store = faulty(openMemoryJournal({ account: ACCOUNT }), ['lost', 'ambiguous'], () => scheduler.now());
      const journal = patientJournal(store.journal, OPTIONS, scheduler);
      const command = { commandId: 'k1', pair: 'XXBTZUSD', quantity: null, receivedAt: 2_000 };
      expectObservable(journal.recordCloseCommand(command)).toBe('30ms (r|)', { r: { kind: 'recorded', seq: 1 } });
    });
  });

  it("a signal's outcome committed before the connection dropped is recorded, not a duplicate", () => {
    marbles(({ expectObservable, scheduler }) => {
      const memory = openMemoryJournal({ account: ACCOUNT });
      memory.recordSignal(signal('s1')).subscribe();
      const store = faulty(memory, ['ambiguous'], () => scheduler.now());
      const journal = patientJournal(store.journal, OPTIONS, scheduler);
      const outcome = { signalId: 's1', status: 'REJECTED' as const, reason: 'not placed: nothing was sent for it', at: 3_000 };
      expectObservable(journal.recordSignalOutcome(outcome)).toBe('10ms (r|)', { r: { kind: 'recorded', seq: 2 } });
    });
  });

  it('a transition committed before the connection dropped answers as that commit would have, and is journaled once', async () => {
    const memory = openMemoryJournal({ account: ACCOUNT });
    await firstValueFrom(memory.recordIntent(intent('c1')));
    await firstValueFrom(memory.recordTransition('c1', { kind: 'sent', deadline: 9_000 }, 4));
    marbles(({ expectObservable, scheduler }) => {
      const store = faulty(memory, ['ambiguous'], () => scheduler.now());
      const journal = patientJournal(store.journal, OPTIONS, scheduler);
      // A second `sent` is a real resend and would move the order again: the retry must not write it twice.
      const answer = journal.recordTransition('c1', { kind: 'sent', deadline: 9_500 }, 5).pipe(map((step) => (step.kind === 'moved' ? `moved#${step.seq}` : step.kind)));
      expectObservable(answer).toBe('10ms (m|)', { m: 'moved#3' });
    });
    expect((await firstValueFrom(memory.order('c1')))?.events.map((e) => `${e.event.kind}@${e.at}`)).toEqual(['sent@4', 'sent@5']);
  });

  it('a transition a retry does not find journaled is written then', async () => {
    const memory = openMemoryJournal({ account: ACCOUNT });
    await firstValueFrom(memory.recordIntent(intent('c1')));
    marbles(({ expectObservable, scheduler }) => {
      const store = faulty(memory, ['lost'], () => scheduler.now());
      const journal = patientJournal(store.journal, OPTIONS, scheduler);
      expectObservable(journal.recordTransition('c1', { kind: 'sent', deadline: 9_000 }, 5).pipe(map((step) => step.kind))).toBe('10ms (m|)', { m: 'moved' });
      scheduler.flush();
      expect(store.attempts).toEqual(['0:recordTransition:lost', '10:order:ok', '10:recordTransition:ok']);
    });
  });

  it('reads wait for the store too', () => {
    marbles(({ expectObservable, scheduler }) => {
      const store = faulty(openMemoryJournal({ account: ACCOUNT }), ['lost'], () => scheduler.now());
      const journal = patientJournal(store.journal, OPTIONS, scheduler);
      expectObservable(journal.unresolvedOrders()).toBe('10ms (o|)', { o: [] });
    });
  });

  it('stops waiting when unsubscribed: no attempt after that', () => {
    marbles(({ expectObservable, scheduler }) => {
      const store = faulty(openMemoryJournal({ account: ACCOUNT }), ['lost', 'lost', 'lost'], () => scheduler.now());
      const journal = patientJournal(store.journal, OPTIONS, scheduler);
      expectObservable(journal.recordSignal(signal('s1')), '^ 20ms !').toBe('');
      scheduler.flush();
      expect(store.attempts).toEqual(['0:recordSignal:lost', '10:recordSignal:lost']);
    });
  });

  it('once closed, a storage failure goes through instead of being waited out', () => {
    marbles(({ expectObservable, scheduler }) => {
      const store = faulty(openMemoryJournal({ account: ACCOUNT }), ['lost'], () => scheduler.now());
      const journal = patientJournal(store.journal, OPTIONS, scheduler);
      journal.close().subscribe();
      expectObservable(journal.recordSignal(signal('s1'))).toBe('#', undefined, storageDown());
    });
  });
});
