import { JsonNumber, JsonSyntaxError, type JsonValue, parseJsonLine } from '../../src/cli/json-line';

/** The parsed value as plain data, numbers as `{ n: text }`, so expectations read like the input. */
const plain = (value: JsonValue): unknown => {
  if (value instanceof JsonNumber) return { n: value.text };
  if (value instanceof Map) return Object.fromEntries([...value].map(([key, item]) => [key, plain(item)]));
  if (Array.isArray(value)) return value.map(plain);
  return value;
};

describe('parseJsonLine', () => {
  it.each([
    ['0.0000001'],
    ['12345678901234567890123'],
    ['1e-7'],
    ['2.5E+3'],
    ['-0'],
    ['0.0100000099'],
    ['1e400'],
  ])('keeps the number %s exactly as written', (text) => {
    expect(plain(parseJsonLine(text))).toEqual({ n: text });
    expect(plain(parseJsonLine(`{"quantity":${text}}`))).toEqual({ quantity: { n: text } });
  });

  it('reads objects, arrays, strings with escapes, booleans and null', () => {
    expect(plain(parseJsonLine(' {"a":[1,true,false,null],"b":{"c":"x\\n\\u001b\\"y"},"d":[]} '))).toEqual({
      a: [{ n: '1' }, true, false, null],
      b: { c: 'x\n\u001b"y' },
      d: [],
    });
  });

  it('keeps "__proto__" as an ordinary key', () => {
    const value = parseJsonLine('{"__proto__":{"halted":false}}');
    expect(value instanceof Map && [...value.keys()]).toEqual(['__proto__']);
  });

  it.each([
    ['{"halted":false,"halted":true}', /^duplicate key "halted" at position 16$/],
    ['{"a":1,}', /^expected a key in double quotes at position 7$/],
    ['{"a" 1}', /^expected ':' but found '1' at position 5$/],
    ['{"a":1', /^expected '}' but found the end of input at position 6$/],
    ['[1 2]', /^expected ']' but found '2'/],
    ['01', /^unexpected '1' after the value at position 1$/],
    ['1.', /^unexpected '\.' after the value/],
    ['.5', /^unexpected '\.'/],
    ['+1', /^unexpected '\+'/],
    ['NaN', /^unexpected 'N'/],
    ['tru', /^expected a value at position 0$/],
    ["{'a':1}", /^expected a key in double quotes/],
    ['"a\nb"', /^expected a complete string \(control characters must be escaped\)/],
    ['"\\x41"', /^expected a complete string/],
    ['{"a":1}\u001b', /^unexpected character U\+001B after the value/],
    ['', /^unexpected end of input at position 0$/],
    ['{"a":1} // note', /^unexpected '\/' after the value/],
  ])('refuses %j', (text, message) => {
    expect(() => parseJsonLine(text)).toThrow(JsonSyntaxError);
    expect(() => parseJsonLine(text)).toThrow(message);
  });

  it('refuses nesting deeper than 32 levels, and takes 32', () => {
    expect(() => parseJsonLine(`${'['.repeat(32)}${']'.repeat(32)}`)).not.toThrow();
    expect(() => parseJsonLine(`${'['.repeat(33)}${']'.repeat(33)}`)).toThrow(/nested deeper than 32 levels/);
  });
});
