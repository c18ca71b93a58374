import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { firstValueFrom, lastValueFrom, toArray } from 'rxjs';
import { TestScheduler } from 'rxjs/testing';
import { inputLines, parseInputLine, splitInput } from '../../src/cli/input';

const newScheduler = (): TestScheduler => new TestScheduler((actual, expected) => expect(actual).toEqual(expected));

const SIGNAL_LINE =
  '{"signalId":"s1","pair":"BTC/USD","side":"buy","orderType":"limit","quantity":"0.01","limitPrice":"30000","stopLoss":"29000","takeProfit":"32000","timeoutMs":60000}';

describe('parseInputLine', () => {
  it('reads a full trade signal', () => {
    expect(parseInputLine(SIGNAL_LINE, 3)).toEqual({
      kind: 'signal',
      line: 3,
      signal: {
        signalId: 's1',
        pair: 'BTC/USD',
        side: 'buy',
        orderType: 'limit',
        quantity: '0.01',
        limitPrice: '30000',
        stopLoss: '29000',
        takeProfit: '32000',
        timeoutMs: 60000,
      },
    });
  });

  it('turns JSON numbers into decimal strings and accepts "type":"signal"', () => {
    const parsed = parseInputLine('{"type":"signal","signalId":"s2","pair":"ETH/USD","side":"sell","orderType":"market","quantity":0.1,"stopLoss":2100.5}', 1);
    expect(parsed).toEqual({
      kind: 'signal',
      line: 1,
      signal: { signalId: 's2', pair: 'ETH/USD', side: 'sell', orderType: 'market', quantity: '0.1', stopLoss: '2100.5' },
    });
  });

  it('leaves the optional fields out when absent (no undefined keys)', () => {
    const parsed = parseInputLine('{"signalId":"s3","pair":"BTC/USD","side":"buy","orderType":"market","quantity":"1"}', 1);
    expect(parsed.kind === 'signal' && Object.keys(parsed.signal)).toEqual(['signalId', 'pair', 'side', 'orderType', 'quantity']);
  });

  it('passes a nonsensical quantity string on, for translate to reject with its reason', () => {
    const parsed = parseInputLine('{"signalId":"s4","pair":"BTC/USD","side":"buy","orderType":"market","quantity":"-3"}', 1);
    expect(parsed.kind === 'signal' && parsed.signal.quantity).toBe('-3');
  });

  it('reads a close command with and without a quantity', () => {
    expect(parseInputLine('{"type":"close","commandId":"c1","pair":"BTC/USD"}', 2)).toEqual({
      kind: 'close',
      line: 2,
      command: { commandId: 'c1', pair: 'BTC/USD' },
    });
    expect(parseInputLine('{"type":"close","commandId":"c2","pair":"BTC/USD","quantity":0.005}', 2)).toEqual({
      kind: 'close',
      line: 2,
      command: { commandId: 'c2', pair: 'BTC/USD', quantity: '0.005' },
    });
  });

  it('reads the opt-in to sell untracked holdings only when it is true', () => {
    expect(parseInputLine('{"type":"close","commandId":"c3","pair":"BTC/USD","quantity":"0.5","sellUntracked":true}', 3)).toEqual({
      kind: 'close',
      line: 3,
      command: { commandId: 'c3', pair: 'BTC/USD', quantity: '0.5', sellUntracked: true },
    });
    expect(parseInputLine('{"type":"close","commandId":"c4","pair":"BTC/USD","sellUntracked":false}', 4)).toEqual({
      kind: 'close',
      line: 4,
      command: { commandId: 'c4', pair: 'BTC/USD' },
    });
  });

  it('reads HALT on and off', () => {
    expect(parseInputLine('{"type":"halt","halted":true}', 5)).toEqual({ kind: 'halt', line: 5, halted: true });
    expect(parseInputLine(' {"type":"halt","halted":false} ', 6)).toEqual({ kind: 'halt', line: 6, halted: false });
  });

  it('ignores blank lines and # comments', () => {
    expect(parseInputLine('   ', 7)).toEqual({ kind: 'blank', line: 7 });
    expect(parseInputLine('# morning signals', 8)).toEqual({ kind: 'blank', line: 8 });
  });

  it.each([
    ['{"signalId": ', /^not valid JSON/],
    ['[1,2]', /^expected a JSON object, got an array$/],
    ['42', /^expected a JSON object, got 42$/],
    ['{"type":"buy"}', /^unknown "type" "buy" \(expected "signal", "close" or "halt"\)$/],
    ['{"signalId":"s","pair":"BTC/USD","side":"long","orderType":"market","quantity":"1"}', /^"side" must be "buy" or "sell", got "long"$/],
    ['{"signalId":"s","pair":"BTC/USD","side":"buy","orderType":"stop","quantity":"1"}', /^"orderType" must be "market" or "limit", got "stop"$/],
    ['{"signalId":7,"pair":"BTC/USD","side":"buy","orderType":"market","quantity":"1"}', /^"signalId" must be a non-empty string, got 7$/],
    ['{"signalId":"s","pair":"","side":"buy","orderType":"market","quantity":"1"}', /^"pair" must be a non-empty string, got ""$/],
    ['{"signalId":"s","pair":"BTC/USD","side":"buy","orderType":"market"}', /^"quantity" is missing$/],
    ['{"signalId":"s","pair":"BTC/USD","side":"buy","orderType":"market","quantity":true}', /^"quantity" must be a decimal string or a number, got true$/],
    ['{"signalId":"s","pair":"BTC/USD","side":"buy","orderType":"limit","quantity":"1","limitPrice":{}}', /^"limitPrice" must be a decimal string or a number, got an object$/],
    ['{"signalId":"s","pair":"BTC/USD","side":"buy","orderType":"limit","quantity":"1","timeoutMs":-5}', /^"timeoutMs" must be a positive whole number of milliseconds, got -5$/],
    ['{"signalId":"s","pair":"BTC/USD","side":"buy","orderType":"market","quantity":"1","stoploss":"1"}', /^unknown field "stoploss" in a signal/],
    ['{"type":"close","pair":"BTC/USD"}', /^"commandId" must be a non-empty string, got nothing$/],
    ['{"type":"close","commandId":"c","pair":"BTC/USD","sellUntracked":"yes"}', /^"sellUntracked" must be true or false, got "yes"$/],
  ])('reports a malformed line: %s', (raw, reason) => {
    const parsed = parseInputLine(raw, 9);
    expect(parsed.kind).toBe('malformed');
    expect(parsed.kind === 'malformed' && parsed.line).toBe(9);
    expect(parsed.kind === 'malformed' && parsed.reason).toMatch(reason);
  });
});

