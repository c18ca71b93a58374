import Database from 'better-sqlite3';
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
import { type LifecycleEvent, isFinalOrderStatus, transition } from '../model/order-state';
import {
  BodyReader,
  decodeCloseCommand,
  decodeEvent,
  decodeForeignOrder,
  decodeHalt,
  decodeIntent,
  decodeRateCounters,
  decodeSignal,
  decodeSignalOutcome,
  encodeCloseCommand,
  encodeEvent,
  encodeForeignOrder,
  encodeHalt,
  encodeIntent,
  encodeRateCounters,
  encodeSignal,
  encodeSignalOutcome,
} from './codec';
import { errorCode, errorMessage } from '../model/error-shape';
import { journalCall } from './journal-call';
import { foldJournaledOrder } from './order-fold';

/** `PRAGMA user_version` of the schema below; a file with a higher one was written by a newer version. */
export const SCHEMA_VERSION = 2;

/** The entries table; `name` so that a migration can build the new one beside the old. */
const entriesTable = (name: string): string => `
CREATE TABLE ${name} (
  seq             INTEGER PRIMARY KEY AUTOINCREMENT,
  kind            TEXT NOT NULL CHECK (kind IN ('signal', 'intent', 'transition', 'close-command', 'halt', 'rate-counters', 'signal-outcome', 'foreign-order')),
  at              INTEGER NOT NULL,
  signal_id       TEXT,
  client_order_id TEXT,
  command_id      TEXT,
  trade_id        TEXT,
  txid            TEXT,
  event           TEXT,
  body            TEXT NOT NULL
) STRICT;
`;

const ENTRIES_INDEXES = `
CREATE UNIQUE INDEX entries_signal ON entries (signal_id) WHERE kind = 'signal';
CREATE UNIQUE INDEX entries_intent ON entries (client_order_id) WHERE kind = 'intent';
CREATE UNIQUE INDEX entries_trade ON entries (trade_id) WHERE trade_id IS NOT NULL;
CREATE UNIQUE INDEX entries_command ON entries (command_id) WHERE kind = 'close-command';
CREATE UNIQUE INDEX entries_signal_outcome ON entries (signal_id) WHERE kind = 'signal-outcome';
CREATE UNIQUE INDEX entries_foreign ON entries (txid) WHERE kind = 'foreign-order';
CREATE INDEX entries_transitions ON entries (client_order_id, seq) WHERE kind = 'transition';
CREATE INDEX entries_kind ON entries (kind, seq);
CREATE INDEX entries_intent_signal ON entries (signal_id) WHERE kind = 'intent';
`;

/**
 * One append-only table of entries, numbered by `seq` in commit order; the key columns beside `body` carry the
 * uniqueness rules (a signal id, an intent's client order id, a trade id, a close command id, a signal's outcome,
 * a foreign order's txid: once each), so the database refuses a duplicate even if the code above it were wrong.
 * `order_status` is derived: whether each order's fold is final, updated in the same transaction, so listing
 * unresolved orders does not fold the whole history. STRICT tables: a value of the wrong type is refused on
 * write, not discovered on read.
 */
const SCHEMA = `
CREATE TABLE meta (
  key   TEXT PRIMARY KEY,
  value TEXT NOT NULL
) STRICT;
${entriesTable('entries')}
${ENTRIES_INDEXES}
CREATE TABLE order_status (
  client_order_id TEXT PRIMARY KEY,
  final           INTEGER NOT NULL CHECK (final IN (0, 1))
) STRICT;
CREATE INDEX order_status_open ON order_status (client_order_id) WHERE final = 0;
`;

/**
 * Version 1 to 2: two more kinds of entry (a signal's outcome at start, a foreign order reported) and the `txid`
 * column. SQLite cannot widen a CHECK in place, so the table is rebuilt with every row and its `seq` kept (the
 * rename carries the AUTOINCREMENT counter on), in the caller's transaction.
 */
const MIGRATE_1_TO_2 = `
${entriesTable('entries_v2')}
INSERT INTO entries_v2 (seq, kind, at, signal_id, client_order_id, command_id, trade_id, event, body)
  SELECT seq, kind, at, signal_id, client_order_id, command_id, trade_id, event, body FROM entries ORDER BY seq;
DROP TABLE entries;
ALTER TABLE entries_v2 RENAME TO entries;
${ENTRIES_INDEXES}
`;

