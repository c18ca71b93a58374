import { type Decimal } from 'decimal.js';
import { type Observable } from 'rxjs';
import { type ProtectionMode } from './config';
import { type ExchangeOrderType } from './order';
import { type LifecycleEvent, type OrderState, type Transition } from './order-state';
import { type OrderRole } from './report';
import { type Side } from './signal';

/** A signal as journaled once it has been checked: the idempotency key and what it asked for. */
export interface SignalRecord {
  /** Unique across the journal's whole life: a second signal with it is a duplicate, across restarts too. */
  readonly signalId: string;
  /** Epoch ms, from the handler's scheduler. */
  readonly receivedAt: number;
  /** The pair's canonical key. */
  readonly pair: string;
  readonly side: Side;
  readonly orderType: 'market' | 'limit';
  readonly quantity: Decimal;
  readonly limitPrice: Decimal | null;
  readonly stopLoss: Decimal | null;
  readonly takeProfit: Decimal | null;
  readonly timeoutMs: number | null;
}

/**
 * What only the handler knows about an order, and must still do after a restart: the exchange holds none
 * of it (Kraken spot has no OCO, and the take-profit is watched client-side).
 */
export interface OrderDuties {
  /** The stop that protects what this entry fills. */
  readonly stopLoss: Decimal | null;
  /** Watched client-side from the ticker; on reaching it the stop is cancelled and the position closed. */
  readonly takeProfit: Decimal | null;
  /** Limit entries: cancel what has not filled this long after acceptance. */
  readonly limitTimeoutMs: number | null;
  /** How the entry's protection rests; `null` for orders that protect nothing. */
  readonly protectionMode: ProtectionMode | null;
}

/** An order about to be sent, journaled before the first attempt (write-ahead). */
export interface OrderIntentRecord {
  /** Kraken `cl_ord_id`: fixed here, kept across every attempt; unique in the journal. */
  readonly clientOrderId: string;
  /** The signal or close command behind it. */
  readonly signalId: string;
  readonly role: OrderRole;
  /** The entry a protective order protects or an exit closes; `null` for an entry. */
  readonly parentClientOrderId: string | null;
  /** The pair's canonical key. */
  readonly pair: string;
  readonly side: Side;
  readonly orderType: ExchangeOrderType;
  readonly volume: Decimal;
  /** Limit price, or trigger price of a stop-loss / take-profit. */
  readonly price: Decimal | null;
  /** Limit price of a triggered -limit order. */
  readonly price2: Decimal | null;
  /**
   * How long the exchange may queue each attempt (Kraken `deadline` = send time + this). Each send's own
   * deadline is journaled with its `sent` event, since it is stamped at the moment of sending.
   */
  readonly deadlineMs: number;
  readonly duties: OrderDuties;
  /** Epoch ms. */
  readonly createdAt: number;
}

export interface CloseCommandRecord {
  /** Unique: a command replayed after a restart is recognised. */
  readonly commandId: string;
  readonly pair: string;
  /** `null`: the whole tracked position. */
  readonly quantity: Decimal | null;
  readonly receivedAt: number;
}

export interface HaltRecord {
  readonly halted: boolean;
  readonly at: number;
}

/** The rate limiters' levels as last seen: a restart starts from these, or from full counters when unknown. */
export interface RateCountersRecord {
  readonly at: number;
  /** Units on the per-key REST counter; `null` when the tier has none. */
  readonly rest: number | null;
  /** Units on each pair's trading counter, by pair key. */
  readonly trading: readonly { readonly pair: string; readonly units: number }[];
}

/**
 * The one final report a journaled signal got at a start because no order intent of it was ever journaled (the
 * process stopped between the two writes, so nothing was sent for it): journaled so no later start reports it again.
 */
export interface SignalOutcomeRecord {
  readonly signalId: string;
  readonly status: 'REJECTED';
  readonly reason: string;
  /** Epoch ms. */
  readonly at: number;
}

/** An order on the account that the handler did not place, as reported once: a later start does not report it again. */
export interface ForeignOrderRecord {
  /** Unique in the journal. */
  readonly txid: string;
  readonly clientOrderId: string | null;
  /** As the exchange names it. */
  readonly pair: string;
  readonly side: Side;
  readonly orderType: string;
  readonly volume: Decimal;
  /** Epoch ms: when it was first reported. */
  readonly at: number;
}

/** Where an entry sits in the journal: appends are numbered in the order they were committed. */
export interface Sequenced {
  readonly seq: number;
}

export type JournaledSignal = SignalRecord & Sequenced;
export type JournaledCloseCommand = CloseCommandRecord & Sequenced;
export type JournaledSignalOutcome = SignalOutcomeRecord & Sequenced;
export type JournaledForeignOrder = ForeignOrderRecord & Sequenced;

/** One transition as journaled: the event and when it was seen. */
export interface JournaledEvent extends Sequenced {
  readonly at: number;
  readonly event: LifecycleEvent;
}