describe('parseInputLine: numbers as written', () => {
  const withQuantity = (quantity: string): string => `{"signalId":"n","pair":"BTC/USD","side":"buy","orderType":"market","quantity":${quantity}}`;

  it.each([
    ['0.0000001', '0.0000001'],
    ['12345678901234567890123', '12345678901234567890123'],
    ['1e-7', '0.0000001'],
    ['2.5E+3', '2500'],
    ['0.0100000099', '0.0100000099'],
    ['0.1', '0.1'],
  ])('takes the JSON number %s as the decimal %s, never through a float', (written, decimal) => {
    const parsed = parseInputLine(withQuantity(written), 1);
    expect(parsed.kind === 'signal' && parsed.signal.quantity).toBe(decimal);
  });

  it('takes 30 digits on each side of the point, and refuses a 31st on either side', () => {
    const thirty = '123456789012345678901234567891';
    const taken = parseInputLine(withQuantity(`${thirty}.${thirty}`), 1);
    expect(taken.kind === 'signal' && taken.signal.quantity).toBe(`${thirty}.${thirty}`);
    expect(parseInputLine(withQuantity(`9${thirty}`), 1)).toMatchObject({ kind: 'malformed', reason: expect.stringMatching(/^"quantity" 9123.* is out of range/) as unknown });
    expect(parseInputLine(withQuantity(`0.${thirty}9`), 1)).toMatchObject({ kind: 'malformed', reason: expect.stringMatching(/^"quantity" 0\.123.* is out of range/) as unknown });
  });

  it.each([
    ['quantity', '1e400'],
    ['quantity', '1e-400'],
    ['limitPrice', '1e99999999999999999999'],
    ['stopLoss', '-1e31'],
  ])('refuses the out-of-range %s %s, naming the field and the value', (field, written) => {
    const line = `{"signalId":"n","pair":"BTC/USD","side":"buy","orderType":"limit","quantity":"1","limitPrice":"1",${JSON.stringify(field === 'quantity' ? 'quantity' : field)}:${written}}`
      .replace('"quantity":"1",', field === 'quantity' ? '' : '"quantity":"1",')
      .replace('"limitPrice":"1",', field === 'limitPrice' ? '' : '"limitPrice":"1",');
    expect(parseInputLine(line, 2)).toEqual({
      kind: 'malformed',
      line: 2,
      reason: `"${field}" ${written} is out of range: at most 30 digits before the decimal point and 30 after`,
    });
  });

  it('takes a close quantity and timeoutMs as written too (6e4 ms is 60000)', () => {
    expect(parseInputLine('{"type":"close","commandId":"c","pair":"BTC/USD","quantity":1e-7}', 1)).toEqual({
      kind: 'close',
      line: 1,
      command: { commandId: 'c', pair: 'BTC/USD', quantity: '0.0000001' },
    });
    const limit = parseInputLine('{"signalId":"t","pair":"BTC/USD","side":"buy","orderType":"limit","quantity":"1","limitPrice":"1","timeoutMs":6e4}', 1);
    expect(limit.kind === 'signal' && limit.signal.timeoutMs).toBe(60000);
    expect(parseInputLine('{"signalId":"t","pair":"BTC/USD","side":"buy","orderType":"limit","quantity":"1","limitPrice":"1","timeoutMs":1.5}', 1)).toMatchObject({
      kind: 'malformed',
      reason: '"timeoutMs" must be a positive whole number of milliseconds, got 1.5',
    });
  });
});

