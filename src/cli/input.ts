import { closeSync, constants, createReadStream, accessSync, openSync, statSync } from 'node:fs';
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
import { Decimal } from 'decimal.js';
import { errorCode } from '../model/error-shape';
import { type ClosePositionCommand, type TradeSignal, idProblem } from '../model/signal';
import { JsonNumber, type JsonObject, JsonSyntaxError, type JsonValue, parseJsonLine } from './json-line';

/**
 * The `run` command's input: JSON lines, each a trade signal, a close-position command or HALT on/off.
 *
 *   {"signalId":"s1","pair":"BTC/USD","side":"buy","orderType":"limit","quantity":"0.01","limitPrice":"30000"}
 *   {"type":"close","commandId":"c1","pair":"BTC/USD"}
 *   {"type":"halt","halted":true}
 *
 * Only the structure is checked here (fields, their types, no unknown field, printable ids, numbers in range).
 * Whether a quantity or price makes sense for the pair is the pipeline's `translate`, which answers with a
 * REJECTED report naming the reason — so a nonsensical signal is visible in the reports, while a line that is
 * not even a signal is skipped with its line number.
 *
 * HALT fails closed: a line that means to halt (its `type` is some spelling of `halt`, or it has a `halted`
 * field) but cannot be read turns HALT on, with the reason. Only a well-formed `{"type":"halt","halted":false}`
 * turns it off.
 */

/** One input line, understood. */
export type InputLine =
  | { readonly kind: 'signal'; readonly line: number; readonly signal: TradeSignal }
  | { readonly kind: 'close'; readonly line: number; readonly command: ClosePositionCommand }
  | { readonly kind: 'halt'; readonly line: number; readonly halted: boolean }
  /** A line that meant to halt and could not be read: HALT goes on. */
  | { readonly kind: 'unreadable-halt'; readonly line: number; readonly reason: string }
  | { readonly kind: 'malformed'; readonly line: number; readonly reason: string }
  | { readonly kind: 'blank'; readonly line: number };

/** A line that was skipped, and why; `halted`: it meant to halt, so HALT went on. */
export interface MalformedLine {
  readonly line: number;
  readonly reason: string;
  readonly halted: boolean;
}

type Fields = JsonObject;

/** Thrown inside the parser only, to leave at the first problem; it never leaves this module. */
class LineProblem extends Error {}

const fail = (reason: string): never => {
  throw new LineProblem(reason);
};

/** A value as a message shows it: short, and never raw (an id or a key may hold control characters). */
const show = (value: JsonValue | undefined): string => {
  if (value === undefined) return 'nothing';
  if (value === null) return 'null';
  if (value instanceof JsonNumber) return value.text.length > 40 ? `${value.text.slice(0, 40)}…` : value.text;
  if (Array.isArray(value)) return 'an array';
  if (value instanceof Map) return 'an object';
  const json = JSON.stringify(value);
  return json.length > 42 ? `${json.slice(0, 41)}…"` : json;
};

function onlyKnownFields(fields: Fields, known: readonly string[], what: string): void {
  const unknown = [...fields.keys()].filter((key) => !known.includes(key));
  if (unknown.length > 0) {
    // A misspelt `stopLoss` must not silently leave a position unprotected.
    fail(`unknown field${unknown.length > 1 ? 's' : ''} ${unknown.map((k) => JSON.stringify(k)).join(', ')} in a ${what} (known: ${known.join(', ')})`);
  }
}

function text(fields: Fields, key: string): string {
  const value = fields.get(key);
  if (typeof value !== 'string' || value.trim() === '') return fail(`"${key}" must be a non-empty string, got ${show(value)}`);
  return value.trim();
}

/** A `signalId` or `commandId`: printed, logged and journaled, so printable and of a sane length. */
function id(fields: Fields, key: string): string {
  const raw = fields.get(key);
  // Checked before trimming: a trailing line break is a forged line, not white space to tidy away.
  const problem = typeof raw === 'string' ? idProblem(key, raw) : null;
  return problem === null ? text(fields, key) : fail(problem);
}

function oneOf<T extends string>(fields: Fields, key: string, choices: readonly T[]): T {
  const value = fields.get(key);
  const found = choices.find((choice) => choice === value);
  return found ?? fail(`"${key}" must be ${choices.map((c) => `"${c}"`).join(' or ')}, got ${show(value)}`);
}

/** An optional `true`/`false` field; absent is `undefined`. */
export function optionalFlag(fields: Fields, key: string): boolean | undefined {
  const value = fields.get(key);
  if (value === undefined || typeof value === 'boolean') return value;
  return fail(`"${key}" must be true or false, got ${show(value)}`);
}

/**
 * Digits a JSON-number price or quantity may have on each side of the decimal point. Any finite decimal is
 * representable, but `1e400` is a typo or an attack, not an order; the limit is far beyond any real amount.
 */
const MAX_NUMBER_DIGITS = 30;

