import { Decimal } from 'decimal.js';
import { type JournaledOrder } from '../model/journal';
import { type ExchangeOrderType, type OrderSnapshot } from '../model/order';
import { type OrderStatus, isFinalOrderStatus } from '../model/order-state';
import { type OrderRole } from '../model/report';
import { type Side } from '../model/signal';
import { jsonLine, printable } from './printable';

/**
 * What `kraken-rx status` shows: a journal's orders folded into four lists — positions, working entries, resting
 * protection and take-profit watches. Pure functions of the journaled orders (no exchange, no clock): what the
 * journal last recorded, which a reconciliation at the next start checks against the exchange.
 */

const ZERO = new Decimal(0);

/** A pair's net filled quantity: entries minus exits, signed by side (bought +, sold −). */
export interface PositionLine {
  readonly pair: string;
  readonly quantity: Decimal;
}

/** An entry not yet final: it may still fill (or be looked up, or be cancelled at its timeout). */
export interface WorkingEntryLine {
  readonly signalId: string;
  readonly clientOrderId: string;
  readonly txid: string | null;
  readonly pair: string;
  readonly side: Side;
  readonly orderType: ExchangeOrderType;
  readonly quantity: Decimal;
  readonly price: Decimal | null;
  readonly filled: Decimal;
  readonly status: OrderStatus;
  /** Epoch ms at which its limit timeout cancels what has not filled; `null` without a timeout or before acceptance. */
  readonly timeoutAt: number | null;
}

/** A protective order (stop-loss, or a resting take-profit) not yet final, with the entry it protects. */
export interface RestingProtectionLine {
  readonly signalId: string;
  readonly clientOrderId: string;
  readonly txid: string | null;
  readonly role: OrderRole;
  readonly pair: string;
  readonly side: Side;
  readonly orderType: ExchangeOrderType;
  readonly quantity: Decimal;
  /** Trigger price. */
  readonly price: Decimal | null;
  readonly filled: Decimal;
  readonly status: OrderStatus;
  /** The entry it protects; `null` when the journal names none (a protection restored by a close). */
  readonly parentClientOrderId: string | null;
}

/** A client-side take-profit the next start resumes: its entry filled, and that position is still open. */
export interface TakeProfitWatchLine {
  readonly signalId: string;
  /** The entry whose fills it closes. */
  readonly clientOrderId: string;
  readonly pair: string;
  /** The entry's side (the take-profit sells a bought position, buys back a sold one). */
  readonly side: Side;
  readonly takeProfit: Decimal;
  /** What of the entry is still open: its fills, less its exits' fills, at most the pair's net position. */
  readonly open: Decimal;
}

export interface JournalStatus {
  readonly orders: number;
  readonly positions: readonly PositionLine[];
  readonly workingEntries: readonly WorkingEntryLine[];
  readonly restingProtection: readonly RestingProtectionLine[];
  readonly takeProfitWatches: readonly TakeProfitWatchLine[];
}

const signed = (side: Side, quantity: Decimal): Decimal => (side === 'buy' ? quantity : quantity.neg());
const isLive = (order: JournaledOrder): boolean => !isFinalOrderStatus(order.state.status);

/** When the entry's limit timeout falls due: from its acceptance (or the lookup that found it). */
function timeoutAt(order: JournaledOrder): number | null {
  const timeoutMs = order.intent.duties.limitTimeoutMs;
  if (timeoutMs === null) return null;
  const accepted = order.events.find((entry) => entry.event.kind === 'accepted' || entry.event.kind === 'found');
  return accepted === undefined ? null : accepted.at + timeoutMs;
}

/**
 * Folds a journal's orders into what `status` prints.
 *
 * @param orders Every journaled order, in journal order (`Journal.orders()`).
 */
