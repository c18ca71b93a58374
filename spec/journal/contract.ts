import { type ChildProcess } from 'node:child_process';
import { afterEach, beforeEach, describe, expect, it } from '@jest/globals';
import { Decimal } from 'decimal.js';
import { firstValueFrom } from 'rxjs';
import { accountFingerprint } from '../../src/journal/account';
import {
  type Journal,
  JournalError,
  type JournaledOrder,
  type JournaledTransition,
  type OrderIntentRecord,
  type SignalRecord,
} from '../../src/model/journal';
import { type LifecycleEvent, foldEvents, initialOrderState } from '../../src/model/order-state';

/** One journal implementation under the contract: how to open it on a store of its own, and reopen it. */
export interface JournalHarness {
  /**
   * Opens a journal of `account` on this harness's store; opening again after `close` is a reopen. A store
   * reached over the network (PostgreSQL) opens asynchronously.
   */
  open(account: string): Journal | Promise<Journal>;
  /** Removes whatever the store left behind (a temp dir, a database schema). */
  dispose(): void | Promise<void>;
}

export interface JournalImplementation {
  readonly name: string;
  /** A fresh store for each test. */
  readonly make: () => JournalHarness;
  /**
   * For stores that outlive the process: a child process that appends to this harness's store without end,
   * printing `ack <kind> <id> <seq>` after each append has returned; `prefix` starts its ids, so several
   * writers can follow one another on one store. `null`: the store dies with the process.
   */
  readonly crashWriter: ((harness: JournalHarness, account: string, prefix: string) => ChildProcess) | null;
}

const ACCOUNT = accountFingerprint('API-KEY-OF-ACCOUNT-A');
const OTHER_ACCOUNT = accountFingerprint('API-KEY-OF-ACCOUNT-B');
const d = (value: string): Decimal => new Decimal(value);

const signal = (signalId: string, overrides: Partial<SignalRecord> = {}): SignalRecord => ({
  signalId,
  receivedAt: 1_700_000_000_000,
  pair: 'XXBTZUSD',
  side: 'buy',
  orderType: 'limit',
  quantity: d('0.0123'),
  limitPrice: d('59000.1'),
  stopLoss: d('57000'),
  takeProfit: d('62000.25'),
  timeoutMs: 30_000,
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
  duties: { stopLoss: d('57000'), takeProfit: d('62000.25'), limitTimeoutMs: 30_000, protectionMode: 'stop-resting' },
  createdAt: 1_700_000_000_001,
  ...overrides,
});

const fill = (volumeExecuted: string, tradeId: string, quantity = volumeExecuted): LifecycleEvent => ({
  kind: 'fill',
  txid: 'OTX-1',
  tradeId,
  quantity: d(quantity),
  price: d('59000.1'),
  fee: d('0.0000123456789'),
  volumeExecuted: d(volumeExecuted),
});

const LIFE: readonly LifecycleEvent[] = [
  { kind: 'sent', deadline: 1_700_000_010_000 },
  { kind: 'accepted', txid: 'OTX-1' },
  fill('0.25', 'T1'),
  { kind: 'cancel-sent', reason: 'timeout' },
  fill('0.4', 'T2', '0.15'),
  { kind: 'final', outcome: 'canceled', volumeExecuted: d('0.4'), reason: 'User requested' },
];

const run = <T>(observable: import('rxjs').Observable<T>): Promise<T> => firstValueFrom(observable);

async function record(journal: Journal, clientOrderId: string, events: readonly LifecycleEvent[]): Promise<JournaledTransition[]> {
  const steps: JournaledTransition[] = [];
  for (const [at, event] of events.entries()) steps.push(await run(journal.recordTransition(clientOrderId, event, 1_700_000_000_100 + at)));
  return steps;
}

/** Decimals compared by value and written out, so a test failure shows the numbers. */
const plain = (order: JournaledOrder | null): unknown =>
  order && {
    status: order.state.status,
    filled: order.state.filled.toFixed(),
    txid: order.state.txid,
    events: order.events.map((e) => e.event.kind),
  };

async function errorOf(work: () => unknown): Promise<unknown> {
  try {
    await work();
  } catch (error: unknown) {
    return error;
  }
  throw new Error('expected a failure');
}

/**
 * The journal contract: what every implementation (in-memory, SQLite, later PostgreSQL) must do, run against
 * each by its own spec file.
 */
