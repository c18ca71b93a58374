import pg from 'pg';
import { type Observable, catchError, defer, from, throwError } from 'rxjs';
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
  isJournalError,
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
import { foldJournaledOrder } from './order-fold';

/** `meta.schema_version` of the tables below; a schema with a higher one was written by a newer version. */
export const PG_SCHEMA_VERSION = 2;

const ENTRY_KINDS = "('signal', 'intent', 'transition', 'close-command', 'halt', 'rate-counters', 'signal-outcome', 'foreign-order')";

/** What version 2 adds to the entries' indexes: a signal's outcome and a foreign order's txid, once each. */
const version2Indexes = (s: string): string => `
CREATE UNIQUE INDEX entries_signal_outcome ON ${s}.entries (signal_id) WHERE kind = 'signal-outcome';
CREATE UNIQUE INDEX entries_foreign ON ${s}.entries (txid) WHERE kind = 'foreign-order';
CREATE INDEX entries_intent_signal ON ${s}.entries (signal_id) WHERE kind = 'intent';
`;

/** Version 1 to 2, in place: two more kinds of entry, the `txid` column, their indexes. */
const migrate1To2 = (s: string): string => `
ALTER TABLE ${s}.entries DROP CONSTRAINT entries_kind_check;
ALTER TABLE ${s}.entries ADD CONSTRAINT entries_kind_check CHECK (kind IN ${ENTRY_KINDS});
ALTER TABLE ${s}.entries ADD COLUMN txid TEXT;
${version2Indexes(s)}
UPDATE ${s}.meta SET value = '2' WHERE key = 'schema_version';
`;

/** A PostgreSQL schema name we create and quote ourselves: lower-case, no quoting tricks. */
const SCHEMA_NAME = /^[a-z_][a-z0-9_]{0,62}$/;

/**
 * The SQLite journal's tables (see sqlite.ts), in one PostgreSQL schema per account, plus `lease`: the account's
 * lease and its epoch (the fencing token). Every journal write locks the lease row and checks its epoch in the
 * same transaction, so a handler deposed by a new acquisition can no longer write, and since an intent is
 * journaled before it is sent, no longer send. `body` is TEXT, not JSONB: JSONB would rewrite the numbers.
 */
const tables = (s: string): string => `
CREATE TABLE ${s}.meta (
  key   TEXT PRIMARY KEY,
  value TEXT NOT NULL
);
CREATE TABLE ${s}.entries (
  seq             BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  kind            TEXT NOT NULL CONSTRAINT entries_kind_check CHECK (kind IN ${ENTRY_KINDS}),
  at              BIGINT NOT NULL,
  signal_id       TEXT,
  client_order_id TEXT,
  command_id      TEXT,
  trade_id        TEXT,
  txid            TEXT,
  event           TEXT,
  body            TEXT NOT NULL
);
CREATE UNIQUE INDEX entries_signal ON ${s}.entries (signal_id) WHERE kind = 'signal';
CREATE UNIQUE INDEX entries_intent ON ${s}.entries (client_order_id) WHERE kind = 'intent';
CREATE UNIQUE INDEX entries_trade ON ${s}.entries (trade_id) WHERE trade_id IS NOT NULL;
CREATE UNIQUE INDEX entries_command ON ${s}.entries (command_id) WHERE kind = 'close-command';
CREATE INDEX entries_transitions ON ${s}.entries (client_order_id, seq) WHERE kind = 'transition';
CREATE INDEX entries_kind ON ${s}.entries (kind, seq);
${version2Indexes(s)}
CREATE TABLE ${s}.order_status (
  client_order_id TEXT PRIMARY KEY,
  final           BOOLEAN NOT NULL
);
CREATE INDEX order_status_open ON ${s}.order_status (client_order_id) WHERE NOT final;
CREATE TABLE ${s}.lease (
  account    TEXT PRIMARY KEY,
  holder     TEXT NOT NULL,
  epoch      BIGINT NOT NULL CHECK (epoch > 0),
  expires_at BIGINT NOT NULL
);
`;

