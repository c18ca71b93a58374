import { describe, expect, it } from '@jest/globals';
import { Decimal } from 'decimal.js';
import { JsonNumber, asExactDecimal, asExactInteger, asIdText, encodeExactJson, jsonNumber, parseExactJson } from '../../src/kraken/ws-json';
import { WireFormatError } from '../../src/kraken/wire-parse';

const record = (value: unknown): Record<string, unknown> => value as Record<string, unknown>;

describe('parseExactJson', () => {
  it('keeps numbers as the text they were written with, where JSON.parse would round them through a double', () => {
    const text = '{"last_qty":0.30000000000000004441,"cum_cost":12345678901234567.89,"connection_id":12393906104898154338}';
    const parsed = record(parseExactJson(text));
    expect(asExactDecimal(parsed['last_qty'], 'last_qty').toFixed()).toBe('0.30000000000000004441');
    expect(asExactDecimal(parsed['cum_cost'], 'cum_cost').toFixed()).toBe('12345678901234567.89');
    expect(asIdText(parsed['connection_id'], 'connection_id')).toBe('12393906104898154338');
    // What the float path would have given: the reason this reader exists.
    expect(String((JSON.parse(text) as { connection_id: number }).connection_id)).not.toBe('12393906104898154338');
  });

  it('reads strings, escapes, booleans, null, arrays and nesting as JSON.parse does', () => {
    const text = ' {"a":"x\\"y\\u00e9\\n","b":[true,false,null,[]],"c":{},"d":-0.5e-3} ';
    const parsed = record(parseExactJson(text));
    expect(parsed['a']).toBe('x"yé\n');
    const list = parsed['b'] as unknown[];
    expect(list.slice(0, 3)).toEqual([true, false, null]);
    expect(list[3]).toEqual([]);
    expect(parsed['c']).toEqual({});
    expect(asExactDecimal(parsed['d'], 'd').eq(new Decimal('-0.0005'))).toBe(true);
  });

  it('keeps a __proto__ key as data', () => {
    const parsed = record(parseExactJson('{"__proto__":{"polluted":true}}'));
    expect(Object.keys(parsed)).toEqual(['__proto__']);
    expect(({} as Record<string, unknown>)['polluted']).toBeUndefined();
  });

  it.each([
    ['{"a":1,}'],
    ['{"a":01}'],
    ['{"a":.5}'],
    ['{"a":NaN}'],
    ['{"a":"unterminated}'],
    ['[1 2]'],
    ['{"a":1} trailing'],
    ['"tab\there"'],
    [''],
  ])('refuses what is not JSON: %s', (text) => {
    expect(() => parseExactJson(text)).toThrow(WireFormatError);
  });

  it('refuses nesting deeper than 64 levels instead of exhausting the stack', () => {
    expect(() => parseExactJson('['.repeat(100) + ']'.repeat(100))).toThrow(/nesting/);
  });
});

describe('exact readers', () => {
  it('asExactDecimal takes a JSON number or a decimal string (REST style), nothing else', () => {
    expect(asExactDecimal(new JsonNumber('105.02014889'), 'q').toFixed()).toBe('105.02014889');
    expect(asExactDecimal('0.121', 'q').toFixed()).toBe('0.121');
    expect(() => asExactDecimal(true, 'q')).toThrow(/q: expected a decimal/);
  });

  it('asExactInteger refuses fractions and integers beyond a double', () => {
    expect(asExactInteger(new JsonNumber('42'), 'req_id')).toBe(42);
    expect(() => asExactInteger(new JsonNumber('4.2'), 'req_id')).toThrow(WireFormatError);
    expect(() => asExactInteger(new JsonNumber('9007199254740993'), 'req_id')).toThrow(WireFormatError);
    expect(() => asExactInteger('42', 'req_id')).toThrow(WireFormatError);
  });
});

describe('encodeExactJson', () => {
  it('writes decimals from their digits, never in exponent form, and leaves out undefined members', () => {
    const text = encodeExactJson({ order_qty: jsonNumber(new Decimal('0.00000001')), limit_price: jsonNumber(new Decimal('1e21')), skip: undefined, ok: true });
    expect(text).toBe('{"order_qty":0.00000001,"limit_price":1000000000000000000000,"ok":true}');
  });

  it('round-trips through parseExactJson', () => {
    const text = '{"a":[1,"two",{"b":null}],"c":-12.50}';
    expect(encodeExactJson(parseExactJson(text))).toBe(text);
  });
});