export function journalContract(implementation: JournalImplementation): void {
  describe(`${implementation.name} journal (contract)`, () => {
    let harness: JournalHarness;
    const opened: Journal[] = [];
    const open = async (account = ACCOUNT): Promise<Journal> => {
      const journal = await harness.open(account);
      opened.push(journal);
      return journal;
    };
    const reopen = async (journal: Journal, account = ACCOUNT): Promise<Journal> => {
      await run(journal.close());
      return open(account);
    };

    beforeEach(() => {
      harness = implementation.make();
    });
    afterEach(async () => {
      for (const journal of opened.splice(0)) await run(journal.close());
      await harness.dispose();
    });

    it('reads back a signal as it was recorded, decimals to the last digit', async () => {
      const journal = await open();
      const admitted = await run(journal.recordSignal(signal('s1')));
      expect(admitted.kind).toBe('recorded');
      const read = await run(journal.signal('s1'));
      expect(read).toEqual({ ...signal('s1'), seq: admitted.kind === 'recorded' ? admitted.seq : -1 });
      expect(read?.takeProfit?.toFixed()).toBe('62000.25');
      expect(await run(journal.signal('nope'))).toBeNull();
    });

    it('answers a second signal with the same signalId as a duplicate naming the first, across a reopen too', async () => {
      const journal = await open();
      await run(journal.recordSignal(signal('s1')));
      const again = await run(journal.recordSignal(signal('s1', { quantity: d('9') })));
      expect(again.kind).toBe('duplicate');
      expect(again.kind === 'duplicate' && again.first.quantity.toFixed()).toBe('0.0123');

      const reopened = await reopen(journal);
      const afterRestart = await run(reopened.recordSignal(signal('s1', { receivedAt: 1_800_000_000_000 })));
      expect(afterRestart).toEqual({ kind: 'duplicate', first: { ...signal('s1'), seq: 1 } });
      expect((await run(reopened.recordSignal(signal('s2')))).kind).toBe('recorded');
    });

    it('reads an order back as its intent, its events and their fold through the state machine', async () => {
      const journal = await open();
      await run(journal.recordIntent(intent('c1')));
      const steps = await record(journal, 'c1', LIFE);
      expect(steps.map((s) => s.kind)).toEqual(['moved', 'moved', 'moved', 'moved', 'moved', 'moved']);
      expect(steps.flatMap((s) => (s.kind === 'moved' ? s.reports.map((r) => r.status) : []))).toEqual([
        'PENDING_NEW',
        'NEW',
        'PARTIALLY_FILLED',
        'PENDING_CANCEL',
        'PARTIALLY_FILLED',
        'CANCELED',
      ]);

      const readers = [() => journal, () => reopen(journal)];
      for (const reader of readers) {
        const order = await run((await reader()).order('c1'));
        const machine = foldEvents(initialOrderState('c1', d('1')), LIFE);
        expect(machine.kind).toBe('folded');
        expect(order?.state).toEqual(machine.state);
        expect(order?.intent).toEqual(intent('c1'));
        expect(order?.events.map((e) => e.event)).toEqual(LIFE);
        expect(order?.events.map((e) => e.seq)).toEqual(steps.map((s) => (s.kind === 'moved' ? s.seq : -1)));
        expect(order?.state.fee.toFixed()).toBe('0.0000246913578');
      }
    });

    it('numbers appends in commit order', async () => {
      const journal = await open();
      const a = await run(journal.recordSignal(signal('s1')));
      const b = await run(journal.recordIntent(intent('c1')));
      const [c] = await record(journal, 'c1', [{ kind: 'sent', deadline: 1 }]);
      const seqs = [a.kind === 'recorded' ? a.seq : 0, b.seq, c?.kind === 'moved' ? c.seq : 0];
      expect(seqs[0]).toBeLessThan(seqs[1] ?? 0);
      expect(seqs[1]).toBeLessThan(seqs[2] ?? 0);
    });

    it('counts a fill once by its trade id: a repeat is ignored and not written, across a reopen too', async () => {
      const journal = await open();
      await run(journal.recordIntent(intent('c1')));
      await record(journal, 'c1', LIFE.slice(0, 3));
      const repeat = await run(journal.recordTransition('c1', fill('0.3', 'T1', '0.3'), 5));
      expect(repeat).toMatchObject({ kind: 'ignored', why: 'trade T1 already counted' });

      const reopened = await reopen(journal);
      const afterRestart = await run(reopened.recordTransition('c1', fill('0.25', 'T1'), 6));
      expect(afterRestart.kind).toBe('ignored');
      expect(plain(await run(reopened.order('c1')))).toEqual({ status: 'partially-filled', filled: '0.25', txid: 'OTX-1', events: ['sent', 'accepted', 'fill'] });
    });

    it('refuses a trade id already journaled for another order: one execution belongs to one order', async () => {
      const journal = await open();
      await run(journal.recordIntent(intent('c1')));
      await run(journal.recordIntent(intent('c2')));
      await record(journal, 'c1', LIFE.slice(0, 3));
      await record(journal, 'c2', LIFE.slice(0, 2));
      const error = await errorOf(() => run(journal.recordTransition('c2', fill('0.25', 'T1'), 9)));
      expect(error instanceof JournalError && [error.kind, error.message]).toEqual(['misuse', 'trade T1 is already journaled for order c1, not c2']);
      expect(plain(await run(journal.order('c2')))).toMatchObject({ filled: '0', events: ['sent', 'accepted'] });
    });

    it('writes nothing for an invalid transition and says why', async () => {
      const journal = await open();
      await run(journal.recordIntent(intent('c1')));
      await record(journal, 'c1', [{ kind: 'sent', deadline: 1 }, { kind: 'ambiguous', reason: 'timeout' }]);
      const refused = await run(journal.recordTransition('c1', { kind: 'rejected', reason: 'gave up' }, 7));
      expect(refused.kind).toBe('invalid');
      expect(plain(await run(journal.order('c1')))).toMatchObject({ status: 'ambiguous', events: ['sent', 'ambiguous'] });
    });

    it('refuses a fill larger than the order', async () => {
      const journal = await open();
      await run(journal.recordIntent(intent('c1')));
      const [, , tooMuch] = await record(journal, 'c1', [{ kind: 'sent', deadline: 1 }, { kind: 'accepted', txid: 'OTX-1' }, fill('1.5', 'T1')]);
      expect(tooMuch).toMatchObject({ kind: 'invalid', reason: 'executed 1.5 exceeds the 1 ordered' });
    });

    it('lists the unresolved orders (not final) in the order they were intended, after a reopen too', async () => {
      const journal = await open();
      const lives: Readonly<Record<string, readonly LifecycleEvent[]>> = {
        intended: [],
        working: LIFE.slice(0, 3),
        cancelled: LIFE,
        ambiguous: [{ kind: 'sent', deadline: 1 }, { kind: 'ambiguous', reason: 'reset' }],
        rejected: [{ kind: 'sent', deadline: 1 }, { kind: 'rejected', reason: 'EOrder:Insufficient funds' }],
        filled: [{ kind: 'sent', deadline: 1 }, { kind: 'accepted', txid: 'OTX-1' }, fill('1', 'T9')],
        pendingCancel: LIFE.slice(0, 4).map((e) => (e.kind === 'fill' ? fill('0.25', 'T7') : e)),
      };
      for (const [clientOrderId, events] of Object.entries(lives)) {
        await run(journal.recordIntent(intent(clientOrderId)));
        await record(journal, clientOrderId, events.map((e) => (e.kind === 'fill' ? { ...e, tradeId: `${clientOrderId}-${e.tradeId}` } : e)));
      }
      const expected = ['intended', 'working', 'ambiguous', 'pendingCancel'];
      expect((await run(journal.unresolvedOrders())).map((o) => o.intent.clientOrderId)).toEqual(expected);
      const reopened = await reopen(journal);
      const unresolved = await run(reopened.unresolvedOrders());
      expect(unresolved.map((o) => [o.intent.clientOrderId, o.state.status])).toEqual([
        ['intended', 'intended'],
        ['working', 'partially-filled'],
        ['ambiguous', 'ambiguous'],
        ['pendingCancel', 'pending-cancel'],
      ]);
      expect((await run(reopened.orders())).map((o) => o.intent.clientOrderId)).toEqual(Object.keys(lives));
    });

    it('refuses to open a journal written for another account, naming both fingerprints and no key', async () => {
      const journal = await open();
      await run(journal.recordSignal(signal('s1')));
      await run(journal.close());
      const error = await errorOf(() => harness.open(OTHER_ACCOUNT));
      expect(error).toBeInstanceOf(JournalError);
      expect(error instanceof JournalError && error.kind).toBe('account-mismatch');
      const message = error instanceof Error ? error.message : '';
      expect(message).toContain(ACCOUNT);
      expect(message).toContain(OTHER_ACCOUNT);
      expect(message).not.toContain('API-KEY-OF-ACCOUNT');
      // The right account still opens it, with everything in place.
      expect(await run((await open()).signal('s1'))).not.toBeNull();
    });

    it('treats a transition for an order never intended, and a second intent with one client order id, as misuse', async () => {
      const journal = await open();
      const unknown = await errorOf(() => run(journal.recordTransition('ghost', { kind: 'sent', deadline: 1 }, 1)));
      expect(unknown instanceof JournalError && unknown.kind).toBe('misuse');
      await run(journal.recordIntent(intent('c1')));
      const twice = await errorOf(() => run(journal.recordIntent(intent('c1'))));
      expect(twice instanceof JournalError && twice.kind).toBe('misuse');
    });

    it('lists the signals journaled without an order intent, until their one outcome is recorded, across a reopen too', async () => {
      const journal = await open();
      await run(journal.recordSignal(signal('s1')));
      await run(journal.recordSignal(signal('s2')));
      await run(journal.recordSignal(signal('s3')));
      await run(journal.recordIntent(intent('c2', { signalId: 's2' })));
      expect((await run(journal.signalsWithoutOrder())).map((s) => s.signalId)).toEqual(['s1', 's3']);
      expect((await run(journal.signalsWithoutOrder()))[0]).toEqual({ ...signal('s1'), seq: 1 });

      const outcome = { signalId: 's1', status: 'REJECTED' as const, reason: 'not sent: stopped', at: 20 };
      const recorded = await run(journal.recordSignalOutcome(outcome));
      expect(recorded).toEqual({ kind: 'recorded', seq: 5 });
      const reopened = await reopen(journal);
      expect((await run(reopened.signalsWithoutOrder())).map((s) => s.signalId)).toEqual(['s3']);
      expect(await run(reopened.recordSignalOutcome({ ...outcome, reason: 'again', at: 30 }))).toEqual({ kind: 'duplicate', first: { ...outcome, seq: 5 } });
      const unknown = await errorOf(() => run(reopened.recordSignalOutcome({ ...outcome, signalId: 'ghost' })));
      expect(unknown instanceof JournalError && unknown.kind).toBe('misuse');
    });

    it('keeps each foreign order reported once by its txid, across a reopen', async () => {
      const journal = await open();
      const foreign = { txid: 'OFOREIGN-1', clientOrderId: null, pair: 'XXBTZUSD', side: 'sell' as const, orderType: 'limit', volume: d('0.5'), at: 10 };
      expect(await run(journal.recordForeignOrder(foreign))).toEqual({ kind: 'recorded', seq: 1 });
      expect((await run(journal.recordForeignOrder({ ...foreign, txid: 'OFOREIGN-2', clientOrderId: 'other-cid' }))).kind).toBe('recorded');
      const reopened = await reopen(journal);
      const again = await run(reopened.recordForeignOrder({ ...foreign, at: 99 }));
      expect(again.kind).toBe('duplicate');
      expect(again.kind === 'duplicate' && { ...again.first, volume: again.first.volume.toFixed() }).toEqual({ ...foreign, volume: '0.5', seq: 1 });
    });

    it('keeps close commands once each, and the last HALT and rate counters, across a reopen', async () => {
      const journal = await open();
      const command = { commandId: 'k1', pair: 'XXBTZUSD', quantity: d('0.005'), receivedAt: 10 };
      expect((await run(journal.recordCloseCommand(command))).kind).toBe('recorded');
      await run(journal.recordCloseCommand({ commandId: 'k2', pair: 'XETHZUSD', quantity: null, receivedAt: 11 }));
      expect(await run(journal.lastHalt())).toBeNull();
      expect(await run(journal.lastRateCounters())).toBeNull();
      await run(journal.recordHalt({ halted: true, at: 12 }));
      await run(journal.recordHalt({ halted: false, at: 13 }));
      await run(journal.recordRateCounters({ at: 14, rest: 3.5, trading: [{ pair: 'XXBTZUSD', units: 8 }] }));
      await run(journal.recordRateCounters({ at: 15, rest: 2.25, trading: [{ pair: 'XXBTZUSD', units: 7.5 }, { pair: 'XETHZUSD', units: 1 }] }));

      const reopened = await reopen(journal);
      const again = await run(reopened.recordCloseCommand({ ...command, quantity: d('1') }));
      expect(again).toEqual({ kind: 'duplicate', first: { ...command, seq: 1 } });
      expect((await run(reopened.closeCommands())).map((c) => [c.commandId, c.quantity?.toFixed() ?? null])).toEqual([
        ['k1', '0.005'],
        ['k2', null],
      ]);
      expect(await run(reopened.lastHalt())).toEqual({ halted: false, at: 13 });
      expect(await run(reopened.lastRateCounters())).toEqual({ at: 15, rest: 2.25, trading: [{ pair: 'XXBTZUSD', units: 7.5 }, { pair: 'XETHZUSD', units: 1 }] });
    });

    it('refuses before storing a value it could not read back: a NaN price, a fractional time, an empty id', async () => {
      const journal = await open();
      const nan = await errorOf(() => run(journal.recordSignal(signal('s1', { limitPrice: d('NaN') }))));
      expect(nan instanceof JournalError && [nan.kind, nan.message]).toEqual(['misuse', 'journal record field limitPrice: expected a finite decimal, given NaN']);
      const fractional = await errorOf(() => run(journal.recordIntent(intent('c1', { createdAt: 1.5 }))));
      expect(fractional instanceof JournalError && fractional.kind).toBe('misuse');
      const empty = await errorOf(() => run(journal.recordCloseCommand({ commandId: '', pair: 'XXBTZUSD', quantity: null, receivedAt: 1 })));
      expect(empty instanceof JournalError && empty.kind).toBe('misuse');
      await run(journal.recordIntent(intent('c2')));
      const late = await errorOf(() => run(journal.recordTransition('c2', { kind: 'sent', deadline: 1 }, 2.5)));
      expect(late instanceof JournalError && late.kind).toBe('misuse');
      // Nothing of it was stored, and an empty reason is a reason like any other.
      expect(await run(journal.signal('s1'))).toBeNull();
      expect(await run(journal.order('c1'))).toBeNull();
      await record(journal, 'c2', [{ kind: 'sent', deadline: 1 }, { kind: 'ambiguous', reason: '' }]);
      expect((await run((await reopen(journal)).order('c2')))?.state.status).toBe('ambiguous');
    });

    it('does its work on subscription, once per subscription (cold)', async () => {
      const journal = await open();
      const append = journal.recordSignal(signal('s1'));
      expect(await run(journal.signal('s1'))).toBeNull();
      expect((await run(append)).kind).toBe('recorded');
      expect((await run(append)).kind).toBe('duplicate');
    });

    it('fails every call after close with a storage error; closing twice is harmless', async () => {
      const journal = await open();
      await run(journal.close());
      await run(journal.close());
      const error = await errorOf(() => run(journal.signal('s1')));
      expect(error instanceof JournalError && error.kind).toBe('storage');
    });

    // Only for stores that outlive the process (the in-memory one dies with it by design).
    const crashWriter = implementation.crashWriter;
    if (crashWriter) it('keeps every acknowledged append when the writing process is killed with SIGKILL', async () => {
      // Kill points in acknowledged appends: early, inside an order's life, and after many orders.
      for (const killAfter of [1, 7, 61]) {
        const acks = await new Promise<string[]>((resolve, reject) => {
          const child = crashWriter(harness, ACCOUNT, `run${killAfter}-`);
          const seen: string[] = [];
          let buffered = '';
          let stderr = '';
          child.stderr?.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
          child.stdout?.on('data', (chunk: Buffer) => {
            buffered += chunk.toString();
            const lines = buffered.split('\n');
            buffered = lines.pop() ?? '';
            seen.push(...lines);
            if (seen.length >= killAfter && child.exitCode === null) child.kill('SIGKILL');
          });
          child.on('error', reject);
          child.on('exit', (code, signalName) => {
            seen.push(...(buffered ? [buffered] : []));
            if (signalName === 'SIGKILL') resolve(seen);
            else reject(new Error(`the writer ended with ${signalName ?? code} before the kill: ${stderr}`));
          });
        });
        expect(acks.length).toBeGreaterThanOrEqual(killAfter);

        const journal = await open();
        for (const line of acks) {
          const [, kind, id, seq] = line.split(' ');
          if (!id) throw new Error(`bad ack line: ${line}`);
          if (kind === 'signal') expect((await run(journal.signal(id)))?.seq).toBe(Number(seq));
          if (kind === 'intent') expect((await run(journal.order(id)))?.intentSeq).toBe(Number(seq));
          if (kind === 'transition') expect((await run(journal.order(id)))?.events.map((e) => e.seq)).toContain(Number(seq));
        }
        // Whatever was committed, acknowledged or not, reads back and folds cleanly: no torn append.
        const orders = await run(journal.orders());
        expect(orders.length).toBeGreaterThanOrEqual(acks.filter((line) => line.startsWith('ack intent ')).length);
        await run(journal.close());
        opened.splice(opened.indexOf(journal), 1);
      }
      // Three child processes, each transpiling the journal's sources on load: seconds on an idle machine, many
      // times that on a loaded one. Nothing here is timed; this bound only catches a writer that hangs.
    }, CRASH_TEST_BOUND_MS);
  });
}

const CRASH_TEST_BOUND_MS = 180_000;