/**
 * A price or quantity: a string is passed on untouched (for `translate` to judge); a JSON number is taken
 * exactly as written — `0.0000001`, `12345678901234567890123`, `1e-7`, `2.5E+3` — and handed on in plain
 * decimal notation, never through a float. Absent is `undefined`.
 */
function decimalText(fields: Fields, key: string): string | undefined {
  const value = fields.get(key);
  if (value === undefined) return undefined;
  if (typeof value === 'string') return value;
  if (!(value instanceof JsonNumber)) return fail(`"${key}" must be a decimal string or a number, got ${show(value)}`);
  const amount = new Decimal(value.text);
  if (!amount.isFinite() || (!amount.isZero() && (amount.e >= MAX_NUMBER_DIGITS || amount.decimalPlaces() > MAX_NUMBER_DIGITS))) {
    return fail(`"${key}" ${show(value)} is out of range: at most ${MAX_NUMBER_DIGITS} digits before the decimal point and ${MAX_NUMBER_DIGITS} after`);
  }
  return amount.toFixed();
}

/** A whole positive number of milliseconds (`60000`, also `6e4`). */
function optionalMilliseconds(fields: Fields, key: string): number | undefined {
  const value = fields.get(key);
  if (value === undefined) return undefined;
  const amount = value instanceof JsonNumber ? new Decimal(value.text) : null;
  if (amount === null || !amount.isInteger() || amount.lte(0) || amount.gt(Number.MAX_SAFE_INTEGER)) {
    return fail(`"${key}" must be a positive whole number of milliseconds, got ${show(value)}`);
  }
  return amount.toNumber();
}

const SIGNAL_FIELDS = ['type', 'signalId', 'pair', 'side', 'orderType', 'quantity', 'limitPrice', 'stopLoss', 'takeProfit', 'timeoutMs'];
const CLOSE_FIELDS = ['type', 'commandId', 'pair', 'quantity', 'sellUntracked'];
const HALT_FIELDS = ['type', 'halted'];

/** `{...}` with the keys whose value is `undefined` left out (`exactOptionalPropertyTypes`). */
const defined = <T extends object>(fields: T): T =>
  Object.fromEntries(Object.entries(fields).filter(([, value]) => value !== undefined)) as T;

function parseSignal(fields: Fields): TradeSignal {
  onlyKnownFields(fields, SIGNAL_FIELDS, 'signal');
  const signalId = id(fields, 'signalId');
  const pair = text(fields, 'pair');
  const side = oneOf(fields, 'side', ['buy', 'sell'] as const);
  const orderType = oneOf(fields, 'orderType', ['market', 'limit'] as const);
  const quantity = decimalText(fields, 'quantity') ?? fail('"quantity" is missing');
  return defined<TradeSignal>({
    signalId,
    pair,
    side,
    orderType,
    quantity,
    limitPrice: decimalText(fields, 'limitPrice'),
    stopLoss: decimalText(fields, 'stopLoss'),
    takeProfit: decimalText(fields, 'takeProfit'),
    timeoutMs: optionalMilliseconds(fields, 'timeoutMs'),
  } as TradeSignal);
}

function parseClose(fields: Fields): ClosePositionCommand {
  onlyKnownFields(fields, CLOSE_FIELDS, 'close command');
  const sellUntracked = optionalFlag(fields, 'sellUntracked');
  return defined<ClosePositionCommand>({
    commandId: id(fields, 'commandId'),
    pair: text(fields, 'pair'),
    quantity: decimalText(fields, 'quantity'),
    ...(sellUntracked === true ? { sellUntracked: true } : {}),
  } as ClosePositionCommand);
}

function parseHalt(fields: Fields): boolean {
  onlyKnownFields(fields, HALT_FIELDS, 'halt command');
  const halted = fields.get('halted');
  if (typeof halted !== 'boolean') return fail(`"halted" must be true or false, got ${show(halted)}`);
  return halted;
}

// In text that is not valid JSON: something that reads like a halt line.
const HALT_TEXT = /"type"\s*:\s*"\s*halt\s*"|"halted"\s*:/i;

/** Whether an object means to halt: its type is some spelling of `halt`, or it has a `halted` field. */
const meansHalt = (fields: Fields): boolean => {
  const type = fields.get('type');
  return (typeof type === 'string' && type.trim().toLowerCase() === 'halt') || [...fields.keys()].some((key) => key.trim().toLowerCase() === 'halted');
};

const HALT_ON = 'HALT is on (a halt line that cannot be read halts; only {"type":"halt","halted":false} resumes)';

/**
 * Understands one input line. Blank lines and lines starting with `#` are `blank` (ignored, so a signal file can
 * carry comments); a line that means to halt and cannot be read is `unreadable-halt`; anything else that is not
 * a valid signal, close or halt line is `malformed` with the reason.
 * @param raw the line's text, without its line break
 * @param line its 1-based line number, carried into the result for messages
 */
