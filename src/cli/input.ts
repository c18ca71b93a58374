import { createReadStream } from 'node:fs';
import { createInterface } from 'node:readline';
import { type Readable } from 'node:stream';
import {
  type Connectable,
  type Observable,
  type Subscription,
  Subject,
  connectable,
  defer,
  distinctUntilChanged,
  filter,
  map,
  startWith,
  tap,
  Observable as RxObservable,
} from 'rxjs';
import { type ClosePositionCommand, type TradeSignal } from '../model/signal';

/**
 * The `run` command's input: JSON lines, each a trade signal, a close-position command or HALT on/off.
 *
 *   {"signalId":"s1","pair":"BTC/USD","side":"buy","orderType":"limit","quantity":"0.01","limitPrice":"30000"}
 *   {"type":"close","commandId":"c1","pair":"BTC/USD"}
 *   {"type":"halt","halted":true}
 *
 * Only the structure is checked here (fields, their types, no unknown field). Whether a quantity or price
 * makes sense for the pair is the pipeline's `translate`, which answers with a REJECTED report naming the
 * reason — so a nonsensical signal is visible in the reports, while a line that is not even a signal is
 * skipped with its line number.
 */

/** One input line, understood. */
export type InputLine =
  | { readonly kind: 'signal'; readonly line: number; readonly signal: TradeSignal }
  | { readonly kind: 'close'; readonly line: number; readonly command: ClosePositionCommand }
  | { readonly kind: 'halt'; readonly line: number; readonly halted: boolean }
  | { readonly kind: 'malformed'; readonly line: number; readonly reason: string }
  | { readonly kind: 'blank'; readonly line: number };

/** A line that was skipped, and why. */
export interface MalformedLine {
  readonly line: number;
  readonly reason: string;
}

type Fields = Readonly<Record<string, unknown>>;

/** Thrown inside the parser only, to leave at the first problem; it never leaves this module. */
class LineProblem extends Error {}

const fail = (reason: string): never => {
  throw new LineProblem(reason);
};

const show = (value: unknown): string => {
  if (value === undefined) return 'nothing';
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  if (typeof value === 'object') return 'an object';
  return JSON.stringify(value);
};

function onlyKnownFields(fields: Fields, known: readonly string[], what: string): void {
  const unknown = Object.keys(fields).filter((key) => !known.includes(key));
  if (unknown.length > 0) {
    // A misspelt `stopLoss` must not silently leave a position unprotected.
    fail(`unknown field${unknown.length > 1 ? 's' : ''} ${unknown.map((k) => `"${k}"`).join(', ')} in a ${what} (known: ${known.join(', ')})`);
  }
}

function text(fields: Fields, key: string): string {
  const value = fields[key];
  if (typeof value !== 'string' || value.trim() === '') fail(`"${key}" must be a non-empty string, got ${show(value)}`);
  return (value as string).trim();
}

function oneOf<T extends string>(fields: Fields, key: string, choices: readonly T[]): T {
  const value = fields[key];
  const found = choices.find((choice) => choice === value);
  if (found === undefined) fail(`"${key}" must be ${choices.map((c) => `"${c}"`).join(' or ')}, got ${show(value)}`);
  return found as T;
}

/**
 * A price or quantity. JSON numbers are accepted for convenience and turned into their decimal string with
 * `String(n)`: the number has already been parsed by `JSON.parse` as a double, so that string is the shortest
 * one naming the same double — e.g. `0.1` stays `"0.1"`. Strings are passed on untouched for `translate`.
 */
function decimalText(fields: Fields, key: string): string | undefined {
  const value = fields[key];
  if (value === undefined) return undefined;
  if (typeof value === 'string') return value;
  if (typeof value === 'number' && Number.isFinite(value)) return String(value);
  return fail(`"${key}" must be a decimal string or a number, got ${show(value)}`);
}

