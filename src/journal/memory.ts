import { type Observable } from 'rxjs';
import {
  type Admission,
  type CloseCommandRecord,
  type ForeignOrderRecord,
  type HaltRecord,
  type Journal,
  JournalError,
  type JournaledCloseCommand,
  type JournaledEvent,
  type JournaledForeignOrder,
  type JournaledOrder,
  type JournaledSignal,
  type JournaledSignalOutcome,
  type JournaledTransition,
  type OrderIntentRecord,
  type RateCountersRecord,
  type Sequenced,
  type SignalOutcomeRecord,
  type SignalRecord,
} from '../model/journal';
import { type LifecycleEvent, type OrderState, initialOrderState, isFinalOrderStatus, transition } from '../model/order-state';
import {
  encodeCloseCommand,
  encodeEvent,
  encodeForeignOrder,
  encodeHalt,
  encodeIntent,
  encodeRateCounters,
  encodeSignal,
  encodeSignalOutcome,
} from './codec';
import { journalCall } from './journal-call';
import { foldJournaledOrder } from './order-fold';

interface StoredOrder {
  readonly intent: OrderIntentRecord;
  readonly intentSeq: number;
  readonly events: JournaledEvent[];
  /**
   * The fold of `events`, kept as each is appended: an append checks one event against it instead of folding
   * the order's whole history again. Reads still fold, as the SQL stores do.
   */
  state: OrderState;
}

interface Contents {
  account: string | null;
  seq: number;
  readonly signals: Map<string, JournaledSignal>;
  readonly orders: Map<string, StoredOrder>;
  /** Trade id → the order it filled: one execution belongs to one order. */
  readonly trades: Map<string, string>;
  readonly closeCommands: Map<string, JournaledCloseCommand>;
  readonly signalOutcomes: Map<string, JournaledSignalOutcome>;
  readonly foreignOrders: Map<string, JournaledForeignOrder>;
  lastHalt: HaltRecord | null;
  lastRateCounters: RateCountersRecord | null;
}

declare const storeBrand: unique symbol;

/**
 * What an in-memory journal holds, kept apart from the journal object so that a test can close a journal and
 * open another on the same store, as it would reopen a file. Opaque; lives and dies with the process.
 */
export interface MemoryJournalStore {
  readonly [storeBrand]: true;
}

const CONTENTS = new WeakMap<MemoryJournalStore, Contents>();

/** A fresh, empty store for `openMemoryJournal`. */
export function createMemoryJournalStore(): MemoryJournalStore {
  // The brand exists only for the type checker: the object is a key into CONTENTS.
  const store = Object.freeze({}) as MemoryJournalStore;
  CONTENTS.set(store, {
    account: null,
    seq: 0,
    signals: new Map(),
    orders: new Map(),
    trades: new Map(),
    closeCommands: new Map(),
    signalOutcomes: new Map(),
    foreignOrders: new Map(),
    lastHalt: null,
    lastRateCounters: null,
  });
  return store;
}

export interface MemoryJournalOptions {
  /** The account fingerprint (`accountFingerprint(apiKey)`); a store written for another is refused. */
  readonly account: string;
  /** Omitted: a fresh store. */
  readonly store?: MemoryJournalStore;
}

/**
 * A journal in memory: for tests, and for library users who opt out of persistence (orders then do not
 * outlive the process). Same rules as the SQLite journal: one contract spec runs against both.
 *
 * @param options The account, and the store to reopen.
 * @returns The journal.
 */
