import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import Database from 'better-sqlite3';
import { Decimal } from 'decimal.js';
import { type Observable } from 'rxjs';
import { accountFingerprint } from '../src/journal/account';
import { openMemoryJournal } from '../src/journal/memory';
import { openSqliteJournal } from '../src/journal/sqlite';
import { type Journal, type OrderIntentRecord } from '../src/model/journal';
import { type Table, count, fixed } from './table';

/** Orders per measured run: enough for a stable p99 at ~0.2 ms per fsync, little enough to take a second. */
export const JOURNAL_ORDERS = 2_000;

/** One journal's cost per append, in µs. */
export interface AppendCost {
  readonly journal: string;
  readonly operation: 'intent' | 'fill' | 'bare INSERT';
  readonly count: number;
  readonly meanUs: number;
  readonly p50Us: number;
  readonly p99Us: number;
}

const ACCOUNT = accountFingerprint('bench-key');

const intentOf = (i: number): OrderIntentRecord => ({
  clientOrderId: `bench-${i}`,
  signalId: `bench-s${i}`,
  role: 'entry',
  parentClientOrderId: null,
  pair: 'XXBTZUSD',
  side: 'buy',
  orderType: 'limit',
  volume: new Decimal('0.0123'),
  price: new Decimal('59000.1'),
  price2: null,
  deadlineMs: 10_000,
  duties: { stopLoss: new Decimal('57000'), takeProfit: new Decimal('62000'), limitTimeoutMs: 30_000, protectionMode: 'stop-resting' },
  createdAt: 1_700_000_000_000 + i,
});

/** The journal's Observables are synchronous: this takes the answer without a Promise in the timed region. */
function now<T>(observable: Observable<T>): T {
  const box: { answer?: { readonly value: T } | { readonly error: unknown } } = {};
  observable.subscribe({ next: (value) => (box.answer = { value }), error: (error: unknown) => (box.answer = { error }) }).unsubscribe();
  const answer = box.answer;
  if (answer === undefined) throw new Error('the journal call did not answer synchronously');
  if ('error' in answer) throw answer.error;
  return answer.value;
}

const percentile = (sorted: readonly number[], p: number): number => sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * p))] ?? 0;

function summarise(journal: string, operation: AppendCost['operation'], durationsMs: number[]): AppendCost {
  const sorted = [...durationsMs].sort((a, b) => a - b);
  const total = sorted.reduce((sum, ms) => sum + ms, 0);
  return {
    journal,
    operation,
    count: sorted.length,
    meanUs: (total / sorted.length) * 1_000,
    p50Us: percentile(sorted, 0.5) * 1_000,
    p99Us: percentile(sorted, 0.99) * 1_000,
  };
}

/**
 * Times each append on its own: an intent (one insert, plus its unresolved-index row), then a fill (the
 * order's events read back and folded through `transition`, then one insert), as the handler will make them.
 */
function measure(name: string, journal: Journal, orders: number): AppendCost[] {
  const intents: number[] = [];
  for (let i = 0; i < orders; i++) {
    const started = performance.now();
    now(journal.recordIntent(intentOf(i)));
    intents.push(performance.now() - started);
  }
  for (let i = 0; i < orders; i++) {
    now(journal.recordTransition(`bench-${i}`, { kind: 'sent', deadline: 1 }, 1));
    now(journal.recordTransition(`bench-${i}`, { kind: 'accepted', txid: `OBENCH-${i}` }, 2));
  }
  const fills: number[] = [];
  for (let i = 0; i < orders; i++) {
    const fill = {
      kind: 'fill',
      txid: `OBENCH-${i}`,
      tradeId: `TBENCH-${i}`,
      quantity: new Decimal('0.005'),
      price: new Decimal('59000.1'),
      fee: new Decimal('0.0767'),
      volumeExecuted: new Decimal('0.005'),
    } as const;
    const started = performance.now();
    const step = now(journal.recordTransition(`bench-${i}`, fill, 3));
    fills.push(performance.now() - started);
    if (step.kind !== 'moved') throw new Error(`bench fill ${i} was ${step.kind}`);
  }
  now(journal.close());
  return [summarise(name, 'intent', intents), summarise(name, 'fill', fills)];
}

/**
 * The floor under a SQLite journal on this disk: one `INSERT` of a short text into a one-column table, in its
 * own autocommit transaction, with the same pragmas. What the journal adds is the difference.
 */
function measureBareInsert(name: string, path: string, synchronous: 'FULL' | 'NORMAL', orders: number): AppendCost {
  const db = new Database(path);
  try {
    db.pragma('journal_mode = WAL');
    db.pragma(`synchronous = ${synchronous}`);
    db.exec('CREATE TABLE t (body TEXT NOT NULL)');
    const insert = db.prepare<[string]>('INSERT INTO t (body) VALUES (?)');
    const durations: number[] = [];
    for (let i = 0; i < orders; i++) {
      const started = performance.now();
      insert.run(`{"clientOrderId":"bench-${i}"}`);
      durations.push(performance.now() - started);
    }
    return summarise(name, 'bare INSERT', durations);
  } finally {
    db.close();
  }
}

/**
 * µs per journaled intent and per journaled fill: SQLite in WAL mode with `synchronous=FULL` (an fsync per
 * commit: survives a power cut) and `NORMAL` (survives a process crash), each on a fresh file in the temp
 * directory, beside a bare INSERT on the same settings (the disk's floor), and the in-memory journal (the fold
 * and the checks without any IO).
 */
export function measureJournal(orders = JOURNAL_ORDERS): AppendCost[] {
  const dir = mkdtempSync(join(tmpdir(), 'krx-bench-journal-'));
  try {
    const full = 'SQLite, WAL, synchronous=FULL';
    const normal = 'SQLite, WAL, synchronous=NORMAL';
    return [
      ...measure(full, openSqliteJournal({ path: join(dir, 'full.db'), account: ACCOUNT, synchronous: 'full' }), orders),
      measureBareInsert(full, join(dir, 'bare-full.db'), 'FULL', orders),
      ...measure(normal, openSqliteJournal({ path: join(dir, 'normal.db'), account: ACCOUNT, synchronous: 'normal' }), orders),
      measureBareInsert(normal, join(dir, 'bare-normal.db'), 'NORMAL', orders),
      ...measure('in memory', openMemoryJournal({ account: ACCOUNT }), orders),
    ];
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

export function journalTable(costs: readonly AppendCost[]): Table {
  return {
    title: `Journal cost per append (${count(costs[0]?.count ?? 0)} orders, each append its own transaction)`,
    columns: ['journal', 'append', 'µs mean', 'µs p50', 'µs p99'],
    rows: costs.map((c) => [c.journal, c.operation, fixed(c.meanUs, 1), fixed(c.p50Us, 1), fixed(c.p99Us, 1)]),
    notes: [
      'intent = recordIntent (one insert + the unresolved-index row); fill = recordTransition of a fill (the order read back and',
      "folded through transition(), then one insert). FULL fsyncs every commit (survives a power cut); NORMAL survives a process",
      `crash only. bare INSERT = one better-sqlite3 insert with the same pragmas: the disk's floor, without the journal. Files in ${tmpdir()}.`,
    ],
  };
}
