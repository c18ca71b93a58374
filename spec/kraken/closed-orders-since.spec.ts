import { afterEach, beforeEach, describe, expect, it } from '@jest/globals';
import { firstValueFrom } from 'rxjs';
import { Credentials } from '../../src/kraken/credentials';
import { KrakenExchange, createKrakenExchange } from '../../src/kraken/exchange';
import { PrivateLane } from '../../src/kraken/private-lane';
import { SECRET, closedMarketOrder } from './support/fixtures';
import { LoopbackServer, answerFrom, errorOf } from './support/loopback-server';

let server: LoopbackServer;
let exchange: KrakenExchange;
let results: Record<string, unknown>;

const form = (index = 0): URLSearchParams => new URLSearchParams(server.requests[index]!.body);

beforeEach(async () => {
  server = await LoopbackServer.start();
  results = {};
  server.handler = answerFrom(results);
  exchange = createKrakenExchange({ url: server.url, credentials: new Credentials('CLIENT-KEY', SECRET), timeoutMs: 1000, lane: new PrivateLane() });
});

afterEach(async () => {
  await server.stop();
});

describe('KrakenExchange.closedOrdersSince', () => {
  it('asks for the page at the offset since the time in whole seconds, rounded down so nothing after it is left out', async () => {
    results['ClosedOrders'] = { closed: { OX: closedMarketOrder('c-1') }, count: 73 };
    const page = await firstValueFrom(exchange.closedOrdersSince(1_767_603_600_999, 50));
    expect(page.count).toBe(73);
    expect(page.orders.get('OX')?.clientOrderId).toBe('c-1');
    expect([form().get('start'), form().get('ofs'), form().has('cl_ord_id')]).toEqual(['1767603600', '50', false]);
  });

  it('fails as malformed when the answer has no count: the walk could not know where it ends', async () => {
    results['ClosedOrders'] = { closed: {} };
    const error = await errorOf(firstValueFrom(exchange.closedOrdersSince(1_767_603_600_000, 0)));
    expect(error.message).toContain('ClosedOrders result.count');
  });

  it('refuses a start or an offset it cannot send, without a call', async () => {
    const error = await errorOf(firstValueFrom(exchange.closedOrdersSince(Number.NaN, 0)));
    expect(error.kind).toBe('refused');
    expect((await errorOf(firstValueFrom(exchange.closedOrdersSince(0, -50)))).kind).toBe('refused');
    expect(server.requests).toHaveLength(0);
  });
});
