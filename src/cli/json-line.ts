/**
 * A strict JSON parser for one input line that keeps every number as the text it was written in.
 *
 * `JSON.parse` turns `0.0000001` into the double `1e-7` and `12345678901234567890123` into a rounded double
 * before anyone can look at it, and Node 20's reviver gets no source text; a price or quantity must be taken
 * exactly as written. So numbers come out as `JsonNumber` (its `text`), objects as `Map`s (a key
 * `"__proto__"` is data, not a prototype), and a key given twice is an error: `{"halted":false,"halted":true}`
 * has no one meaning. Otherwise it is RFC 8259: no comments, no trailing commas, no single quotes.
 */

/** A JSON number as written, e.g. `0.0000001`, `1e-7`, `2.5E+3`. */
export class JsonNumber {
  constructor(readonly text: string) {}
}

export type JsonValue = string | boolean | null | JsonNumber | readonly JsonValue[] | JsonObject;
export type JsonObject = ReadonlyMap<string, JsonValue>;

/** Why a text is not one JSON value, and where (0-based character offset). */
export class JsonSyntaxError extends Error {
  constructor(
    message: string,
    readonly position: number,
  ) {
    super(`${message} at position ${position}`);
    this.name = 'JsonSyntaxError';
  }
}

/** Deep enough for any input line; deeper is refused rather than risk the stack. */
const MAX_DEPTH = 32;

const WHITESPACE = /[ \t\n\r]*/y;
const NUMBER = /-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?/y;
// A complete string token: no raw control character, only JSON's escapes.
const STRING = /"(?:[^"\\\u0000-\u001f]|\\(?:["\\/bfnrt]|u[0-9a-fA-F]{4}))*"/y;
const LITERAL = /true|false|null/y;

class Reader {
  private at = 0;

  constructor(private readonly text: string) {}

  value(depth: number): JsonValue {
    this.skipWhitespace();
    const char = this.text[this.at];
    if (char === '{') return this.object(depth + 1);
    if (char === '[') return this.array(depth + 1);
    if (char === '"') return this.string();
    if (char === '-' || (char !== undefined && char >= '0' && char <= '9')) return new JsonNumber(this.token(NUMBER, 'a number'));
    if (char === 't' || char === 'f' || char === 'n') {
      const literal = this.token(LITERAL, 'a value');
      return literal === 'null' ? null : literal === 'true';
    }
    return this.fail(char === undefined ? 'unexpected end of input' : `unexpected ${describeChar(char)}`);
  }

  end(): void {
    this.skipWhitespace();
    if (this.at < this.text.length) this.fail(`unexpected ${describeChar(this.text[this.at] ?? '')} after the value`);
  }

  private object(depth: number): JsonObject {
    this.checkDepth(depth);
    this.at += 1;
    const entries = new Map<string, JsonValue>();
    this.skipWhitespace();
    if (this.text[this.at] === '}') {
      this.at += 1;
      return entries;
    }
    for (;;) {
      this.skipWhitespace();
      if (this.text[this.at] !== '"') this.fail('expected a key in double quotes');
      const keyAt = this.at;
      const key = this.string();
      if (entries.has(key)) {
        this.at = keyAt;
        this.fail(`duplicate key ${JSON.stringify(key)}`);
      }
      this.skipWhitespace();
      this.expect(':');
      entries.set(key, this.value(depth));
      this.skipWhitespace();
      if (this.text[this.at] === ',') {
        this.at += 1;
        continue;
      }
      this.expect('}');
      return entries;
    }
  }

  private array(depth: number): JsonValue[] {
    this.checkDepth(depth);
    this.at += 1;
    const items: JsonValue[] = [];
    this.skipWhitespace();
    if (this.text[this.at] === ']') {
      this.at += 1;
      return items;
    }
    for (;;) {
      items.push(this.value(depth));
      this.skipWhitespace();
      if (this.text[this.at] === ',') {
        this.at += 1;
        continue;
      }
      this.expect(']');
      return items;
    }
  }

  private string(): string {
    // The token is checked by STRING; JSON.parse then only decodes its escapes, which it does exactly.
    return JSON.parse(this.token(STRING, 'a complete string (control characters must be escaped)')) as string;
  }

  private token(pattern: RegExp, what: string): string {
    pattern.lastIndex = this.at;
    const match = pattern.exec(this.text);
    if (match === null) this.fail(`expected ${what}`);
    const token = (match as RegExpExecArray)[0];
    this.at += token.length;
    return token;
  }

  private expect(char: string): void {
    if (this.text[this.at] !== char) {
      const found = this.text[this.at];
      this.fail(`expected '${char}' but found ${found === undefined ? 'the end of input' : describeChar(found)}`);
    }
    this.at += 1;
  }

  private skipWhitespace(): void {
    WHITESPACE.lastIndex = this.at;
    WHITESPACE.exec(this.text);
    this.at = WHITESPACE.lastIndex;
  }

  private checkDepth(depth: number): void {
    if (depth > MAX_DEPTH) this.fail(`nested deeper than ${MAX_DEPTH} levels`);
  }

  private fail(message: string): never {
    throw new JsonSyntaxError(message, this.at);
  }
}

/** A character named so that it prints safely: `'x'`, or its code point when it is not printable. */
function describeChar(char: string): string {
  const code = char.codePointAt(0) ?? 0;
  return /^[\p{L}\p{N}\p{P}\p{S}]$/u.test(char) ? `'${char}'` : `character U+${code.toString(16).toUpperCase().padStart(4, '0')}`;
}

/**
 * Parses one JSON text, keeping numbers as written.
 * @param text the whole text (leading and trailing whitespace allowed)
 * @returns the value: `JsonNumber` for numbers, `Map` for objects, arrays, strings, booleans, null
 * @throws JsonSyntaxError naming the problem and its position
 */
export function parseJsonLine(text: string): JsonValue {
  const reader = new Reader(text);
  const value = reader.value(0);
  reader.end();
  return value;
}