describe('parseInputLine: ids must be printable', () => {
  const signalWithId = (id: string): string => `{"signalId":${JSON.stringify(id)},"pair":"BTC/USD","side":"buy","orderType":"market","quantity":"1"}`;

  it.each([
    ['a newline (a forged report line)', 'spoof\n12:00:00.000 [x] entry FILLED', /^signalId contains the unprintable character U\+000A \(at character 6\); ids must be printable$/],
    ['an ESC byte', 'a\u001b[2Jb', /U\+001B \(at character 2\)/],
    ['a trailing carriage return', 's1\r', /U\+000D \(at character 3\)/],
    ['a C1 control (CSI)', 'a\u009bb', /U\+009B/],
    ['a right-to-left override', 'abc\u202edcba', /U\+202E/],
    ['a line separator', 'a\u2028b', /U\+2028/],
    ['129 characters', 'x'.repeat(129), /^signalId is 129 characters long; at most 128 are taken$/],
  ])('skips a signal whose id has %s, without repeating the id', (_what, id, reason) => {
    const parsed = parseInputLine(signalWithId(id), 4);
    expect(parsed).toEqual({ kind: 'malformed', line: 4, reason: expect.stringMatching(reason) as unknown });
    expect(parsed.kind === 'malformed' && parsed.reason).not.toContain(id);
  });

  it('checks a close command id the same way, and takes 128 printable characters (any script)', () => {
    expect(parseInputLine('{"type":"close","commandId":"c\\n1","pair":"BTC/USD"}', 1)).toMatchObject({
      kind: 'malformed',
      reason: 'commandId contains the unprintable character U+000A (at character 2); ids must be printable',
    });
    const id = `ß€🚀${'x'.repeat(125)}`;
    const parsed = parseInputLine(signalWithId(id), 1);
    expect(parsed.kind === 'signal' && parsed.signal.signalId).toBe(id);
  });
});

