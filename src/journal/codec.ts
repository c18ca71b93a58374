import { Decimal } from 'decimal.js';
import {
  type CloseCommandRecord,
  type ForeignOrderRecord,
  type HaltRecord,
  JournalError,
  type OrderDuties,
  type OrderIntentRecord,
  type RateCountersRecord,
  type SignalOutcomeRecord,
  type SignalRecord,
} from '../model/journal';
import { type ExchangeOrderType } from '../model/order';
import { type LifecycleEvent } from '../model/order-state';
import { type OrderRole } from '../model/report';

/**
 * Journal records to and from the JSON text a store keeps in its `body` column. Money is a decimal string
 * (never a JSON number, which would round it); reading back is strict and names the entry, the column and
 * the field at fault, since a journal that is read wrong trades wrong. Shared by every SQL store.
 */

type Json = string | number | boolean | null | readonly Json[] | { readonly [key: string]: Json };

/**
 * Writes are checked as strictly as reads: a value that could not be read back (a NaN decimal, a fractional
 * or unsafe time, an empty id) is refused before it is stored, since an unreadable journal stops the start.
 */
const misuse = (field: string, what: string, value: unknown): JournalError =>
  new JournalError('misuse', `journal record field ${field}: ${what}, given ${String(value)}`);

function dec(field: string, value: Decimal): string {
  if (!value.isFinite()) throw misuse(field, 'expected a finite decimal', value);
  return value.toFixed();
}

const decOrNull = (field: string, value: Decimal | null): string | null => (value === null ? null : dec(field, value));

function int(field: string, value: number): number {
  if (!Number.isSafeInteger(value)) throw misuse(field, 'expected an integer', value);
  return value;
}

const intOrNull = (field: string, value: number | null): number | null => (value === null ? null : int(field, value));

function num(field: string, value: number): number {
  if (!Number.isFinite(value)) throw misuse(field, 'expected a finite number', value);
  return value;
}

function id(field: string, value: string): string {
  if (value === '') throw misuse(field, 'expected a non-empty id', '""');
  return value;
}

const idOrNull = (field: string, value: string | null): string | null => (value === null ? null : id(field, value));

export const encodeSignal = (s: SignalRecord): string =>
  JSON.stringify({
    signalId: id('signalId', s.signalId),
    receivedAt: int('receivedAt', s.receivedAt),
    pair: id('pair', s.pair),
    side: s.side,
    orderType: s.orderType,
    quantity: dec('quantity', s.quantity),
    limitPrice: decOrNull('limitPrice', s.limitPrice),
    stopLoss: decOrNull('stopLoss', s.stopLoss),
    takeProfit: decOrNull('takeProfit', s.takeProfit),
    timeoutMs: intOrNull('timeoutMs', s.timeoutMs),
  } satisfies Json);

const encodeDuties = (d: OrderDuties): Json => ({
  stopLoss: decOrNull('duties.stopLoss', d.stopLoss),
  takeProfit: decOrNull('duties.takeProfit', d.takeProfit),
  limitTimeoutMs: intOrNull('duties.limitTimeoutMs', d.limitTimeoutMs),
  protectionMode: d.protectionMode,
});

export const encodeIntent = (i: OrderIntentRecord): string =>
  JSON.stringify({
    clientOrderId: id('clientOrderId', i.clientOrderId),
    signalId: id('signalId', i.signalId),
    role: i.role,
    parentClientOrderId: idOrNull('parentClientOrderId', i.parentClientOrderId),
    pair: id('pair', i.pair),
    side: i.side,
    orderType: i.orderType,
    volume: dec('volume', i.volume),
    price: decOrNull('price', i.price),
    price2: decOrNull('price2', i.price2),
    deadlineMs: int('deadlineMs', i.deadlineMs),
    duties: encodeDuties(i.duties),
    createdAt: int('createdAt', i.createdAt),
  } satisfies Json);

