import {
  EMPTY,
  type Observable,
  concat,
  concatMap,
  defer,
  expand,
  filter,
  finalize,
  from,
  ignoreElements,
  map,
  mergeMap,
  of,
  repeat,
} from 'rxjs';
import { type RedisBus, type RedisClient, isMissingGroup, retryConnection } from './redis-bus';

/** How an entry came to this reader: first delivery, its own pending entry again, or taken over from a dead consumer. */
export type Delivery = 'new' | 'pending' | 'claimed';

/** One input entry, understood by the caller's parser, to acknowledge once it is journaled. */
export interface BusInput<T> {
  /** The stream entry id (`1712345678901-0`): unique per entry, the same on every re-delivery. */
  readonly entryId: string;
  readonly delivery: Delivery;
  readonly value: T;
  /**
   * Acknowledges the entry (XACK): it will not be delivered again, to anyone. Call it only once what the entry
   * asks for is journaled. Cold; tried again across a lost connection; may be called after unsubscribing.
   */
  ack(): Observable<void>;
}

/** An entry's id and fields; `null` fields: the entry was deleted while pending. */
interface Entry {
  readonly id: string;
  readonly fields: Readonly<Record<string, string>> | null;
}

const fieldsOf = (message: unknown): Readonly<Record<string, string>> | null => {
  if (typeof message !== 'object' || message === null) return null;
  return Object.fromEntries(Object.entries(message).map(([key, value]) => [key, String(value)]));
};

const entriesOf = (messages: readonly ({ readonly id: string; readonly message: unknown } | null)[]): Entry[] =>
  messages.filter((message) => message !== null).map((message) => ({ id: String(message.id), fields: fieldsOf(message.message) }));

/** An answer from Redis of a shape this module does not know: a fault, not something to try again. */
export class BusReplyError extends Error {
  constructor(what: string) {
    super(`unexpected XREADGROUP reply: ${what}`);
    this.name = 'BusReplyError';
  }
}

const isText = (value: unknown): value is string => typeof value === 'string';

/** One entry of an XREADGROUP reply: `[id, [field, value, …]]`, or `[id, nil]` when it was deleted while pending. */
function entryOf(raw: unknown): Entry {
  if (!Array.isArray(raw) || !isText(raw[0])) throw new BusReplyError('an entry without an id');
  const [id, list] = raw as [string, unknown];
  if (list === null) return { id, fields: null };
  if (!Array.isArray(list) || list.length % 2 !== 0 || !list.every(isText)) throw new BusReplyError(`entry ${id} without field/value pairs`);
  const fields: Record<string, string> = {};
  for (let at = 0; at < list.length; at += 2) fields[list[at] as string] = list[at + 1] as string;
  return { id, fields };
}

/**
 * The entries of an XREADGROUP reply: per stream, its entries — `[[key, entries], …]` in RESP2, `{ key: entries }`
 * in RESP3 (node-redis's default); `null` (a block that timed out) is none.
 */
function readGroupEntries(reply: unknown): Entry[] {
  if (reply === null) return [];
  if (typeof reply !== 'object') throw new BusReplyError(`a ${typeof reply}`);
  const perStream: unknown[] = Array.isArray(reply)
    ? reply.map((stream: unknown) => (Array.isArray(stream) ? stream[1] : undefined))
    : reply instanceof Map
      ? [...reply.values()]
      : Object.values(reply);
  return perStream.flatMap((entries: unknown) => {
    if (!Array.isArray(entries)) throw new BusReplyError('a stream without entries');
    return (entries as unknown[]).map(entryOf);
  });
}

/**
 * The text an entry hands to the parser: its `line` field, as on stdin. An entry written some other way is read
 * as the JSON object of its fields, so the parser names what is wrong with it instead of it being lost silently.
 */
const lineOf = (fields: Readonly<Record<string, string>>): string => fields['line'] ?? JSON.stringify(fields);

