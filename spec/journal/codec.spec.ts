import { describe, expect, it } from '@jest/globals';
import { Decimal } from 'decimal.js';
import { BodyReader, decodeEvent, decodeIntent, decodeRateCounters, encodeEvent, encodeIntent, encodeRateCounters } from '../../src/journal/codec';
import { JournalError, type OrderIntentRecord } from '../../src/model/journal';
import { type LifecycleEvent } from '../../src/model/order-state';

const d = (value: string): Decimal => new Decimal(value);
const read = (text: string): BodyReader => BodyReader.parse('journal entry 7 (transition), column body', text);

const EVERY_EVENT: readonly LifecycleEvent[] = [
  { kind: 'sent', deadline: 1_700_000_010_000 },
  { kind: 'accepted', txid: 'OTX-1' },
  { kind: 'ambiguous', reason: 'timeout after sending' },
  { kind: 'found', txid: 'OTX-1' },
  { kind: 'proven-absent' },
  { kind: 'fill', txid: 'OTX-1', tradeId: 'T1', quantity: d('0.00000001'), price: d('123456789.123456789'), fee: d('0'), volumeExecuted: d('0.00000001') },
  { kind: 'cancel-sent', reason: 'timeout' },
  { kind: 'cancel-missed' },
  { kind: 'cancel-withdrawn', reason: 'close-position gave up' },
  { kind: 'final', outcome: 'canceled', volumeExecuted: d('0.5'), reason: null },
  { kind: 'final', outcome: 'closed', volumeExecuted: d('1'), reason: 'filled' },
  { kind: 'expired', volumeExecuted: d('0'), reason: '' },
  { kind: 'rejected', reason: 'EOrder:Insufficient funds' },
  { kind: 'failed', reason: 'position unprotected: not placed' },
];

describe('journal codec', () => {
  it.each(EVERY_EVENT.map((event) => [event.kind, event] as const))('reads back a %s event as it was written', (_, event) => {
    expect(decodeEvent(read(encodeEvent(event)))).toEqual(event);
  });

  it('reads back an intent with its duties, and rate counters with fractional units', () => {
    const intent: OrderIntentRecord = {
      clientOrderId: 'c1', signalId: 's1', role: 'stop-loss', parentClientOrderId: 'c0', pair: 'XXBTZUSD', side: 'sell',
      orderType: 'stop-loss-limit', volume: d('0.25'), price: d('57000'), price2: d('56900.5'), deadlineMs: 10_000,
      duties: { stopLoss: null, takeProfit: null, limitTimeoutMs: null, protectionMode: null }, createdAt: 5,
    };
    expect(decodeIntent(read(encodeIntent(intent)))).toEqual(intent);
    const counters = { at: 9, rest: 14.67, trading: [{ pair: 'XXBTZUSD', units: 0.5 }] };
    expect(decodeRateCounters(read(encodeRateCounters(counters)))).toEqual(counters);
  });

  it.each([
    ['{"kind":"fill","txid":"O","tradeId":"T","quantity":0.1,"price":"1","fee":"0","volumeExecuted":"0.1"}', 'field quantity: expected a decimal string, found 0.1'],
    ['{"kind":"fill","txid":"O","tradeId":"","quantity":"0.1","price":"1","fee":"0","volumeExecuted":"0.1"}', 'field tradeId: expected a non-empty id, found ""'],
    ['{"kind":"sent","deadline":"soon"}', 'field deadline: expected an integer, found "soon"'],
    ['{"kind":"final","outcome":"gone","volumeExecuted":"1","reason":null}', 'field outcome: expected one of closed, canceled, found "gone"'],
    ['{"kind":"teleported"}', 'field kind: expected one of sent, accepted, ambiguous, found, proven-absent, fill, cancel-sent, cancel-missed, cancel-withdrawn, final, expired, rejected, failed, found "teleported"'],
    ['{"kind":"expired","reason":null}', 'field volumeExecuted: expected a decimal string, found undefined'],
    ['[1,2]', 'not an object'],
    ['{"kind":', 'not JSON'],
  ])('refuses %s, naming the entry, the column and the field', (text, problem) => {
    let error: unknown = null;
    try {
      decodeEvent(read(text));
    } catch (caught: unknown) {
      error = caught;
    }
    expect(error).toBeInstanceOf(JournalError);
    expect(error instanceof JournalError && [error.kind, error.message]).toEqual(['corrupt', `journal entry 7 (transition), column body${problem.startsWith('field') ? ', ' : ': '}${problem}`]);
  });
});