describe('parseInputLine: HALT fails closed', () => {
  it.each([
    ['an extra field', '{"type":"halt","halted":true,"reason":"risk limit"}', /^unknown field "reason" in a halt command/],
    ['"halted":"yes"', '{"type":"halt","halted":"yes"}', /^"halted" must be true or false, got "yes"/],
    ['"halted":1', '{"type":"halt","halted":1}', /^"halted" must be true or false, got 1/],
    ['no "halted"', '{"type":"halt"}', /^"halted" must be true or false, got nothing/],
    ['"type":"HALT"', '{"type":"HALT","halted":true}', /^"type" must be "halt", got "HALT"/],
    ['"type":" halt "', '{"type":" halt ","halted":true}', /^"type" must be "halt", got " halt "/],
    ['"halted" without a type', '{"halted":true}', /^a "halted" field needs "type":"halt", got "type" "signal"/],
    ['"Halted" in a signal', '{"signalId":"s","pair":"BTC/USD","side":"buy","orderType":"market","quantity":"1","Halted":true}', /^unknown field "Halted" in a signal/],
    ['"halted":false with an extra field', '{"type":"halt","halted":false,"note":"resume"}', /^unknown field "note"/],
    ['a duplicate "halted"', '{"type":"halt","halted":false,"halted":true}', /^not valid JSON \(duplicate key "halted"/],
    ['broken JSON', '{"type":"halt","halted":tru}', /^not valid JSON/],
    ['broken JSON with only "halted"', '{"halted": false', /^not valid JSON/],
  ])('turns HALT on for a halt line it cannot read (%s) and says why', (_what, raw, reason) => {
    const parsed = parseInputLine(raw, 7);
    expect(parsed).toEqual({ kind: 'unreadable-halt', line: 7, reason: expect.stringMatching(reason) as unknown });
    expect(parsed.kind === 'unreadable-halt' && parsed.reason).toMatch(/HALT is on .*only \{"type":"halt","halted":false\} resumes/);
  });

  it('lets only a well-formed "halted": false turn HALT off', () => {
    expect(parseInputLine('{"type":"halt","halted":false}', 1)).toEqual({ kind: 'halt', line: 1, halted: false });
    expect(parseInputLine('{ "halted" : false , "type" : "halt" }', 1)).toEqual({ kind: 'halt', line: 1, halted: false });
  });

  it('does not halt on a malformed line that has nothing to do with HALT', () => {
    expect(parseInputLine('{"signalId":"halt-test","pair":"BTC/USD","side":"buy","orderType":"market"}', 1).kind).toBe('malformed');
    expect(parseInputLine('{"type":"hold"}', 1).kind).toBe('malformed');
    expect(parseInputLine('{"signalId":"halt-1",', 1).kind).toBe('malformed');
  });
});

describe('splitInput', () => {
  const signalA = { signalId: 'a', pair: 'BTC/USD', side: 'buy', orderType: 'market', quantity: '1' } as const;
  const signalB = { signalId: 'b', pair: 'ETH/USD', side: 'sell', orderType: 'market', quantity: '2' } as const;
  const lineOf = (signal: typeof signalA | typeof signalB): string => JSON.stringify(signal);
  const lines = {
    a: lineOf(signalA),
    b: lineOf(signalB),
    c: '{"type":"close","commandId":"c1","pair":"BTC/USD"}',
    h: '{"type":"halt","halted":true}',
    o: '{"type":"halt","halted":false}',
    x: 'not json',
    e: '',
  };

  it('splits one line source into signals, commands, HALT changes and skipped lines, in order', () => {
    newScheduler().run(({ cold, expectObservable, expectSubscriptions }) => {
      const source = cold(' -a-c-h-x-e-b-o-|', lines);
      const signals = '     -a---------b---|';
      const commands = '    ---c-----------|';
      const halted = '      f----t-------f-|';
      const malformed = '   -------x-------|';
      const input = splitInput(source);
      expectObservable(input.signals$).toBe(signals, { a: signalA, b: signalB });
      expectObservable(input.commands$).toBe(commands, { c: { commandId: 'c1', pair: 'BTC/USD' } });
      expectObservable(input.halted$).toBe(halted, { f: false, t: true });
      expectObservable(input.malformed$).toBe(malformed, {
        x: { line: 4, reason: expect.stringMatching(/^not valid JSON/) as unknown as string, halted: false },
      });
      input.connect();
      expectSubscriptions(source.subscriptions).toBe(' ^--------------!');
    });
  });

  it('reads the source once however many streams are subscribed', () => {
    newScheduler().run(({ cold, expectObservable, expectSubscriptions }) => {
      const source = cold('-a-b-|', lines);
      const input = splitInput(source);
      expectObservable(input.signals$).toBe('-a-b-|', { a: signalA, b: signalB });
      expectObservable(input.signals$).toBe('-a-b-|', { a: signalA, b: signalB });
      expectObservable(input.commands$).toBe('-----|');
      input.connect();
      expectSubscriptions(source.subscriptions).toBe('^----!');
    });
  });

  it('reads nothing until connect()', () => {
    newScheduler().run(({ cold, expectObservable, expectSubscriptions }) => {
      const source = cold('-a-|', lines);
      const input = splitInput(source);
      expectObservable(input.signals$).toBe('-');
      expectSubscriptions(source.subscriptions).toBe([]);
    });
  });

  it('starts un-halted and reports only changes of HALT', () => {
    newScheduler().run(({ cold, expectObservable }) => {
      const input = splitInput(cold('-o-h-h-o-|', lines));
      expectObservable(input.halted$).toBe('f--t---f-|', { f: false, t: true });
      input.connect();
    });
  });

  it('turns HALT on for an unreadable halt line, reports it as skipped, and only a well-formed false turns it off', () => {
    newScheduler().run(({ cold, expectObservable }) => {
      const input = splitInput(cold('-u-a-o-|', { ...lines, u: '{"type":"halt","halted":false,"why":"x"}' }));
      expectObservable(input.halted$).toBe('ft---f-|', { f: false, t: true });
      expectObservable(input.signals$).toBe('---a---|', { a: signalA });
      expectObservable(input.malformed$).toBe('-u-----|', {
        u: { line: 1, reason: expect.stringMatching(/^unknown field "why" .*; HALT is on/) as unknown as string, halted: true },
      });
      input.connect();
    });
  });

  it('gives a late subscriber the HALT state as it stands, not "not halted"', () => {
    newScheduler().run(({ cold, expectObservable }) => {
      const input = splitInput(cold('-h---o-|', lines));
      const early = '                ft---f-|';
      const late = '                ----tf-|';
      expectObservable(input.signals$).toBe('-------|');
      expectObservable(input.halted$).toBe(early, { f: false, t: true });
      expectObservable(input.halted$, '----^').toBe(late, { f: false, t: true });
      input.connect();
    });
  });

  it('keeps going after malformed lines, counting blank lines in the line numbers', () => {
    newScheduler().run(({ cold, expectObservable }) => {
      const input = splitInput(cold('-e-x-x-a-|', lines));
      expectObservable(input.signals$).toBe('-------a-|', { a: signalA });
      expectObservable(input.malformed$).toBe('---x-y---|', {
        x: { line: 2, reason: expect.any(String) as unknown as string, halted: false },
        y: { line: 3, reason: expect.any(String) as unknown as string, halted: false },
      });
      input.connect();
    });
  });

  it('errors every stream when the line source errors', () => {
    newScheduler().run(({ cold, expectObservable }) => {
      const input = splitInput(cold('-a-#', lines, new Error('EIO')));
      expectObservable(input.signals$).toBe('-a-#', { a: signalA }, new Error('EIO'));
      expectObservable(input.commands$).toBe('---#', undefined, new Error('EIO'));
      expectObservable(input.halted$).toBe('f--#', { f: false }, new Error('EIO'));
      input.connect();
    });
  });

  it('stops reading when the connection is unsubscribed', () => {
    const scheduler = newScheduler();
    scheduler.run(({ cold, expectObservable, expectSubscriptions }) => {
      const source = cold('-a-b-a-|', lines);
      const input = splitInput(source);
      expectObservable(input.signals$).toBe('-a-b----', { a: signalA, b: signalB });
      const connection = input.connect();
      scheduler.schedule(() => connection.unsubscribe(), 4);
      expectSubscriptions(source.subscriptions).toBe('^---!');
    });
  });
});

describe('inputLines', () => {
  const dir = mkdtempSync(join(tmpdir(), 'kraken-rx-input-'));

  it('reads a file line by line, CRLF or LF, and completes at its end', async () => {
    const path = join(dir, 'signals.jsonl');
    writeFileSync(path, 'one\r\ntwo\n\nthree');
    await expect(lastValueFrom(inputLines(path).pipe(toArray()))).resolves.toEqual(['one', 'two', '', 'three']);
  });

  it('errors when the file cannot be opened', async () => {
    await expect(firstValueFrom(inputLines(join(dir, 'absent.jsonl')))).rejects.toThrow(/ENOENT/);
  });
});
