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
    ['{"type":"halt","halted":"yes"}', /^"halted" must be true or false, got "yes"$/],
    ['{"type":"halt","halted":true,"until":"noon"}', /^unknown field "until" in a halt command/],
  ])('reports a malformed line: %s', (raw, reason) => {
    const parsed = parseInputLine(raw, 9);
    expect(parsed.kind).toBe('malformed');
    expect(parsed.kind === 'malformed' && parsed.line).toBe(9);
    expect(parsed.kind === 'malformed' && parsed.reason).toMatch(reason);
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
        x: { line: 4, reason: expect.stringMatching(/^not valid JSON/) as unknown as string },
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
        x: { line: 2, reason: expect.any(String) as unknown as string },
        y: { line: 3, reason: expect.any(String) as unknown as string },
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