export interface SqliteJournalOptions {
  /** The database file; created with the schema when missing. */
  readonly path: string;
  /** The account fingerprint (`accountFingerprint(apiKey)`); a file written for another is refused. */
  readonly account: string;
  /**
   * `full` (default): every committed append survives a power cut (fsync per commit). `normal`: survives a
   * process crash, may lose the last commits on a power cut; for throwaway runs and the bench's comparison.
   */
  readonly synchronous?: 'full' | 'normal';
}

/** The SQLite journal, with the settings its connection reports (read back from SQLite, not from the options). */
export interface SqliteJournal extends Journal {
  readonly settings: { readonly journalMode: string; readonly synchronous: 'off' | 'normal' | 'full' | 'extra' };
}

type Row = Readonly<Record<string, unknown>>;

const isRow = (value: unknown): value is Row => typeof value === 'object' && value !== null;

/** A stored column, checked: refusals name the entry and the column. */
function column(row: Row, name: string, where: string): unknown {
  if (!(name in row)) throw new JournalError('corrupt', `${where}: column ${name} missing`);
  return row[name];
}

function integerColumn(row: Row, name: string, where: string): number {
  const value = column(row, name, where);
  if (typeof value !== 'number' || !Number.isSafeInteger(value)) {
    throw new JournalError('corrupt', `${where}, column ${name}: expected an integer, found ${String(value)}`);
  }
  return value;
}

interface Entry {
  readonly seq: number;
  readonly at: number;
  readonly body: BodyReader;
}

function entryOf(value: unknown, kind: string): Entry {
  if (!isRow(value)) throw new JournalError('corrupt', `journal ${kind} row is not a row`);
  const seq = integerColumn(value, 'seq', `journal entry (${kind})`);
  const where = `journal entry ${seq} (${kind})`;
  const stored = column(value, 'kind', where);
  if (stored !== kind) throw new JournalError('corrupt', `${where}, column kind: expected ${kind}, found ${String(stored)}`);
  return { seq, at: integerColumn(value, 'at', where), body: BodyReader.parse(`${where}, column body`, column(value, 'body', where)) };
}

const isConstraintError = (error: unknown): boolean => errorCode(error)?.startsWith('SQLITE_CONSTRAINT') ?? false;

/**
 * The embedded journal: one SQLite file in WAL mode, `synchronous=FULL` by default, one transaction per
 * append (BEGIN IMMEDIATE, so the read-check-write of a transition is never interleaved with another
 * writer), prepared statements. better-sqlite3 is synchronous: when an append's Observable has emitted, the
 * commit has returned.
 *
 * @param options The file, the account, the durability.
 * @returns The journal, open. Throws a `JournalError` when the file belongs to another account (`account-mismatch`),
 *   was written by a newer schema or is not a journal (`schema`), or cannot be opened (`storage`).
 */
export function openSqliteJournal(options: SqliteJournalOptions): SqliteJournal {
  let db: Database.Database;
  try {
    db = new Database(options.path);
  } catch (error: unknown) {
    throw new JournalError('storage', `cannot open the journal ${options.path}: ${errorMessage(error)}`, { cause: error });
  }
  try {
    configure(db, options);
    return sqliteJournal(db, options);
  } catch (error: unknown) {
    db.close();
    if (error instanceof JournalError) throw error;
    throw new JournalError('schema', `${options.path} is not a kraken-rx journal: ${errorMessage(error)}`, { cause: error });
  }
}

function configure(db: Database.Database, options: SqliteJournalOptions): void {
  const mode: unknown = db.pragma('journal_mode = WAL', { simple: true });
  if (mode !== 'wal') throw new JournalError('storage', `${options.path}: the journal needs WAL mode, the file system gave ${String(mode)}`);
  db.pragma(`synchronous = ${options.synchronous === 'normal' ? 'NORMAL' : 'FULL'}`);
  // `kraken-rx status` may read while a run writes: wait for the writer instead of failing at once.
  db.pragma('busy_timeout = 5000');

  db.transaction(() => {
    const version: unknown = db.pragma('user_version', { simple: true });
    if (version === 0) {
      const tables: unknown = db.prepare("SELECT count(*) AS n FROM sqlite_schema WHERE type = 'table'").pluck().get();
      if (tables !== 0) throw new JournalError('schema', `${options.path} holds tables but no journal schema version: not a kraken-rx journal`);
      db.exec(SCHEMA);
      db.prepare('INSERT INTO meta (key, value) VALUES (?, ?)').run('account', options.account);
      db.pragma(`user_version = ${SCHEMA_VERSION}`);
      return;
    }
    if (version === 1) {
      db.exec(MIGRATE_1_TO_2);
      db.pragma(`user_version = ${SCHEMA_VERSION}`);
    } else if (version !== SCHEMA_VERSION) {
      throw new JournalError('schema', `${options.path} has journal schema version ${String(version)}; this version reads ${SCHEMA_VERSION}`);
    }
    const account: unknown = db.prepare("SELECT value FROM meta WHERE key = 'account'").pluck().get();
    if (typeof account !== 'string') throw new JournalError('corrupt', `${options.path}: table meta, column value: no account recorded`);
    if (account !== options.account) {
      throw new JournalError(
        'account-mismatch',
        `${options.path} is the journal of account ${account}, not of ${options.account} (the API key in use): ` +
          'use the journal of this account (--journal FILE), or start a fresh one',
      );
    }
  }).immediate();
}