export function encodeEvent(e: LifecycleEvent): string {
  const body: Json = (() => {
    switch (e.kind) {
      case 'sent':
        return { kind: e.kind, deadline: int('deadline', e.deadline) };
      case 'accepted':
      case 'found':
        return { kind: e.kind, txid: id('txid', e.txid) };
      case 'ambiguous':
      case 'cancel-sent':
      case 'cancel-withdrawn':
      case 'rejected':
      case 'failed':
        return { kind: e.kind, reason: e.reason };
      case 'proven-absent':
      case 'cancel-missed':
        return { kind: e.kind };
      case 'fill':
        return {
          kind: e.kind,
          txid: id('txid', e.txid),
          tradeId: id('tradeId', e.tradeId),
          quantity: dec('quantity', e.quantity),
          price: dec('price', e.price),
          fee: dec('fee', e.fee),
          volumeExecuted: dec('volumeExecuted', e.volumeExecuted),
        };
      case 'final':
        return { kind: e.kind, outcome: e.outcome, volumeExecuted: dec('volumeExecuted', e.volumeExecuted), reason: e.reason };
      case 'expired':
        return { kind: e.kind, volumeExecuted: dec('volumeExecuted', e.volumeExecuted), reason: e.reason };
    }
  })();
  return JSON.stringify(body);
}

export const encodeCloseCommand = (c: CloseCommandRecord): string =>
  JSON.stringify({
    commandId: id('commandId', c.commandId),
    pair: id('pair', c.pair),
    quantity: decOrNull('quantity', c.quantity),
    receivedAt: int('receivedAt', c.receivedAt),
  } satisfies Json);

export const encodeHalt = (h: HaltRecord): string => JSON.stringify({ halted: h.halted, at: int('at', h.at) } satisfies Json);

export const encodeRateCounters = (r: RateCountersRecord): string =>
  JSON.stringify({
    at: int('at', r.at),
    rest: r.rest === null ? null : num('rest', r.rest),
    trading: r.trading.map((t) => ({ pair: id('trading.pair', t.pair), units: num('trading.units', t.units) })),
  } satisfies Json);

export const encodeSignalOutcome = (o: SignalOutcomeRecord): string =>
  JSON.stringify({ signalId: id('signalId', o.signalId), status: o.status, reason: o.reason, at: int('at', o.at) } satisfies Json);

export const encodeForeignOrder = (o: ForeignOrderRecord): string =>
  JSON.stringify({
    txid: id('txid', o.txid),
    clientOrderId: idOrNull('clientOrderId', o.clientOrderId),
    pair: id('pair', o.pair),
    side: o.side,
    orderType: o.orderType,
    volume: dec('volume', o.volume),
    at: int('at', o.at),
  } satisfies Json);

const DECIMAL = /^-?\d+(\.\d+)?$/;

/** Reads one stored entry's fields, naming the entry, the column and the field in every refusal. */
export class BodyReader {
  private readonly fields: Readonly<Record<string, unknown>>;

  private constructor(
    private readonly where: string,
    fields: Readonly<Record<string, unknown>>,
  ) {
    this.fields = fields;
  }

  /**
   * @param where e.g. `journal entry 12 (intent), column body` — how refusals name the place.
   * @param text The stored JSON.
   */
  static parse(where: string, text: unknown): BodyReader {
    if (typeof text !== 'string') throw corrupt(`${where}: not text`);
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch {
      throw corrupt(`${where}: not JSON`);
    }
    return BodyReader.of(where, parsed);
  }

  private static of(where: string, value: unknown): BodyReader {
    if (typeof value !== 'object' || value === null || Array.isArray(value)) throw corrupt(`${where}: not an object`);
    return new BodyReader(where, value as Readonly<Record<string, unknown>>);
  }

  private fail(field: string, what: string, value: unknown): JournalError {
    return corrupt(`${this.where}, field ${field}: ${what}, found ${JSON.stringify(value) ?? String(value)}`);
  }

