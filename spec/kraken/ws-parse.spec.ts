import { describe, expect, it } from '@jest/globals';
import { parseWsFrame } from '../../src/kraken/ws-parse';
import { WireFormatError } from '../../src/kraken/wire-parse';

const pairOf = (symbol: string): string | undefined => ({ 'BTC/USD': 'XXBTZUSD', 'KAR/USD': 'KARUSD' })[symbol];

describe('parseWsFrame: Kraken WebSocket v2 frames', () => {
  it('reads the status frame, keeping the u64 connection id exact', () => {
    const frame = parseWsFrame(
      '{"channel":"status","data":[{"api_version":"v2","connection_id":12393906104898154338,"system":"online","version":"2.0.4"}],"type":"update"}',
      pairOf,
    );
    expect(frame).toEqual({ type: 'status', system: 'online', connectionId: '12393906104898154338' });
  });

  it('reads heartbeats, pongs and other channels as traffic', () => {
    expect(parseWsFrame('{"channel":"heartbeat"}', pairOf)).toEqual({ type: 'heartbeat' });
    expect(parseWsFrame('{"method":"pong","req_id":101,"time_in":"2023-09-24T14:10:23.799685Z","time_out":"2023-09-24T14:10:23.799703Z"}', pairOf)).toEqual({
      type: 'pong',
      reqId: 101,
    });
    expect(parseWsFrame('{"channel":"book","type":"update","data":[]}', pairOf)).toEqual({ type: 'other', channel: 'book' });
  });

  it("reads Kraken's documented fill (kraken-async-rs test data) with every number exact", () => {
    const frame = parseWsFrame(
      '{"channel":"executions","type":"update","data":[{"order_id":"O7IBL5-O2V6X-EEXY4U","exec_id":"TJE7HC-DKBTI-5BFVKE","exec_type":"trade","trade_id":365573,' +
        '"symbol":"KAR/USD","side":"buy","last_qty":105.02014889,"last_price":0.121,"liquidity_ind":"t","cost":12.70744,"order_status":"filled",' +
        '"order_type":"limit","timestamp":"2024-05-18T05:41:33.480251Z","fee_usd_equiv":0.05083,"fees":[{"asset":"USD","qty":0.05083}]}],"sequence":7}',
      pairOf,
    );
    if (frame.type !== 'executions') throw new Error('not executions');
    expect(frame.sequence).toBe(7);
    expect(frame.snapshot).toBe(false);
    const [entry] = frame.entries;
    expect(entry?.trade).toMatchObject({ tradeId: 'TJE7HC-DKBTI-5BFVKE', txid: 'O7IBL5-O2V6X-EEXY4U', pair: 'KARUSD', side: 'buy', liquidity: 'taker' });
    expect(entry?.trade?.volume.toFixed()).toBe('105.02014889');
    expect(entry?.trade?.price.toFixed()).toBe('0.121');
    expect(entry?.trade?.fees.map((f) => [f.asset, f.amount.toFixed()])).toEqual([['USD', '0.05083']]);
    expect(entry?.trade?.at).toBe(Date.UTC(2024, 4, 18, 5, 41, 33, 480));
    expect(entry?.order).toMatchObject({ txid: 'O7IBL5-O2V6X-EEXY4U', change: 'trade', status: 'filled', volumeExecuted: null });
  });

  it('reads sparse events without a symbol (cancel) and with numbers as strings (older docs)', () => {
    const frame = parseWsFrame(
      '{"channel":"executions","type":"update","sequence":3,"data":[{"exec_type":"canceled","order_id":"OABC123","order_status":"canceled",' +
        '"reason":"User requested","cum_qty":"0.5","avg_price":0}]}',
      pairOf,
    );
    if (frame.type !== 'executions') throw new Error('not executions');
    const order = frame.entries[0]?.order;
    expect(order).toMatchObject({ txid: 'OABC123', pair: null, change: 'canceled', status: 'canceled', reason: 'User requested', clientOrderId: null });
    expect(order?.volumeExecuted?.toFixed()).toBe('0.5');
    expect(frame.entries[0]?.trade).toBeNull();
  });

  it('reads a snapshot trade that carries no order status as a fill only', () => {
    const frame = parseWsFrame(
      '{"channel":"executions","type":"snapshot","sequence":1,"data":[{"order_id":"OA","exec_type":"trade","exec_id":"TA","last_qty":1,"last_price":2}]}',
      pairOf,
    );
    if (frame.type !== 'executions') throw new Error('not executions');
    expect(frame.snapshot).toBe(true);
    expect(frame.entries[0]?.order).toBeNull();
    expect(frame.entries[0]?.trade?.tradeId).toBe('TA');
  });

  it('reads ticker entries as quotes, leaving out pairs the client does not know', () => {
    const frame = parseWsFrame(
      '{"channel":"ticker","type":"snapshot","data":[{"symbol":"BTC/USD","bid":59999.9,"bid_qty":0.5,"ask":60000.1,"ask_qty":0.5,"last":60000,"volume":0},' +
        '{"symbol":"ALGO/USD","bid":0.1,"ask":0.2,"last":0.15}]}',
      pairOf,
    );
    if (frame.type !== 'ticker') throw new Error('not ticker');
    expect(frame.quotes.map((q) => [q.pair, q.bid.toFixed(), q.ask.toFixed(), q.last.toFixed()])).toEqual([['XXBTZUSD', '59999.9', '60000.1', '60000']]);
  });

  it('reads answers: success with a result, failure with one error string (not an array)', () => {
    expect(
      parseWsFrame(
        '{"method":"add_order","req_id":0,"result":{"order_id":"OPS23M-VS41G-DDE5Z2","cl_ord_id":"client-zero"},"success":true,"time_in":"2024-05-18T12:05:50.293682Z","time_out":"2024-05-18T12:05:50.300542Z"}',
        pairOf,
      ),
    ).toEqual({ type: 'response', response: { method: 'add_order', reqId: 0, outcome: { success: true, result: { order_id: 'OPS23M-VS41G-DDE5Z2', cl_ord_id: 'client-zero' } } } });
    expect(parseWsFrame('{"error":"EOrder:Insufficient funds","method":"add_order","req_id":4,"success":false}', pairOf)).toEqual({
      type: 'response',
      response: { method: 'add_order', reqId: 4, outcome: { success: false, error: 'EOrder:Insufficient funds' } },
    });
  });

  it.each([
    ['an executions frame without a sequence', '{"channel":"executions","type":"update","data":[]}', 'executions.sequence'],
    ['an unknown exec_type', '{"channel":"executions","type":"update","sequence":1,"data":[{"order_id":"O","exec_type":"teleported","order_status":"new"}]}', 'exec_type'],
    ['an order event without a status', '{"channel":"executions","type":"update","sequence":1,"data":[{"order_id":"O","exec_type":"new"}]}', 'order_status'],
    ['a trade without last_qty', '{"channel":"executions","type":"update","sequence":1,"data":[{"order_id":"O","exec_type":"trade","exec_id":"T","last_price":1}]}', 'last_qty'],
    ['a quantity as a boolean', '{"channel":"executions","type":"update","sequence":1,"data":[{"order_id":"O","exec_type":"new","order_status":"new","order_qty":true}]}', 'order_qty'],
    ['a number as an object', '{"channel":"ticker","type":"update","data":[{"symbol":"BTC/USD","bid":{},"ask":1,"last":1}]}', 'bid'],
    ['a bad timestamp', '{"channel":"executions","type":"update","sequence":1,"data":[{"order_id":"O","exec_type":"new","order_status":"new","timestamp":"yesterday"}]}', 'timestamp'],
    ['an answer without success', '{"method":"add_order","req_id":1}', 'success'],
    ['text that is not JSON', 'not json', 'offset'],
  ])('refuses %s, naming the field', (_name, text, field) => {
    expect(() => parseWsFrame(text, pairOf)).toThrow(WireFormatError);
    expect(() => parseWsFrame(text, pairOf)).toThrow(field);
  });
});