const SIGNAL_FIELDS = ['type', 'signalId', 'pair', 'side', 'orderType', 'quantity', 'limitPrice', 'stopLoss', 'takeProfit', 'timeoutMs'];
const CLOSE_FIELDS = ['type', 'commandId', 'pair', 'quantity', 'sellUntracked'];
const HALT_FIELDS = ['type', 'halted'];

function parseSignal(fields: Fields): TradeSignal {
  onlyKnownFields(fields, SIGNAL_FIELDS, 'signal');
  const signalId = text(fields, 'signalId');
  const pair = text(fields, 'pair');
  const side = oneOf(fields, 'side', ['buy', 'sell'] as const);
  const orderType = oneOf(fields, 'orderType', ['market', 'limit'] as const);
  const quantity = decimalText(fields, 'quantity');
  if (quantity === undefined) fail('"quantity" is missing');
  const limitPrice = decimalText(fields, 'limitPrice');
  const stopLoss = decimalText(fields, 'stopLoss');
  const takeProfit = decimalText(fields, 'takeProfit');
  const timeoutMs = fields['timeoutMs'];
  if (timeoutMs !== undefined && !(typeof timeoutMs === 'number' && Number.isSafeInteger(timeoutMs) && timeoutMs > 0)) {
    fail(`"timeoutMs" must be a positive whole number of milliseconds, got ${show(timeoutMs)}`);
  }
  return {
    signalId,
    pair,
    side,
    orderType,
    quantity: quantity as string,
    ...(limitPrice === undefined ? {} : { limitPrice }),
    ...(stopLoss === undefined ? {} : { stopLoss }),
    ...(takeProfit === undefined ? {} : { takeProfit }),
    ...(typeof timeoutMs === 'number' ? { timeoutMs } : {}),
  };
}

function parseClose(fields: Fields): ClosePositionCommand {
  onlyKnownFields(fields, CLOSE_FIELDS, 'close command');
  const commandId = text(fields, 'commandId');
  const pair = text(fields, 'pair');
  const quantity = decimalText(fields, 'quantity');
  const sellUntracked = fields['sellUntracked'];
  if (sellUntracked !== undefined && typeof sellUntracked !== 'boolean') fail(`"sellUntracked" must be true or false, got ${show(sellUntracked)}`);
  return {
    commandId,
    pair,
    ...(quantity === undefined ? {} : { quantity }),
    ...(sellUntracked === true ? { sellUntracked: true } : {}),
  };
}

function parseHalt(fields: Fields): boolean {
  onlyKnownFields(fields, HALT_FIELDS, 'halt command');
  const halted = fields['halted'];
  if (typeof halted !== 'boolean') fail(`"halted" must be true or false, got ${show(halted)}`);
  return halted as boolean;
}

/**
 * Understands one input line. Blank lines and lines starting with `#` are `blank` (ignored, so a signal file can
 * carry comments); anything that is not a valid signal, close or halt line is `malformed` with the reason.
 * @param raw the line's text, without its line break
 * @param line its 1-based line number, carried into the result for messages
 */
export function parseInputLine(raw: string, line: number): InputLine {
  const trimmed = raw.trim();
  if (trimmed === '' || trimmed.startsWith('#')) return { kind: 'blank', line };
  let json: unknown;
  try {
    json = JSON.parse(trimmed);
  } catch (e) {
    return { kind: 'malformed', line, reason: `not valid JSON (${e instanceof Error ? e.message : String(e)})` };
  }
  if (typeof json !== 'object' || json === null || Array.isArray(json)) {
    return { kind: 'malformed', line, reason: `expected a JSON object, got ${show(json)}` };
  }
  const fields = json as Fields;
  try {
    const type = fields['type'] ?? 'signal';
    switch (type) {
      case 'signal':
        return { kind: 'signal', line, signal: parseSignal(fields) };
      case 'close':
        return { kind: 'close', line, command: parseClose(fields) };
      case 'halt':
        return { kind: 'halt', line, halted: parseHalt(fields) };
      default:
        return { kind: 'malformed', line, reason: `unknown "type" ${show(type)} (expected "signal", "close" or "halt")` };
    }
  } catch (e) {
    if (e instanceof LineProblem) return { kind: 'malformed', line, reason: e.message };
    throw e;
  }
}