  /** Any text, the empty string included (a reason). */
  string(field: string): string {
    const value = this.fields[field];
    if (typeof value !== 'string') throw this.fail(field, 'expected a string', value);
    return value;
  }

  stringOrNull(field: string): string | null {
    return this.fields[field] === null ? null : this.string(field);
  }

  /** An identifier: non-empty text. */
  id(field: string): string {
    const value = this.fields[field];
    if (typeof value !== 'string' || value === '') throw this.fail(field, 'expected a non-empty id', value);
    return value;
  }

  idOrNull(field: string): string | null {
    return this.fields[field] === null ? null : this.id(field);
  }

  integer(field: string): number {
    const value = this.fields[field];
    if (typeof value !== 'number' || !Number.isSafeInteger(value)) throw this.fail(field, 'expected an integer', value);
    return value;
  }

  integerOrNull(field: string): number | null {
    return this.fields[field] === null ? null : this.integer(field);
  }

  number(field: string): number {
    const value = this.fields[field];
    if (typeof value !== 'number' || !Number.isFinite(value)) throw this.fail(field, 'expected a number', value);
    return value;
  }

  numberOrNull(field: string): number | null {
    return this.fields[field] === null ? null : this.number(field);
  }

  boolean(field: string): boolean {
    const value = this.fields[field];
    if (typeof value !== 'boolean') throw this.fail(field, 'expected true or false', value);
    return value;
  }

  decimal(field: string): Decimal {
    const value = this.fields[field];
    if (typeof value !== 'string' || !DECIMAL.test(value)) throw this.fail(field, 'expected a decimal string', value);
    return new Decimal(value);
  }

  decimalOrNull(field: string): Decimal | null {
    return this.fields[field] === null ? null : this.decimal(field);
  }

  oneOf<const T extends string>(field: string, allowed: readonly T[]): T {
    const value = this.fields[field];
    const found = allowed.find((candidate) => candidate === value);
    if (found === undefined) throw this.fail(field, `expected one of ${allowed.join(', ')}`, value);
    return found;
  }

  oneOfOrNull<const T extends string>(field: string, allowed: readonly T[]): T | null {
    return this.fields[field] === null ? null : this.oneOf(field, allowed);
  }

  object(field: string): BodyReader {
    return BodyReader.of(`${this.where}, field ${field}`, this.fields[field]);
  }

  objects(field: string): BodyReader[] {
    const value = this.fields[field];
    if (!Array.isArray(value)) throw this.fail(field, 'expected a list', value);
    return value.map((item: unknown, at) => BodyReader.of(`${this.where}, field ${field}[${at}]`, item));
  }
}

const corrupt = (message: string): JournalError => new JournalError('corrupt', message);

const SIDES = ['buy', 'sell'] as const;
const ROLES = ['entry', 'stop-loss', 'take-profit', 'close'] as const satisfies readonly OrderRole[];
const ORDER_TYPES = ['market', 'limit', 'stop-loss', 'take-profit', 'stop-loss-limit', 'take-profit-limit'] as const satisfies readonly ExchangeOrderType[];
const PROTECTION_MODES = ['stop-resting', 'both-resting'] as const;
const EVENT_KINDS = [
  'sent',
  'accepted',
  'ambiguous',
  'found',
  'proven-absent',
  'fill',
  'cancel-sent',
  'cancel-missed',
  'cancel-withdrawn',
  'final',
  'expired',
  'rejected',
  'failed',
] as const satisfies readonly LifecycleEvent['kind'][];

export const decodeSignal = (r: BodyReader): SignalRecord => ({
  signalId: r.id('signalId'),
  receivedAt: r.integer('receivedAt'),
  pair: r.id('pair'),
  side: r.oneOf('side', SIDES),
  orderType: r.oneOf('orderType', ['market', 'limit']),
  quantity: r.decimal('quantity'),
  limitPrice: r.decimalOrNull('limitPrice'),
  stopLoss: r.decimalOrNull('stopLoss'),
  takeProfit: r.decimalOrNull('takeProfit'),
  timeoutMs: r.integerOrNull('timeoutMs'),
});