/** Where an account's journal and lease live in PostgreSQL. */
export interface PgLocation {
  /** e.g. `postgres://root@127.0.0.1:5432/test`. */
  readonly connectionString: string;
  /** The schema holding this account's tables (created on first open): one per account. */
  readonly schema: string;
  /** The account fingerprint (`accountFingerprint(apiKey)`); a schema written for another is refused. */
  readonly account: string;
}

export interface PgJournalOptions extends PgLocation {
  /** The epoch of the lease this handler holds: a write after another acquisition (a newer epoch) is refused. */
  readonly epoch: number;
}

/** The quoted schema name, or a `misuse` error for a name we would not create. */
export function quotedSchema(schema: string): string {
  if (!SCHEMA_NAME.test(schema)) throw new JournalError('misuse', `journal schema ${JSON.stringify(schema)}: expected [a-z_][a-z0-9_]*, at most 63 characters`);
  return `"${schema}"`;
}

const message = errorMessage;

/** A store failure as the port promises it: a `JournalError`, `storage` unless it is one already. */
export const asJournalError = (what: string, error: unknown): JournalError =>
  isJournalError(error) ? error : new JournalError('storage', `journal ${what} failed: ${message(error)}`, { cause: error });

/**
 * Runs `work` in one transaction on a connection of the pool: committed when it resolves, rolled back when it
 * throws.
 */
export async function inTransaction<T>(pool: pg.Pool, begin: string, work: (client: pg.PoolClient) => Promise<T>): Promise<T> {
  const client = await pool.connect();
  // The pool listens for errors of idle connections only: one that dies between two statements of this
  // transaction must fail the transaction (its next statement does), not the process.
  let broken: unknown = null;
  const onError = (error: unknown): void => {
    broken = error;
  };
  client.on('error', onError);
  try {
    await client.query(begin);
    const result = await work(client);
    await client.query('COMMIT');
    return result;
  } catch (error: unknown) {
    await client.query('ROLLBACK').catch(() => undefined);
    throw error;
  } finally {
    client.off('error', onError);
    // A connection that broke is dropped from the pool rather than handed to the next caller.
    client.release(broken === null ? undefined : true);
  }
}

/**
 * Creates the account's schema and tables when missing, or checks that they are this version's and this
 * account's. Concurrent openers are serialised by an advisory lock on the schema's name.
 *
 * @throws JournalError `account-mismatch`, `schema` (newer version, or a schema that is not a journal), `storage`.
 */
export async function preparePgSchema(client: pg.ClientBase, location: PgLocation): Promise<void> {
  const s = quotedSchema(location.schema);
  await client.query('SELECT pg_advisory_xact_lock(hashtext($1))', [`kraken-rx journal ${location.schema}`]);
  await client.query(`CREATE SCHEMA IF NOT EXISTS ${s}`);
  const present = await client.query<{ n: string }>('SELECT count(*) AS n FROM pg_tables WHERE schemaname = $1', [location.schema]);
  const meta = await client.query<{ exists: boolean }>('SELECT to_regclass($1) IS NOT NULL AS exists', [`${s}.meta`]);
  if (meta.rows[0]?.exists !== true) {
    if (present.rows[0]?.n !== '0') throw new JournalError('schema', `schema ${location.schema} holds tables but no journal: not a kraken-rx journal`);
    await client.query(tables(s));
    await client.query(`INSERT INTO ${s}.meta (key, value) VALUES ('account', $1), ('schema_version', $2)`, [location.account, String(PG_SCHEMA_VERSION)]);
    return;
  }
  const rows = await client.query<{ key: string; value: string }>(`SELECT key, value FROM ${s}.meta`);
  const value = (key: string): string | undefined => rows.rows.find((row) => row.key === key)?.value;
  const version = value('schema_version');
  if (version === '1') {
    await client.query(migrate1To2(s));
  } else if (version !== String(PG_SCHEMA_VERSION)) {
    throw new JournalError('schema', `schema ${location.schema} has journal schema version ${String(version)}; this version reads ${PG_SCHEMA_VERSION}`);
  }
  const account = value('account');
  if (account === undefined) throw new JournalError('corrupt', `schema ${location.schema}: table meta, column value: no account recorded`);
  if (account !== location.account) {
    throw new JournalError(
      'account-mismatch',
      `schema ${location.schema} is the journal of account ${account}, not of ${location.account} (the API key in use): ` +
        'use the schema of this account, or start a fresh one',
    );
  }
}