export function openMemoryJournal(options: MemoryJournalOptions): Journal {
  const store = CONTENTS.get(options.store ?? createMemoryJournalStore());
  if (!store) throw new JournalError('misuse', 'not a store made by createMemoryJournalStore');
  if (store.account !== null && store.account !== options.account) {
    throw new JournalError('account-mismatch', `the in-memory journal belongs to account ${store.account}, not ${options.account}`);
  }
  store.account = options.account;
  let open = true;

  const call = <T>(what: string, work: () => T): Observable<T> =>
    journalCall(what, () => {
      if (!open) throw new JournalError('storage', `journal ${what}: the journal is closed`);
      return work();
    });
  const next = (): number => ++store.seq;
  /** The SQL stores' write checks, so a record the file would refuse is refused here too (the encoding is dropped). */
  const check = <T>(encode: (record: T) => string, record: T): void => {
    encode(record);
  };
  // A copy of the events: a caller's read must not grow with later appends while its state stays put.
  const read = (order: StoredOrder): JournaledOrder => foldJournaledOrder(order.intent, order.intentSeq, [...order.events]);

  return {
    account: options.account,

    recordSignal: (signal: SignalRecord): Observable<Admission<JournaledSignal>> =>
      call('recordSignal', () => {
        check(encodeSignal, signal);
        const first = store.signals.get(signal.signalId);
        if (first) return { kind: 'duplicate', first };
        const seq = next();
        store.signals.set(signal.signalId, { ...signal, seq });
        return { kind: 'recorded', seq };
      }),

    recordIntent: (intent: OrderIntentRecord): Observable<Sequenced> =>
      call('recordIntent', () => {
        check(encodeIntent, intent);
        if (store.orders.has(intent.clientOrderId)) {
          throw new JournalError('misuse', `an intent for client order id ${intent.clientOrderId} is already journaled`);
        }
        const seq = next();
        store.orders.set(intent.clientOrderId, { intent, intentSeq: seq, events: [], state: initialOrderState(intent.clientOrderId, intent.volume) });
        return { seq };
      }),

    recordTransition: (clientOrderId: string, event: LifecycleEvent, at: number): Observable<JournaledTransition> =>
      call('recordTransition', () => {
        const order = store.orders.get(clientOrderId);
        if (!order) throw new JournalError('misuse', `no intent journaled for client order id ${clientOrderId}`);
        const step = transition(order.state, event);
        if (step.kind !== 'moved') return step;
        check(encodeEvent, event);
        if (!Number.isSafeInteger(at)) throw new JournalError('misuse', `journal record field at: expected an integer, given ${at}`);
        if (event.kind === 'fill') {
          const owner = store.trades.get(event.tradeId);
          if (owner !== undefined) throw new JournalError('misuse', `trade ${event.tradeId} is already journaled for order ${owner}, not ${clientOrderId}`);
          store.trades.set(event.tradeId, clientOrderId);
        }
        const seq = next();
        order.events.push({ seq, at, event });
        order.state = step.state;
        return { ...step, seq };
      }),

    recordCloseCommand: (command: CloseCommandRecord): Observable<Admission<JournaledCloseCommand>> =>
      call('recordCloseCommand', () => {
        check(encodeCloseCommand, command);
        const first = store.closeCommands.get(command.commandId);
        if (first) return { kind: 'duplicate', first };
        const seq = next();
        store.closeCommands.set(command.commandId, { ...command, seq });
        return { kind: 'recorded', seq };
      }),

    recordSignalOutcome: (outcome: SignalOutcomeRecord): Observable<Admission<JournaledSignalOutcome>> =>
      call('recordSignalOutcome', () => {
        check(encodeSignalOutcome, outcome);
        if (!store.signals.has(outcome.signalId)) throw new JournalError('misuse', `no signal journaled with signalId ${outcome.signalId}`);
        const first = store.signalOutcomes.get(outcome.signalId);
        if (first) return { kind: 'duplicate', first };
        const seq = next();
        store.signalOutcomes.set(outcome.signalId, { ...outcome, seq });
        return { kind: 'recorded', seq };
      }),

    recordForeignOrder: (order: ForeignOrderRecord): Observable<Admission<JournaledForeignOrder>> =>
      call('recordForeignOrder', () => {
        check(encodeForeignOrder, order);
        const first = store.foreignOrders.get(order.txid);
        if (first) return { kind: 'duplicate', first };
        const seq = next();
        store.foreignOrders.set(order.txid, { ...order, seq });
        return { kind: 'recorded', seq };
      }),

    recordHalt: (halt: HaltRecord): Observable<Sequenced> =>
      call('recordHalt', () => {
        check(encodeHalt, halt);
        store.lastHalt = halt;
        return { seq: next() };
      }),

    recordRateCounters: (counters: RateCountersRecord): Observable<Sequenced> =>
      call('recordRateCounters', () => {
        check(encodeRateCounters, counters);
        store.lastRateCounters = counters;
        return { seq: next() };
      }),

    signal: (signalId: string) => call('signal', () => store.signals.get(signalId) ?? null),
    order: (clientOrderId: string) =>
      call('order', () => {
        const order = store.orders.get(clientOrderId);
        return order ? read(order) : null;
      }),
    orders: () => call('orders', () => [...store.orders.values()].map(read)),
    unresolvedOrders: () => call('unresolvedOrders', () => [...store.orders.values()].map(read).filter((order) => !isFinalOrderStatus(order.state.status))),
    closeCommands: () => call('closeCommands', () => [...store.closeCommands.values()]),
    signalsWithoutOrder: () =>
      call('signalsWithoutOrder', () => {
        const ordered = new Set([...store.orders.values()].map((order) => order.intent.signalId));
        return [...store.signals.values()].filter((signal) => !ordered.has(signal.signalId) && !store.signalOutcomes.has(signal.signalId));
      }),
    lastHalt: () => call('lastHalt', () => store.lastHalt),
    lastRateCounters: () => call('lastRateCounters', () => store.lastRateCounters),

    // Closing twice is harmless: only later reads and writes fail.
    close: () =>
      journalCall('close', () => {
        open = false;
      }),
  };
}