/**
 * The account a journal file was written for, read without writing to it (for `kraken-rx status`, which has no
 * API key to fingerprint, and for a clear message before a run opens the file).
 *
 * @param path An existing journal file.
 * @returns The account fingerprint recorded when the file was created.
 * @throws JournalError `storage` when the file is missing or cannot be opened, `schema` when it is not a journal
 *   of this schema version, `corrupt` when it records no account.
 */
export function readJournalAccount(path: string): string {
  let db: Database.Database;
  try {
    db = new Database(path, { readonly: true, fileMustExist: true });
  } catch (error: unknown) {
    throw new JournalError('storage', `cannot open the journal ${path}: ${errorMessage(error)}`, { cause: error });
  }
  try {
    const version: unknown = db.pragma('user_version', { simple: true });
    // A version-1 file is read as it is: opening it for writing migrates it.
    if (version !== SCHEMA_VERSION && version !== 1) {
      throw new JournalError('schema', version === 0 ? `${path} is not a kraken-rx journal` : `${path} has journal schema version ${String(version)}; this version reads ${SCHEMA_VERSION}`);
    }
    const account: unknown = db.prepare("SELECT value FROM meta WHERE key = 'account'").pluck().get();
    if (typeof account !== 'string') throw new JournalError('corrupt', `${path}: table meta, column value: no account recorded`);
    return account;
  } catch (error: unknown) {
    if (error instanceof JournalError) throw error;
    throw new JournalError('schema', `${path} is not a kraken-rx journal: ${errorMessage(error)}`, { cause: error });
  } finally {
    db.close();
  }
}

const SYNCHRONOUS = ['off', 'normal', 'full', 'extra'] as const;