const decodeDuties = (r: BodyReader): OrderDuties => ({
  stopLoss: r.decimalOrNull('stopLoss'),
  takeProfit: r.decimalOrNull('takeProfit'),
  limitTimeoutMs: r.integerOrNull('limitTimeoutMs'),
  protectionMode: r.oneOfOrNull('protectionMode', PROTECTION_MODES),
});

export const decodeIntent = (r: BodyReader): OrderIntentRecord => ({
  clientOrderId: r.id('clientOrderId'),
  signalId: r.id('signalId'),
  role: r.oneOf('role', ROLES),
  parentClientOrderId: r.idOrNull('parentClientOrderId'),
  pair: r.id('pair'),
  side: r.oneOf('side', SIDES),
  orderType: r.oneOf('orderType', ORDER_TYPES),
  volume: r.decimal('volume'),
  price: r.decimalOrNull('price'),
  price2: r.decimalOrNull('price2'),
  deadlineMs: r.integer('deadlineMs'),
  duties: decodeDuties(r.object('duties')),
  createdAt: r.integer('createdAt'),
});

export function decodeEvent(r: BodyReader): LifecycleEvent {
  const kind = r.oneOf('kind', EVENT_KINDS);
  switch (kind) {
    case 'sent':
      return { kind, deadline: r.integer('deadline') };
    case 'accepted':
    case 'found':
      return { kind, txid: r.id('txid') };
    case 'ambiguous':
    case 'cancel-sent':
    case 'cancel-withdrawn':
    case 'rejected':
    case 'failed':
      return { kind, reason: r.string('reason') };
    case 'proven-absent':
    case 'cancel-missed':
      return { kind };
    case 'fill':
      return {
        kind,
        txid: r.id('txid'),
        tradeId: r.id('tradeId'),
        quantity: r.decimal('quantity'),
        price: r.decimal('price'),
        fee: r.decimal('fee'),
        volumeExecuted: r.decimal('volumeExecuted'),
      };
    case 'final':
      return { kind, outcome: r.oneOf('outcome', ['closed', 'canceled']), volumeExecuted: r.decimal('volumeExecuted'), reason: r.stringOrNull('reason') };
    case 'expired':
      return { kind, volumeExecuted: r.decimal('volumeExecuted'), reason: r.stringOrNull('reason') };
  }
}

export const decodeCloseCommand = (r: BodyReader): CloseCommandRecord => ({
  commandId: r.id('commandId'),
  pair: r.id('pair'),
  quantity: r.decimalOrNull('quantity'),
  receivedAt: r.integer('receivedAt'),
});

export const decodeHalt = (r: BodyReader): HaltRecord => ({ halted: r.boolean('halted'), at: r.integer('at') });

export const decodeRateCounters = (r: BodyReader): RateCountersRecord => ({
  at: r.integer('at'),
  rest: r.numberOrNull('rest'),
  trading: r.objects('trading').map((t) => ({ pair: t.id('pair'), units: t.number('units') })),
});

export const decodeSignalOutcome = (r: BodyReader): SignalOutcomeRecord => ({
  signalId: r.id('signalId'),
  status: r.oneOf('status', ['REJECTED']),
  reason: r.string('reason'),
  at: r.integer('at'),
});

export const decodeForeignOrder = (r: BodyReader): ForeignOrderRecord => ({
  txid: r.id('txid'),
  clientOrderId: r.idOrNull('clientOrderId'),
  pair: r.id('pair'),
  side: r.oneOf('side', SIDES),
  orderType: r.string('orderType'),
  volume: r.decimal('volume'),
  at: r.integer('at'),
});