export function journalStatus(orders: readonly JournaledOrder[]): JournalStatus {
  const net = new Map<string, Decimal>();
  const exitsFilled = new Map<string, Decimal>();
  for (const order of orders) {
    const { intent, state } = order;
    net.set(intent.pair, (net.get(intent.pair) ?? ZERO).add(signed(intent.side, state.filled)));
    const parent = intent.parentClientOrderId;
    if (intent.role !== 'entry' && parent !== null) exitsFilled.set(parent, (exitsFilled.get(parent) ?? ZERO).add(state.filled));
  }
  const entries = orders.filter((order) => order.intent.role === 'entry');
  const protective = orders.filter((order) => order.intent.role === 'stop-loss' || order.intent.role === 'take-profit');

  const takeProfitWatches = entries.flatMap((order): TakeProfitWatchLine[] => {
    const { intent, state } = order;
    // With both orders resting the take-profit is on the exchange (resting protection), not watched.
    if (intent.duties.takeProfit === null || intent.duties.protectionMode === 'both-resting') return [];
    const ownOpen = state.filled.sub(exitsFilled.get(intent.clientOrderId) ?? ZERO);
    const pairOpen = Decimal.max(signed(intent.side, net.get(intent.pair) ?? ZERO), ZERO);
    const open = Decimal.min(ownOpen, pairOpen);
    if (open.lte(0)) return [];
    return [{ signalId: intent.signalId, clientOrderId: intent.clientOrderId, pair: intent.pair, side: intent.side, takeProfit: intent.duties.takeProfit, open }];
  });

  return {
    orders: orders.length,
    positions: [...net].filter(([, quantity]) => !quantity.isZero()).map(([pair, quantity]) => ({ pair, quantity })),
    workingEntries: entries.filter(isLive).map((order) => ({
      signalId: order.intent.signalId,
      clientOrderId: order.intent.clientOrderId,
      txid: order.state.txid,
      pair: order.intent.pair,
      side: order.intent.side,
      orderType: order.intent.orderType,
      quantity: order.intent.volume,
      price: order.intent.price,
      filled: order.state.filled,
      status: order.state.status,
      timeoutAt: timeoutAt(order),
    })),
    restingProtection: protective.filter(isLive).map(({ intent, state }) => ({
      signalId: intent.signalId,
      clientOrderId: intent.clientOrderId,
      txid: state.txid,
      role: intent.role,
      pair: intent.pair,
      side: intent.side,
      orderType: intent.orderType,
      quantity: intent.volume,
      price: intent.price,
      filled: state.filled,
      status: state.status,
      parentClientOrderId: intent.parentClientOrderId,
    })),
    takeProfitWatches,
  };
}

/**
 * A journaled order not final, which the exchange no longer shows open: it ended (or never arrived) while unwatched.
 * `status` is what the journal last recorded of it.
 */
export type NoLongerOpenLine = Pick<RestingProtectionLine, 'signalId' | 'clientOrderId' | 'txid' | 'role' | 'pair' | 'side' | 'orderType' | 'quantity' | 'status'>;

/** An order open on the exchange, as `status` shows one the journal does not know. */
export interface UnknownOpenLine {
  readonly txid: string;
  readonly clientOrderId: string;
  /** As the exchange names it. */
  readonly pair: string;
  readonly side: Side;
  readonly orderType: string;
  readonly volume: Decimal;
  readonly volumeExecuted: Decimal;
}

/** The journal checked against the exchange's open orders (one OpenOrders call). */
export interface ExchangeCheck {
  readonly url: string;
  /** Orders open on the exchange, all of them. */
  readonly open: number;
  readonly noLongerOpen: readonly NoLongerOpenLine[];
  /** Open with a client order id of the handler's form (the UUID it mints), which the journal does not hold. */
  readonly unknownToJournal: readonly UnknownOpenLine[];
  /** Open with no client order id of the handler's form: not the handler's (a person's, another tool's); never touched. */
  readonly others: number;
}

/** The client order ids the handler mints (`crypto.randomUUID`, Kraken's long form). */
const HANDLER_CLIENT_ORDER_ID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/**
 * Compares the journal's orders with the exchange's open orders: which orders the journal holds as open the exchange
 * no longer shows open (matched by txid, or by client order id for one never answered), and which open orders of
 * the handler's client order id form the journal does not know. Pure.
 *
 * @param orders Every journaled order.
 * @param open The exchange's open orders by txid (`ExchangePort.openOrders()`).
 * @param url The exchange asked, for the header.
 */