function sqliteJournal(db: Database.Database, options: SqliteJournalOptions): SqliteJournal {
  const synchronous = SYNCHRONOUS[Number(db.pragma('synchronous', { simple: true }))];
  if (synchronous === undefined) throw new JournalError('storage', `${options.path}: SQLite reports an unknown synchronous setting`);
  const settings = { journalMode: String(db.pragma('journal_mode', { simple: true })), synchronous };

  const insert = db.prepare<{
    kind: string;
    at: number;
    signal_id: string | null;
    client_order_id: string | null;
    command_id: string | null;
    trade_id: string | null;
    txid: string | null;
    event: string | null;
    body: string;
  }>(
    `INSERT INTO entries (kind, at, signal_id, client_order_id, command_id, trade_id, txid, event, body)
     VALUES (@kind, @at, @signal_id, @client_order_id, @command_id, @trade_id, @txid, @event, @body)`,
  );
  const signalById = db.prepare<[string]>("SELECT seq, kind, at, body FROM entries WHERE kind = 'signal' AND signal_id = ?");
  const intentById = db.prepare<[string]>("SELECT seq, kind, at, body FROM entries WHERE kind = 'intent' AND client_order_id = ?");
  const eventsOf = db.prepare<[string]>("SELECT seq, kind, at, body FROM entries WHERE kind = 'transition' AND client_order_id = ? ORDER BY seq");
  const allIntents = db.prepare("SELECT seq, kind, at, body FROM entries WHERE kind = 'intent' ORDER BY seq");
  const openIntents = db.prepare(
    `SELECT e.seq, e.kind, e.at, e.body FROM order_status s JOIN entries e ON e.kind = 'intent' AND e.client_order_id = s.client_order_id
     WHERE s.final = 0 ORDER BY e.seq`,
  );
  const commandById = db.prepare<[string]>("SELECT seq, kind, at, body FROM entries WHERE kind = 'close-command' AND command_id = ?");
  const allCommands = db.prepare("SELECT seq, kind, at, body FROM entries WHERE kind = 'close-command' ORDER BY seq");
  const latestOf = db.prepare<[string]>('SELECT seq, kind, at, body FROM entries WHERE kind = ? ORDER BY seq DESC LIMIT 1');
  const tradeOwner = db.prepare<[string]>('SELECT client_order_id FROM entries WHERE trade_id = ?').pluck();
  const insertStatus = db.prepare<[string]>('INSERT INTO order_status (client_order_id, final) VALUES (?, 0)');
  const markFinal = db.prepare<[string]>('UPDATE order_status SET final = 1 WHERE client_order_id = ?');

  const outcomeById = db.prepare<[string]>("SELECT seq, kind, at, body FROM entries WHERE kind = 'signal-outcome' AND signal_id = ?");
  const foreignByTxid = db.prepare<[string]>("SELECT seq, kind, at, body FROM entries WHERE kind = 'foreign-order' AND txid = ?");
  const signalsWithoutOrder = db.prepare(
    `SELECT s.seq, s.kind, s.at, s.body FROM entries s WHERE s.kind = 'signal'
       AND NOT EXISTS (SELECT 1 FROM entries i WHERE i.kind = 'intent' AND i.signal_id = s.signal_id)
       AND NOT EXISTS (SELECT 1 FROM entries o WHERE o.kind = 'signal-outcome' AND o.signal_id = s.signal_id)
     ORDER BY s.seq`,
  );

  const none = { signal_id: null, client_order_id: null, command_id: null, trade_id: null, txid: null, event: null };
  const append = (row: Parameters<typeof insert.run>[0]): number => Number(insert.run(row).lastInsertRowid);

  let open = true;
  const call = <T>(what: string, work: () => T): Observable<T> =>
    journalCall(what, () => {
      if (!open) throw new JournalError('storage', `journal ${what}: the journal ${options.path} is closed`);
      return work();
    });

  const readSignal = (row: unknown): JournaledSignal => {
    const entry = entryOf(row, 'signal');
    return { ...decodeSignal(entry.body), seq: entry.seq };
  };
  const readCommand = (row: unknown): JournaledCloseCommand => {
    const entry = entryOf(row, 'close-command');
    return { ...decodeCloseCommand(entry.body), seq: entry.seq };
  };
  const readOrder = (intentRow: unknown): JournaledOrder => {
    const entry = entryOf(intentRow, 'intent');
    const intent = decodeIntent(entry.body);
    const events = eventsOf.all(intent.clientOrderId).map((row): JournaledEvent => {
      const stored = entryOf(row, 'transition');
      return { seq: stored.seq, at: stored.at, event: decodeEvent(stored.body) };
    });
    return foldJournaledOrder(intent, entry.seq, events);
  };

  const recordSignal = db.transaction((signal: SignalRecord): Admission<JournaledSignal> => {
    const first: unknown = signalById.get(signal.signalId);
    if (first !== undefined) return { kind: 'duplicate', first: readSignal(first) };
    return { kind: 'recorded', seq: append({ ...none, kind: 'signal', at: signal.receivedAt, signal_id: signal.signalId, body: encodeSignal(signal) }) };
  });

  const recordIntent = db.transaction((intent: OrderIntentRecord): Sequenced => {
    if (intentById.get(intent.clientOrderId) !== undefined) {
      throw new JournalError('misuse', `an intent for client order id ${intent.clientOrderId} is already journaled`);
    }
    const seq = append({
      ...none,
      kind: 'intent',
      at: intent.createdAt,
      signal_id: intent.signalId,
      client_order_id: intent.clientOrderId,
      body: encodeIntent(intent),
    });
    insertStatus.run(intent.clientOrderId);
    return { seq };
  });

  const recordTransition = db.transaction((clientOrderId: string, event: LifecycleEvent, at: number): JournaledTransition => {
    const intentRow: unknown = intentById.get(clientOrderId);
    if (intentRow === undefined) throw new JournalError('misuse', `no intent journaled for client order id ${clientOrderId}`);
    const step = transition(readOrder(intentRow).state, event);
    if (step.kind !== 'moved') return step;
    if (!Number.isSafeInteger(at)) throw new JournalError('misuse', `journal record field at: expected an integer, given ${at}`);
    let seq: number;
    try {
      seq = append({
        ...none,
        kind: 'transition',
        at,
        client_order_id: clientOrderId,
        trade_id: event.kind === 'fill' ? event.tradeId : null,
        event: event.kind,
        body: encodeEvent(event),
      });
    } catch (error: unknown) {
      // The machine already ignores a trade id seen on this order; one seen on another order is a caller's bug.
      if (isConstraintError(error) && event.kind === 'fill') {
        const owner: unknown = tradeOwner.get(event.tradeId);
        throw new JournalError('misuse', `trade ${event.tradeId} is already journaled for order ${String(owner)}, not ${clientOrderId}`, { cause: error });
      }
      throw error;
    }
    if (isFinalOrderStatus(step.state.status)) markFinal.run(clientOrderId);
    return { ...step, seq };
  });

  const recordCloseCommand = db.transaction((command: CloseCommandRecord): Admission<JournaledCloseCommand> => {
    const first: unknown = commandById.get(command.commandId);
    if (first !== undefined) return { kind: 'duplicate', first: readCommand(first) };
    return {
      kind: 'recorded',
      seq: append({ ...none, kind: 'close-command', at: command.receivedAt, command_id: command.commandId, body: encodeCloseCommand(command) }),
    };
  });

  const recordSignalOutcome = db.transaction((outcome: SignalOutcomeRecord): Admission<JournaledSignalOutcome> => {
    const body = encodeSignalOutcome(outcome);
    if (signalById.get(outcome.signalId) === undefined) throw new JournalError('misuse', `no signal journaled with signalId ${outcome.signalId}`);
    const first: unknown = outcomeById.get(outcome.signalId);
    if (first !== undefined) {
      const entry = entryOf(first, 'signal-outcome');
      return { kind: 'duplicate', first: { ...decodeSignalOutcome(entry.body), seq: entry.seq } };
    }
    return { kind: 'recorded', seq: append({ ...none, kind: 'signal-outcome', at: outcome.at, signal_id: outcome.signalId, body }) };
  });

  const recordForeignOrder = db.transaction((order: ForeignOrderRecord): Admission<JournaledForeignOrder> => {
    const body = encodeForeignOrder(order);
    const first: unknown = foreignByTxid.get(order.txid);
    if (first !== undefined) {
      const entry = entryOf(first, 'foreign-order');
      return { kind: 'duplicate', first: { ...decodeForeignOrder(entry.body), seq: entry.seq } };
    }
    return { kind: 'recorded', seq: append({ ...none, kind: 'foreign-order', at: order.at, txid: order.txid, body }) };
  });

  const latest = <T>(kind: 'halt' | 'rate-counters', decode: (body: BodyReader) => T): T | null => {
    const row: unknown = latestOf.get(kind);
    return row === undefined ? null : decode(entryOf(row, kind).body);
  };

  return {
    account: options.account,
    settings,
    recordSignal: (signal) => call('recordSignal', () => recordSignal.immediate(signal)),
    recordIntent: (intent) => call('recordIntent', () => recordIntent.immediate(intent)),
    recordTransition: (clientOrderId, event, at) => call('recordTransition', () => recordTransition.immediate(clientOrderId, event, at)),
    recordCloseCommand: (command) => call('recordCloseCommand', () => recordCloseCommand.immediate(command)),
    recordSignalOutcome: (outcome) => call('recordSignalOutcome', () => recordSignalOutcome.immediate(outcome)),
    recordForeignOrder: (order) => call('recordForeignOrder', () => recordForeignOrder.immediate(order)),
    recordHalt: (halt: HaltRecord) => call('recordHalt', () => ({ seq: append({ ...none, kind: 'halt', at: halt.at, body: encodeHalt(halt) }) })),
    recordRateCounters: (counters: RateCountersRecord) =>
      call('recordRateCounters', () => ({ seq: append({ ...none, kind: 'rate-counters', at: counters.at, body: encodeRateCounters(counters) }) })),

    signal: (signalId) =>
      call('signal', () => {
        const row: unknown = signalById.get(signalId);
        return row === undefined ? null : readSignal(row);
      }),
    order: (clientOrderId) =>
      call('order', () => {
        const row: unknown = intentById.get(clientOrderId);
        return row === undefined ? null : readOrder(row);
      }),
    // Read in one transaction: a consistent picture even while another connection appends.
    orders: () => call('orders', () => db.transaction(() => allIntents.all().map(readOrder)).deferred()),
    unresolvedOrders: () => call('unresolvedOrders', () => db.transaction(() => openIntents.all().map(readOrder)).deferred()),
    closeCommands: () => call('closeCommands', () => allCommands.all().map(readCommand)),
    signalsWithoutOrder: () => call('signalsWithoutOrder', () => signalsWithoutOrder.all().map(readSignal)),
    lastHalt: () => call('lastHalt', () => latest('halt', decodeHalt)),
    lastRateCounters: () => call('lastRateCounters', () => latest('rate-counters', decodeRateCounters)),

    close: () =>
      journalCall('close', () => {
        if (!open) return;
        open = false;
        db.close();
      }),
  };
}