/** The calls of a pool still under way, so that closing can wait for them before it ends the pool. */
export class InFlight {
  private readonly calls = new Set<Promise<unknown>>();

  track<T>(call: Promise<T>): Promise<T> {
    this.calls.add(call);
    const forget = (): void => {
      this.calls.delete(call);
    };
    call.then(forget, forget);
    return call;
  }

  /** Resolves once every call tracked so far has settled (whatever their outcome). */
  async drained(): Promise<void> {
    await Promise.allSettled([...this.calls]);
  }
}

/** A BIGINT column as pg returns it (a string), checked into a safe integer. */
function integer(value: unknown, where: string): number {
  const n = typeof value === 'string' && /^-?\d+$/.test(value) ? Number(value) : Number.NaN;
  if (!Number.isSafeInteger(n)) throw new JournalError('corrupt', `${where}: expected an integer, found ${String(value)}`);
  return n;
}

interface Entry {
  readonly seq: number;
  readonly at: number;
  readonly body: BodyReader;
}

interface EntryRow {
  readonly seq: string;
  readonly kind: string;
  readonly at: string;
  readonly body: string;
  readonly client_order_id: string | null;
}

function entryOf(row: EntryRow, kind: string): Entry {
  const seq = integer(row.seq, `journal ${kind} row, column seq`);
  const where = `journal entry ${seq} (${kind})`;
  if (row.kind !== kind) throw new JournalError('corrupt', `${where}, column kind: expected ${kind}, found ${row.kind}`);
  return { seq, at: integer(row.at, `${where}, column at`), body: BodyReader.parse(`${where}, column body`, row.body) };
}

const isUniqueViolation = (error: unknown): boolean => errorCode(error) === '23505';

/**
 * Opens the shared journal: the account's schema on a PostgreSQL server (created on first open), one
 * transaction per append that first locks the lease row and checks the epoch (a stale epoch: a `fenced`
 * error saying the lease was lost, and nothing written). Another machine opening the same schema with a newer
 * lease takes the account over with its whole state.
 *
 * @param options Where, for which account, under which lease epoch.
 * @returns The journal, open; rejects with a `JournalError` as `preparePgSchema` does.
 */
export async function openPgJournal(options: PgJournalOptions): Promise<Journal> {
  const s = quotedSchema(options.schema);
  if (!Number.isSafeInteger(options.epoch) || options.epoch < 1) throw new JournalError('misuse', `journal epoch: expected a positive integer, given ${options.epoch}`);
  const pool = new pg.Pool({ connectionString: options.connectionString, max: 2 });
  // An idle connection's error (the server restarting) must not crash the process; the next call reports it.
  pool.on('error', () => undefined);
  try {
    await inTransaction(pool, 'BEGIN', (client) => preparePgSchema(client, options));
  } catch (error: unknown) {
    await pool.end().catch(() => undefined);
    throw asJournalError('open', error);
  }
  return pgJournal(pool, s, options);
}

type Query = (text: string, values?: readonly unknown[]) => Promise<pg.QueryResult<EntryRow>>;