export function checkAgainstExchange(orders: readonly JournaledOrder[], open: ReadonlyMap<string, OrderSnapshot>, url: string): ExchangeCheck {
  const openByCid = new Set([...open.values()].flatMap((snapshot) => (snapshot.clientOrderId === null ? [] : [snapshot.clientOrderId])));
  const journaled = new Set(orders.map((order) => order.intent.clientOrderId));
  const noLongerOpen = orders
    .filter((order) => isLive(order) && !(order.state.txid !== null && open.has(order.state.txid)) && !openByCid.has(order.intent.clientOrderId))
    .map(({ intent, state }) => ({
      signalId: intent.signalId,
      clientOrderId: intent.clientOrderId,
      txid: state.txid,
      role: intent.role,
      pair: intent.pair,
      side: intent.side,
      orderType: intent.orderType,
      quantity: intent.volume,
      status: state.status,
    }));
  const handlers = [...open.values()].filter((snapshot) => snapshot.clientOrderId !== null && HANDLER_CLIENT_ORDER_ID.test(snapshot.clientOrderId));
  const unknownToJournal = handlers
    .filter((snapshot) => !journaled.has(snapshot.clientOrderId ?? ''))
    .map((snapshot) => ({
      txid: snapshot.txid,
      clientOrderId: snapshot.clientOrderId ?? '',
      pair: snapshot.pair,
      side: snapshot.side,
      orderType: snapshot.orderType,
      volume: snapshot.volume,
      volumeExecuted: snapshot.volumeExecuted,
    }));
  const others = [...open.values()].filter((snapshot) => !handlers.includes(snapshot) && !journaled.has(snapshot.clientOrderId ?? '')).length;
  return { url, open: open.size, noLongerOpen, unknownToJournal, others };
}

/**
 * The exchange part of `status`: the check, or, when none was made, why not (one line).
 */
export type ExchangeView =
  | { readonly kind: 'checked'; readonly check: ExchangeCheck }
  /** `failed`: credentials were given and the exchange could not be asked (the status then exits 1). */
  | { readonly kind: 'not-checked'; readonly why: string; readonly failed?: boolean };

/** Where the journal is and whose it is: the header of the status. */
export interface JournalSource {
  readonly path: string;
  readonly account: string;
}

const plain = (value: Decimal): string => value.toFixed();
const orNone = <T>(items: readonly T[], line: (item: T) => string): string[] => (items.length === 0 ? ['  (none)'] : items.map((item) => `  ${line(item)}`));
const isoTime = (epochMs: number): string => new Date(epochMs).toISOString();

/**
 * The status as text, one line per item under four headings. Every line is escaped (`printable`): ids, pairs
 * and paths come from the journal, which came from outside.
 */
export function formatStatusText(source: JournalSource, status: JournalStatus, exchange?: ExchangeView): string {
  const lines = [
    `journal ${source.path} (account ${source.account}): ${status.orders} order${status.orders === 1 ? '' : 's'}, as last recorded`,
    'Positions (net filled: entries minus exits):',
    ...orNone(status.positions, (p) => `${p.pair} ${p.quantity.gt(0) ? '+' : ''}${plain(p.quantity)}`),
    'Working entries:',
    ...orNone(status.workingEntries, (e) =>
      [
        `[${e.signalId}] ${e.pair} ${e.side} ${e.orderType} ${plain(e.filled)}/${plain(e.quantity)}`,
        e.price === null ? null : `limit ${plain(e.price)}`,
        e.status,
        `cl_ord_id ${e.clientOrderId}`,
        e.txid === null ? 'no txid yet' : `txid ${e.txid}`,
        e.timeoutAt === null ? null : `timeout at ${isoTime(e.timeoutAt)}`,
      ]
        .filter((part) => part !== null)
        .join(' '),
    ),
    'Resting protection:',
    ...orNone(status.restingProtection, (r) =>
      [
        `[${r.signalId}] ${r.role} ${r.pair} ${r.side} ${r.orderType} ${plain(r.quantity)}`,
        r.price === null ? null : `@ ${plain(r.price)}`,
        r.status,
        `cl_ord_id ${r.clientOrderId}`,
        r.txid === null ? 'no txid yet' : `txid ${r.txid}`,
        r.parentClientOrderId === null ? 'protects no journaled entry' : `protects ${r.parentClientOrderId}`,
      ]
        .filter((part) => part !== null)
        .join(' '),
    ),
    'Take-profit watches (resumed at the next start):',
    ...orNone(status.takeProfitWatches, (t) => `[${t.signalId}] ${t.pair} take-profit ${plain(t.takeProfit)} for ${plain(t.open)} (${t.side} entry ${t.clientOrderId})`),
    ...(exchange === undefined ? [] : exchangeLines(exchange)),
  ];
  return lines.map(printable).join('\n');
}