/** An order read back: its intent, every event journaled for it, and their fold through `transition`. */
export interface JournaledOrder {
  readonly intent: OrderIntentRecord;
  readonly intentSeq: number;
  readonly events: readonly JournaledEvent[];
  readonly state: OrderState;
}

/** A signal or close command offered to the journal: recorded, or the first one with that id. */
export type Admission<T> = { readonly kind: 'recorded'; readonly seq: number } | { readonly kind: 'duplicate'; readonly first: T };

/**
 * A transition offered to the journal: only a `moved` one is written (and gets a `seq`); an `ignored` one
 * (a repeat, a duplicate trade id) and an `invalid` one are not, so the journal's fold is always valid.
 */
export type JournaledTransition =
  | (Extract<Transition, { kind: 'moved' }> & Sequenced)
  | Extract<Transition, { kind: 'ignored' | 'invalid' }>;

export type JournalErrorKind =
  /** The journal was written for another account (another API key). */
  | 'account-mismatch'
  /** A stored row does not parse, or the events do not fold: the file was damaged or edited. */
  | 'corrupt'
  /** The file's schema is newer than this version knows, or not a journal at all. */
  | 'schema'
  /** A transition for an order with no intent, or a second intent with one client order id: a bug of the caller. */
  | 'misuse'
  /** The store failed (disk full, I/O error, closed journal, server unreachable): the same write may succeed later. */
  | 'storage'
  /**
   * The write was refused because this handler's lease (its epoch) is no longer the account's: another handler
   * has taken the account over. Never retried: this handler must stop sending at once.
   */
  | 'fenced';

/** The one error type journals raise. Its message never contains a secret (only key fingerprints). */
export class JournalError extends Error {
  readonly kind: JournalErrorKind;

  constructor(kind: JournalErrorKind, message: string, options?: { readonly cause?: unknown }) {
    super(message, options);
    this.name = 'JournalError';
    this.kind = kind;
  }
}

export const isJournalError = (e: unknown): e is JournalError => e instanceof JournalError;

/**
 * The journal port: what the handler writes before it acts and reads back at start, so that orders outlive
 * the process. Append-only; an order's state is the fold of its events through the order state machine.
 *
 * Every method returns a cold Observable that does its work on subscription, emits once and completes, or
 * errors with a `JournalError`. An append that has emitted is committed (durable as the implementation
 * promises: the SQLite journal with `synchronous=FULL` survives a power cut). Observables, like the exchange
 * port, so a synchronous implementation runs in virtual time under marble tests.
 */
export interface Journal {
  /** The account fingerprint the journal belongs to (never a secret). */
  readonly account: string;

  /** Records a signal before anything is sent for it; a `signalId` journaled before answers `duplicate` with the first. */
  recordSignal(signal: SignalRecord): Observable<Admission<JournaledSignal>>;
  /** Records an order before its first attempt. A second intent with the same client order id is a `misuse` error. */
  recordIntent(intent: OrderIntentRecord): Observable<Sequenced>;
  /** Applies one event to a journaled order through `transition`, and writes it if it moved the order. */
  recordTransition(clientOrderId: string, event: LifecycleEvent, at: number): Observable<JournaledTransition>;
  recordCloseCommand(command: CloseCommandRecord): Observable<Admission<JournaledCloseCommand>>;
  recordHalt(halt: HaltRecord): Observable<Sequenced>;
  /**
   * Records the one report a signal without an order got at start; a second one for that signal answers `duplicate`
   * with the first. A signal never journaled is a `misuse` error.
   */
  recordSignalOutcome(outcome: SignalOutcomeRecord): Observable<Admission<JournaledSignalOutcome>>;
  /** Records an order the handler did not place as reported; a txid recorded before answers `duplicate` with the first. */
  recordForeignOrder(order: ForeignOrderRecord): Observable<Admission<JournaledForeignOrder>>;
  recordRateCounters(counters: RateCountersRecord): Observable<Sequenced>;

  signal(signalId: string): Observable<JournaledSignal | null>;
  order(clientOrderId: string): Observable<JournaledOrder | null>;
  /** Every order, in the order their intents were journaled. */
  orders(): Observable<readonly JournaledOrder[]>;
  /** Orders not in a final status: what reconciliation at start must settle with the exchange. */
  unresolvedOrders(): Observable<readonly JournaledOrder[]>;
  closeCommands(): Observable<readonly JournaledCloseCommand[]>;
  /**
   * Signals with no order intent of theirs and no recorded outcome, in journal order: journaled, then the process
   * stopped before their order was (nothing was sent for them). A start gives each its one report.
   */
  signalsWithoutOrder(): Observable<readonly JournaledSignal[]>;
  lastHalt(): Observable<HaltRecord | null>;
  lastRateCounters(): Observable<RateCountersRecord | null>;

  /** Releases the store. Later calls fail with a `storage` error. */
  close(): Observable<void>;
}