/**
 * The account's input entries, read through the bus's consumer group, each parsed and carrying its `ack()`.
 *
 * redis (in):  --a--b-------c--       (entries appended by publishers)
 *   busInputs$(bus, parse)
 * result:      --A--B-------C--       (A = { entryId, delivery: 'new', value: parse(a), ack })
 *
 * On subscribe, in order: pending entries of dead consumers idle at least `claimIdleMs` are claimed (XAUTOCLAIM,
 * `claimed`); this consumer's own pending entries, read but never acknowledged by an earlier run, are read again
 * (XREADGROUP from id 0, `pending`); then new entries with blocking reads (`new`), looking for idle entries
 * to claim every `blockMs`. An entry handed out and not yet acknowledged is not handed out twice by one
 * subscription; after a resubscription (a restart) it is, which is the point: nothing is acknowledged for the
 * caller, so a crash between reading and journaling re-delivers, and the journal's `signalId` rule makes the
 * repeat harmless.
 *
 * The reads use a connection of their own (a blocking read would hold up acks and report writes). A lost
 * connection, or Redis restarting, closes it; after the bus's backoff a new one starts over from the claim
 * and the pending read, so nothing is lost. A consumer group gone (Redis restarted without its data) is
 * created again the same way. Never completes; errors only for another error reply from Redis (trying again
 * would not cure it) or an error thrown by `parse`. Unsubscribing closes the read connection at once.
 *
 * @param bus The open bus: which stream, group and consumer.
 * @param parse Makes the caller's value of an entry's line (`parseInputLine`); `sequence` counts the entries
 *   delivered to this subscription from 1 (the entry's id is on the result).
 * @returns The entries, in stream order within each phase.
 */
export function busInputs$<T>(bus: RedisBus, parse: (raw: string, sequence: number) => T): Observable<BusInput<T>> {
  return defer(() => {
    const handedOut = new Set<string>();
    let sequence = 0;
    const key = bus.keys.inputs;

    const ack = (entryId: string): Observable<void> =>
      defer(() => bus.commands.xAck(key, bus.group, entryId)).pipe(
        retryConnection(bus),
        map(() => {
          handedOut.delete(entryId);
        }),
      );

    /** Entries to hand out: deleted ones are acknowledged (nothing to do), ones already out are left alone. */
    const handOut = (entries: readonly Entry[], delivery: Delivery): Observable<BusInput<T>> =>
      from(entries).pipe(
        filter((entry) => !handedOut.has(entry.id)),
        mergeMap((entry): Observable<BusInput<T>> => {
          if (entry.fields === null) return ack(entry.id).pipe(ignoreElements());
          handedOut.add(entry.id);
          sequence += 1;
          return of({ entryId: entry.id, delivery, value: parse(lineOf(entry.fields), sequence), ack: () => ack(entry.id) });
        }),
      );

    const claimFrom = (reader: RedisClient, cursor: string) =>
      defer(() => reader.xAutoClaim(key, bus.group, bus.consumer, bus.claimIdleMs, cursor, { COUNT: bus.batchSize }));
    /** One pass of XAUTOCLAIM over the whole pending list (its cursor comes back to 0-0 at the end). */
    const claimIdle = (reader: RedisClient): Observable<BusInput<T>> =>
      claimFrom(reader, '0-0').pipe(
        expand((reply) => (String(reply.nextId) === '0-0' ? EMPTY : claimFrom(reader, String(reply.nextId)))),
        concatMap((reply) => handOut(entriesOf(reply.messages), 'claimed')),
      );

    // Sent as is and its reply read here: node-redis's own reading fails on an entry deleted while pending.
    const readGroup = (reader: RedisClient, after: string, block?: number) =>
      defer(() =>
        reader.sendCommand(['XREADGROUP', 'GROUP', bus.group, bus.consumer, 'COUNT', String(bus.batchSize), ...(block === undefined ? [] : ['BLOCK', String(block)]), 'STREAMS', key, after]),
      ).pipe(map(readGroupEntries));
    /** This consumer's own pending entries, page by page until a page comes back empty. */
    const ownPending = (reader: RedisClient): Observable<BusInput<T>> =>
      readGroup(reader, '0').pipe(
        expand((page) => {
          const last = page[page.length - 1];
          return last === undefined ? EMPTY : readGroup(reader, last.id);
        }),
        concatMap((page) => handOut(page, 'pending')),
      );

    const live = (reader: RedisClient): Observable<BusInput<T>> => {
      let claimedAt = bus.scheduler.now();
      const claimIfDue = defer(() => {
        if (bus.scheduler.now() - claimedAt < bus.blockMs) return EMPTY;
        claimedAt = bus.scheduler.now();
        return claimIdle(reader);
      });
      return concat(claimIfDue, readGroup(reader, '>', bus.blockMs).pipe(concatMap((entries) => handOut(entries, 'new')))).pipe(repeat());
    };

    // One attempt: a fresh read connection, closed however the attempt ends.
    const attempt = defer(() => {
      const reader = bus.readerClient();
      return from(reader.connect()).pipe(
        concatMap(() => concat(bus.ensureGroup().pipe(ignoreElements()), claimIdle(reader), ownPending(reader), live(reader))),
        finalize(() => reader.destroy()),
      );
    });
    // A group gone (Redis restarted empty) is made again by the next attempt's ensureGroup.
    return attempt.pipe(retryConnection(bus, isMissingGroup));
  });
}