function exchangeLines(exchange: ExchangeView): string[] {
  if (exchange.kind === 'not-checked') return [`Not checked against the exchange: ${exchange.why}`];
  const { check } = exchange;
  return [
    `Checked against the exchange ${check.url}: ${count(check.open, 'open order', 'open orders')}`,
    'Journaled as open, no longer open on the exchange (the next start reconciles them):',
    ...orNone(check.noLongerOpen, (o) =>
      [
        `[${o.signalId}] ${o.role} ${o.pair} ${o.side} ${o.orderType} ${plain(o.quantity)}`,
        `journaled ${o.status}`,
        `cl_ord_id ${o.clientOrderId}`,
        o.txid === null ? 'no txid yet' : `txid ${o.txid}`,
      ].join(' '),
    ),
    "Open on the exchange with a client order id of the handler's form, not in this journal:",
    ...orNone(check.unknownToJournal, (o) => `txid ${o.txid} cl_ord_id ${o.clientOrderId} ${o.pair} ${o.side} ${o.orderType} ${plain(o.volumeExecuted)}/${plain(o.volume)}`),
    ...(check.others > 0 ? [`Other open orders (not the handler's, left untouched): ${check.others}`] : []),
  ];
}

const decimalOrNull = (value: Decimal | null): string | null => (value === null ? null : plain(value));

/** The status as one JSON line (`type: "status"`): Decimals as plain decimal strings, times as epoch ms. */
export function formatStatusJson(source: JournalSource, status: JournalStatus, exchange?: ExchangeView): string {
  return jsonLine({
    type: 'status',
    journal: source.path,
    account: source.account,
    orders: status.orders,
    positions: status.positions.map((p) => ({ pair: p.pair, quantity: plain(p.quantity) })),
    workingEntries: status.workingEntries.map((e) => ({ ...e, quantity: plain(e.quantity), price: decimalOrNull(e.price), filled: plain(e.filled) })),
    restingProtection: status.restingProtection.map((r) => ({ ...r, quantity: plain(r.quantity), price: decimalOrNull(r.price), filled: plain(r.filled) })),
    takeProfitWatches: status.takeProfitWatches.map((t) => ({ ...t, takeProfit: plain(t.takeProfit), open: plain(t.open) })),
    ...(exchange === undefined ? {} : { exchange: exchangeJson(exchange) }),
  });
}

function exchangeJson(exchange: ExchangeView): Record<string, unknown> {
  if (exchange.kind === 'not-checked') return { checked: false, ...(exchange.failed === true ? { failed: true } : {}), why: exchange.why };
  const { check } = exchange;
  return {
    checked: true,
    url: check.url,
    open: check.open,
    noLongerOpen: check.noLongerOpen.map((o) => ({ ...o, quantity: plain(o.quantity) })),
    unknownToJournal: check.unknownToJournal.map((o) => ({ ...o, volume: plain(o.volume), volumeExecuted: plain(o.volumeExecuted) })),
    others: check.others,
  };
}

const count = (n: number, one: string, many: string): string => `${n} ${n === 1 ? one : many}`;

/**
 * What a run's journal hands to the next start, in one line for the end of the run; `null` when nothing is left
 * to resume. Text, escaped: the path comes from the command line.
 */
export function formatJournalKeeps(path: string, status: JournalStatus): string | null {
  const parts = [
    status.restingProtection.length > 0 ? count(status.restingProtection.length, 'resting protective order', 'resting protective orders') : null,
    status.takeProfitWatches.length > 0 ? count(status.takeProfitWatches.length, 'take-profit watch', 'take-profit watches') : null,
    status.workingEntries.length > 0 ? count(status.workingEntries.length, 'working entry', 'working entries') : null,
  ].filter((part) => part !== null);
  if (parts.length === 0) return null;
  return printable(`the journal ${path} keeps for the next start: ${parts.join(', ')} (see \`kraken-rx status --journal ${path}\`)`);
}