function pgJournal(pool: pg.Pool, s: string, options: PgJournalOptions): Journal {
  const columns = 'seq, kind, at, body, client_order_id';
  let open = true;
  const inFlight = new InFlight();

  const call = <T>(what: string, work: () => Promise<T>): Observable<T> =>
    defer(() => {
      if (!open) throw new JournalError('storage', `journal ${what}: the journal ${options.schema} is closed`);
      return from(inFlight.track(work()));
    }).pipe(catchError((error: unknown) => throwError(() => asJournalError(what, error))));

  const queryOf =
    (client: pg.ClientBase): Query =>
    (text, values) =>
      client.query<EntryRow>(text, values === undefined ? undefined : [...values]);

  /** A write: the lease row locked and its epoch checked first, then the work, in one transaction. */
  const write = <T>(what: string, work: (query: Query) => Promise<T>): Observable<T> =>
    call(what, () =>
      inTransaction(pool, 'BEGIN', async (client) => {
        const lease = await client.query<{ epoch: string }>(`SELECT epoch FROM ${s}.lease WHERE account = $1 FOR UPDATE`, [options.account]);
        const current = lease.rows[0] === undefined ? null : integer(lease.rows[0].epoch, `schema ${options.schema}: table lease, column epoch`);
        if (current !== options.epoch) {
          throw new JournalError(
            'fenced',
            `journal ${what} refused: this handler's lease (epoch ${options.epoch}) is no longer the account's ` +
              `(${current === null ? 'no lease held' : `epoch ${current}`}): another handler has taken it over`,
          );
        }
        return work(queryOf(client));
      }),
    );
  /** A read in one snapshot, so a listing is consistent while another connection appends. */
  const read = <T>(what: string, work: (query: Query) => Promise<T>): Observable<T> =>
    call(what, () => inTransaction(pool, 'BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY', (client) => work(queryOf(client))));

  const append = async (
    query: Query,
    row: { kind: string; at: number; signalId?: string; clientOrderId?: string; commandId?: string; tradeId?: string; txid?: string; event?: string; body: string },
  ): Promise<number> => {
    const result = await query(
      `INSERT INTO ${s}.entries (kind, at, signal_id, client_order_id, command_id, trade_id, txid, event, body)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) RETURNING ${columns}`,
      [row.kind, row.at, row.signalId ?? null, row.clientOrderId ?? null, row.commandId ?? null, row.tradeId ?? null, row.txid ?? null, row.event ?? null, row.body],
    );
    const stored = result.rows[0];
    if (stored === undefined) throw new JournalError('storage', `journal ${row.kind}: the insert returned no row`);
    return integer(stored.seq, `journal ${row.kind}, column seq`);
  };

  const one = async (query: Query, where: string, value: string): Promise<EntryRow | undefined> =>
    (await query(`SELECT ${columns} FROM ${s}.entries WHERE ${where} = $1`, [value])).rows[0];
  const signalRow = (query: Query, signalId: string) => one(query, "kind = 'signal' AND signal_id", signalId);
  const intentRow = (query: Query, clientOrderId: string) => one(query, "kind = 'intent' AND client_order_id", clientOrderId);
  const commandRow = (query: Query, commandId: string) => one(query, "kind = 'close-command' AND command_id", commandId);

  const readSignal = (row: EntryRow): JournaledSignal => {
    const entry = entryOf(row, 'signal');
    return { ...decodeSignal(entry.body), seq: entry.seq };
  };
  const readCommand = (row: EntryRow): JournaledCloseCommand => {
    const entry = entryOf(row, 'close-command');
    return { ...decodeCloseCommand(entry.body), seq: entry.seq };
  };
  const eventOf = (row: EntryRow): JournaledEvent => {
    const stored = entryOf(row, 'transition');
    return { seq: stored.seq, at: stored.at, event: decodeEvent(stored.body) };
  };
  const readOrder = (intent: EntryRow, events: readonly EntryRow[]): JournaledOrder => {
    const entry = entryOf(intent, 'intent');
    return foldJournaledOrder(decodeIntent(entry.body), entry.seq, events.map(eventOf));
  };
  const orderOf = async (query: Query, intent: EntryRow): Promise<JournaledOrder> => {
    const events = await query(`SELECT ${columns} FROM ${s}.entries WHERE kind = 'transition' AND client_order_id = $1 ORDER BY seq`, [
      intent.client_order_id,
    ]);
    return readOrder(intent, events.rows);
  };
  /** Orders of the given intents, their transitions read in one query and grouped here. */
  const ordersOf = async (query: Query, intents: readonly EntryRow[], openOnly: boolean): Promise<JournaledOrder[]> => {
    const events = await query(
      openOnly
        ? `SELECT e.seq, e.kind, e.at, e.body, e.client_order_id FROM ${s}.entries e JOIN ${s}.order_status o
             ON o.client_order_id = e.client_order_id AND NOT o.final WHERE e.kind = 'transition' ORDER BY e.seq`
        : `SELECT ${columns} FROM ${s}.entries WHERE kind = 'transition' ORDER BY seq`,
    );
    const byOrder = new Map<string, EntryRow[]>();
    for (const row of events.rows) {
      const key = row.client_order_id ?? '';
      byOrder.set(key, [...(byOrder.get(key) ?? []), row]);
    }
    return intents.map((intent) => readOrder(intent, byOrder.get(intent.client_order_id ?? '') ?? []));
  };

  const latest = <T>(kind: 'halt' | 'rate-counters', decode: (body: BodyReader) => T): Observable<T | null> =>
    read(kind === 'halt' ? 'lastHalt' : 'lastRateCounters', async (query) => {
      const row = (await query(`SELECT ${columns} FROM ${s}.entries WHERE kind = $1 ORDER BY seq DESC LIMIT 1`, [kind])).rows[0];
      return row === undefined ? null : decode(entryOf(row, kind).body);
    });

  return {
    account: options.account,

    recordSignal: (signal: SignalRecord) =>
      write('recordSignal', async (query): Promise<Admission<JournaledSignal>> => {
        const body = encodeSignal(signal);
        const first = await signalRow(query, signal.signalId);
        if (first !== undefined) return { kind: 'duplicate', first: readSignal(first) };
        return { kind: 'recorded', seq: await append(query, { kind: 'signal', at: signal.receivedAt, signalId: signal.signalId, body }) };
      }),

    recordIntent: (intent: OrderIntentRecord) =>
      write('recordIntent', async (query): Promise<Sequenced> => {
        const body = encodeIntent(intent);
        if ((await intentRow(query, intent.clientOrderId)) !== undefined) {
          throw new JournalError('misuse', `an intent for client order id ${intent.clientOrderId} is already journaled`);
        }
        const seq = await append(query, { kind: 'intent', at: intent.createdAt, signalId: intent.signalId, clientOrderId: intent.clientOrderId, body });
        await query(`INSERT INTO ${s}.order_status (client_order_id, final) VALUES ($1, false)`, [intent.clientOrderId]);
        return { seq };
      }),

    recordTransition: (clientOrderId: string, event: LifecycleEvent, at: number) =>
      write('recordTransition', async (query): Promise<JournaledTransition> => {
        const intent = await intentRow(query, clientOrderId);
        if (intent === undefined) throw new JournalError('misuse', `no intent journaled for client order id ${clientOrderId}`);
        const step = transition((await orderOf(query, intent)).state, event);
        if (step.kind !== 'moved') return step;
        if (!Number.isSafeInteger(at)) throw new JournalError('misuse', `journal record field at: expected an integer, given ${at}`);
        const body = encodeEvent(event);
        const tradeId = event.kind === 'fill' ? event.tradeId : undefined;
        if (tradeId !== undefined) {
          // Checked before the insert: a failed statement would abort the whole transaction.
          const owner = (await query(`SELECT ${columns} FROM ${s}.entries WHERE trade_id = $1`, [tradeId])).rows[0];
          if (owner !== undefined) throw new JournalError('misuse', `trade ${tradeId} is already journaled for order ${String(owner.client_order_id)}, not ${clientOrderId}`);
        }
        let seq: number;
        try {
          seq = await append(query, { kind: 'transition', at, clientOrderId, ...(tradeId === undefined ? {} : { tradeId }), event: event.kind, body });
        } catch (error: unknown) {
          if (isUniqueViolation(error)) throw new JournalError('misuse', `trade ${String(tradeId)} was journaled by another writer meanwhile`, { cause: error });
          throw error;
        }
        if (isFinalOrderStatus(step.state.status)) await query(`UPDATE ${s}.order_status SET final = true WHERE client_order_id = $1`, [clientOrderId]);
        return { ...step, seq };
      }),

    recordCloseCommand: (command: CloseCommandRecord) =>
      write('recordCloseCommand', async (query): Promise<Admission<JournaledCloseCommand>> => {
        const body = encodeCloseCommand(command);
        const first = await commandRow(query, command.commandId);
        if (first !== undefined) return { kind: 'duplicate', first: readCommand(first) };
        return { kind: 'recorded', seq: await append(query, { kind: 'close-command', at: command.receivedAt, commandId: command.commandId, body }) };
      }),

    recordSignalOutcome: (outcome: SignalOutcomeRecord) =>
      write('recordSignalOutcome', async (query): Promise<Admission<JournaledSignalOutcome>> => {
        const body = encodeSignalOutcome(outcome);
        if ((await signalRow(query, outcome.signalId)) === undefined) throw new JournalError('misuse', `no signal journaled with signalId ${outcome.signalId}`);
        const first = await one(query, "kind = 'signal-outcome' AND signal_id", outcome.signalId);
        if (first !== undefined) {
          const entry = entryOf(first, 'signal-outcome');
          return { kind: 'duplicate', first: { ...decodeSignalOutcome(entry.body), seq: entry.seq } };
        }
        return { kind: 'recorded', seq: await append(query, { kind: 'signal-outcome', at: outcome.at, signalId: outcome.signalId, body }) };
      }),

    recordForeignOrder: (order: ForeignOrderRecord) =>
      write('recordForeignOrder', async (query): Promise<Admission<JournaledForeignOrder>> => {
        const body = encodeForeignOrder(order);
        const first = await one(query, "kind = 'foreign-order' AND txid", order.txid);
        if (first !== undefined) {
          const entry = entryOf(first, 'foreign-order');
          return { kind: 'duplicate', first: { ...decodeForeignOrder(entry.body), seq: entry.seq } };
        }
        return { kind: 'recorded', seq: await append(query, { kind: 'foreign-order', at: order.at, txid: order.txid, body }) };
      }),

    recordHalt: (halt: HaltRecord) => write('recordHalt', async (query) => ({ seq: await append(query, { kind: 'halt', at: halt.at, body: encodeHalt(halt) }) })),
    recordRateCounters: (counters: RateCountersRecord) =>
      write('recordRateCounters', async (query) => ({ seq: await append(query, { kind: 'rate-counters', at: counters.at, body: encodeRateCounters(counters) }) })),

    signal: (signalId) =>
      read('signal', async (query) => {
        const row = await signalRow(query, signalId);
        return row === undefined ? null : readSignal(row);
      }),
    order: (clientOrderId) =>
      read('order', async (query) => {
        const row = await intentRow(query, clientOrderId);
        return row === undefined ? null : orderOf(query, row);
      }),
    orders: () =>
      read('orders', async (query) => ordersOf(query, (await query(`SELECT ${columns} FROM ${s}.entries WHERE kind = 'intent' ORDER BY seq`)).rows, false)),
    unresolvedOrders: () =>
      read('unresolvedOrders', async (query) => {
        const intents = await query(
          `SELECT e.seq, e.kind, e.at, e.body, e.client_order_id FROM ${s}.order_status o
             JOIN ${s}.entries e ON e.kind = 'intent' AND e.client_order_id = o.client_order_id WHERE NOT o.final ORDER BY e.seq`,
        );
        return ordersOf(query, intents.rows, true);
      }),
    closeCommands: () =>
      read('closeCommands', async (query) => (await query(`SELECT ${columns} FROM ${s}.entries WHERE kind = 'close-command' ORDER BY seq`)).rows.map(readCommand)),
    signalsWithoutOrder: () =>
      read('signalsWithoutOrder', async (query) =>
        (
          await query(
            `SELECT s.seq, s.kind, s.at, s.body, s.client_order_id FROM ${s}.entries s WHERE s.kind = 'signal'
               AND NOT EXISTS (SELECT 1 FROM ${s}.entries i WHERE i.kind = 'intent' AND i.signal_id = s.signal_id)
               AND NOT EXISTS (SELECT 1 FROM ${s}.entries o WHERE o.kind = 'signal-outcome' AND o.signal_id = s.signal_id)
             ORDER BY s.seq`,
          )
        ).rows.map(readSignal),
      ),
    lastHalt: () => latest('halt', decodeHalt),
    lastRateCounters: () => latest('rate-counters', decodeRateCounters),

    close: () =>
      defer(async () => {
        if (!open) return;
        open = false;
        // Calls under way finish first: ending the pool beneath a query can leave that query hanging for ever.
        await inFlight.drained();
        await pool.end();
      }).pipe(catchError((error: unknown) => throwError(() => asJournalError('close', error)))),
  };
}
