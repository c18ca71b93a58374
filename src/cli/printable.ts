import { UNPRINTABLE } from '../model/signal';

/**
 * What the CLI writes is read by a person in a terminal and by programs line by line, and parts of it come
 * from outside (ids, pair names, the exchange's reasons, parser messages quoting the input). A line break in
 * any of them would forge a line; an ESC would reach the terminal raw. So every text is escaped on its way out.
 */

const UNPRINTABLE_ALL = new RegExp(UNPRINTABLE.source, 'gu');

/** `\u001b` for each UTF-16 unit: valid inside a JSON string, and unambiguous in text. */
const unitEscapes = (char: string): string =>
  [...Array(char.length).keys()].map((index) => `\\u${char.charCodeAt(index).toString(16).padStart(4, '0')}`).join('');

const SHORT_ESCAPES: Readonly<Record<string, string>> = { '\n': '\\n', '\r': '\\r', '\t': '\\t' };

/**
 * One line of text with every control, format (bidi, zero-width), surrogate and line/paragraph separator
 * character written as an escape (`\n`, `\r`, `\t`, else `\u001b`): it stays one line, and shows what it holds.
 */
export const printable = (text: string): string => text.replace(UNPRINTABLE_ALL, (char) => SHORT_ESCAPES[char] ?? unitEscapes(char));

/**
 * A value as one JSON line. `JSON.stringify` escapes C0 controls but leaves DEL, C1 controls (U+009B is a CSI
 * on some terminals), bidi overrides and U+2028/U+2029 raw; here they are `\uXXXX` too, which means the same JSON.
 */
export const jsonLine = (value: unknown): string => JSON.stringify(value).replace(UNPRINTABLE_ALL, unitEscapes);