/** The handler's three inputs (and the skipped lines) split from one line source. */
export interface InputStreams {
  readonly signals$: Observable<TradeSignal>;
  readonly commands$: Observable<ClosePositionCommand>;
  /** Starts with the HALT state as it stands (`false` before any halt line), then each change of it. */
  readonly halted$: Observable<boolean>;
  readonly malformed$: Observable<MalformedLine>;
  /**
   * Starts reading the line source, once, for all four streams. Call it after subscribing to the streams you
   * need, so none misses a line; unsubscribe the result to stop reading.
   */
  connect(): Subscription;
}

/**
 * Splits JSON input lines into signals, close commands and HALT changes — one read of the source shared by all.
 *
 * lines:      -s-c-h-x-s-|      (s: signal, c: close, h: halt on, x: malformed)
 *   splitInput(lines)           then connect()
 * signals$:   -s-------s-|
 * commands$:  ---c-------|
 * halted$:    f-----t----|
 * malformed$: -------x---|
 *
 * The source is read once (a connectable, not one read per subscriber), so a signal and a HALT line keep
 * their order across the streams. All four complete when the source completes, and error when it errors.
 * @param lines$ the input's lines, without line breaks, in order
 * @returns the streams and `connect()` to start reading
 */
export function splitInput(lines$: Observable<string>): InputStreams {
  // HALT as it stands now: a subscriber that comes late (the handler may subscribe again mid-run) must start
  // from the current state, not from "not halted". Updated before any subscriber sees the line.
  let haltedNow = false;
  const source: Connectable<InputLine> = connectable(
    lines$.pipe(
      map((raw, index) => parseInputLine(raw, index + 1)),
      tap((input) => {
        if (input.kind === 'halt') haltedNow = input.halted;
      }),
    ),
    { connector: () => new Subject<InputLine>(), resetOnDisconnect: false },
  );
  return {
    signals$: source.pipe(
      filter((input): input is Extract<InputLine, { kind: 'signal' }> => input.kind === 'signal'),
      map((input) => input.signal),
    ),
    commands$: source.pipe(
      filter((input): input is Extract<InputLine, { kind: 'close' }> => input.kind === 'close'),
      map((input) => input.command),
    ),
    halted$: defer(() =>
      source.pipe(
        filter((input): input is Extract<InputLine, { kind: 'halt' }> => input.kind === 'halt'),
        map((input) => input.halted),
        startWith(haltedNow),
        distinctUntilChanged(),
      ),
    ),
    malformed$: source.pipe(
      filter((input): input is Extract<InputLine, { kind: 'malformed' }> => input.kind === 'malformed'),
      map(({ line, reason }) => ({ line, reason })),
    ),
    connect: () => source.connect(),
  };
}

/**
 * The lines of a readable stream (stdin, a file), without line breaks. Completes at the end of the stream,
 * errors when reading fails; unsubscribing stops reading.
 */
export function linesOf(openInput: () => Readable): Observable<string> {
  return new RxObservable<string>((subscriber) => {
    const input = openInput();
    const reader = createInterface({ input, crlfDelay: Infinity, terminal: false });
    // readline re-emits the input's errors on itself (and throws if nobody listens there).
    reader.on('error', (e: unknown) => subscriber.error(e));
    reader.on('line', (line) => subscriber.next(line));
    reader.on('close', () => subscriber.complete());
    return () => {
      reader.close();
      // Closing the reader does not close a file; stdin is left to the process.
      if (input !== process.stdin) input.destroy();
      else input.pause();
    };
  });
}

/** The input lines of `--signals FILE|-` (`-`: `stdin`). */
export const inputLines = (source: string, stdin: Readable = process.stdin): Observable<string> =>
  source === '-' ? linesOf(() => stdin) : linesOf(() => createReadStream(source, { encoding: 'utf8' }));