export function parseInputLine(raw: string, line: number): InputLine {
  const trimmed = raw.trim();
  if (trimmed === '' || trimmed.startsWith('#')) return { kind: 'blank', line };
  const unreadable = (reason: string, halts: boolean): InputLine =>
    halts ? { kind: 'unreadable-halt', line, reason: `${reason}; ${HALT_ON}` } : { kind: 'malformed', line, reason };
  let json: JsonValue;
  try {
    json = parseJsonLine(trimmed);
  } catch (e) {
    if (!(e instanceof JsonSyntaxError)) throw e;
    return unreadable(`not valid JSON (${e.message})`, HALT_TEXT.test(trimmed));
  }
  if (!(json instanceof Map)) return unreadable(`expected a JSON object, got ${show(json)}`, HALT_TEXT.test(trimmed));
  const fields = json;
  try {
    const type = fields.get('type') ?? 'signal';
    switch (type) {
      case 'signal':
        if (fields.has('halted')) break;
        return { kind: 'signal', line, signal: parseSignal(fields) };
      case 'close':
        if (fields.has('halted')) break;
        return { kind: 'close', line, command: parseClose(fields) };
      case 'halt':
        return { kind: 'halt', line, halted: parseHalt(fields) };
    }
    if (meansHalt(fields)) {
      const spelling = typeof type === 'string' && type.trim().toLowerCase() === 'halt';
      return unreadable(spelling ? `"type" must be "halt", got ${show(type)}` : `a "halted" field needs "type":"halt", got "type" ${show(type)}`, true);
    }
    return unreadable(`unknown "type" ${show(type)} (expected "signal", "close" or "halt")`, false);
  } catch (e) {
    if (e instanceof LineProblem) return unreadable(e.message, meansHalt(fields));
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
 * lines:      -s-c-h-x-s-|      (s: signal, c: close, h: halt on, x: malformed; an unreadable halt line is both h and x)
 *   splitInput(lines)           then connect()
 * signals$:   -s-------s-|
 * commands$:  ---c-------|
 * halted$:    f-----t----|
 * malformed$: -------x---|
 *
 * The source is read once (a connectable, not one read per subscriber), so a signal and a HALT line keep
 * their order across the streams. All four complete when the source completes, and error when it errors.
 * @param lines$ the input's lines, without line breaks, in order
 * @param haltedAtStart HALT before the first line: the journal's last HALT state, so a restart keeps a HALT on
 * @returns the streams and `connect()` to start reading
 */
export function splitInput(lines$: Observable<string>, haltedAtStart = false): InputStreams {
  // HALT as it stands now: a subscriber that comes late (the handler may subscribe again mid-run) must start
  // from the current state, not from "not halted". Updated before any subscriber sees the line.
  let haltedNow = haltedAtStart;
  const source: Connectable<InputLine> = connectable(
    lines$.pipe(
      map((raw, index) => parseInputLine(raw, index + 1)),
      tap((input) => {
        if (input.kind === 'halt') haltedNow = input.halted;
        if (input.kind === 'unreadable-halt') haltedNow = true;
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
        filter((input): input is Extract<InputLine, { kind: 'halt' | 'unreadable-halt' }> => input.kind === 'halt' || input.kind === 'unreadable-halt'),
        map((input) => input.kind === 'unreadable-halt' || input.halted),
        startWith(haltedNow),
        distinctUntilChanged(),
      ),
    ),
    malformed$: source.pipe(
      filter((input): input is Extract<InputLine, { kind: 'malformed' | 'unreadable-halt' }> => input.kind === 'malformed' || input.kind === 'unreadable-halt'),
      map(({ kind, line, reason }) => ({ line, reason, halted: kind === 'unreadable-halt' })),
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

const codeOf = (error: unknown): string => errorCode(error) ?? 'error';

const CODE_MEANINGS: Readonly<Record<string, string>> = {
  ENOENT: 'no such file',
  EACCES: 'permission denied',
  EISDIR: 'it is a directory',
  ENOTDIR: 'a part of the path is not a directory',
};

/**
 * Why `--signals FILE` cannot be read, or `null` when it can (`-` is stdin and always can). Checked before the
 * exchange starts, so a typo in the path costs one line, not a started run. A regular file is opened to be
 * sure; a FIFO only checked for access (opening it would wait for a writer).
 */
export function signalsSourceProblem(source: string): string | null {
  if (source === '-') return null;
  try {
    const stat = statSync(source);
    if (stat.isDirectory()) return `cannot read ${JSON.stringify(source)}: it is a directory`;
    if (stat.isFile()) closeSync(openSync(source, 'r'));
    else accessSync(source, constants.R_OK);
    return null;
  } catch (e) {
    const code = codeOf(e);
    return `cannot read ${JSON.stringify(source)}: ${CODE_MEANINGS[code] ?? 'unreadable'} (${code})`;
  }
}
