import { afterEach, describe, expect, it } from '@jest/globals';
import { Decimal } from 'decimal.js';
import { type Subscription, lastValueFrom } from 'rxjs';
import { type Venue, openVenue } from '../../src/cli/venue';
import { type PortTransport } from '../../src/model/port';
import { testConfig } from '../../src/testing/config';
import { IdleClock } from '../../src/time/idle-clock';
import { quiet } from '../streams/stream-deps';

/** The CLI's venue (paper mode) with its WebSocket feed: orders over the socket once it is up; `feed.mode: rest` keeps REST. */

const opened: Array<{ venue: Venue; listening: Subscription | null; clock: IdleClock }> = [];

async function venueWith(mode: 'websocket' | 'rest'): Promise<{ venue: Venue; clock: IdleClock }> {
  const clock = new IdleClock();
  const config = { ...testConfig(), feed: { mode, auditIntervalMs: 60_000 } };
  const venue = await openVenue(config, { env: {}, log: quiet, clock });
  const listening = venue.feed ? venue.feed.executions().subscribe() : null;
  opened.push({ venue, listening, clock });
  return { venue, clock };
}

afterEach(async () => {
  for (const { venue, listening, clock } of opened.splice(0)) {
    listening?.unsubscribe();
    await clock.settle();
    await venue.close();
  }
});

const transportOf = (venue: Venue): PortTransport | undefined => venue.port.transportOf?.('placeOrder');

describe('the CLI venue routes orders over the socket', () => {
  it('with the WebSocket feed: REST until the socket is up, then add_order over it (no AddOrder on REST)', async () => {
    const { venue, clock } = await venueWith('websocket');
    expect(transportOf(venue)).toBe('rest');
    expect(await clock.runUntil(() => transportOf(venue) === 'websocket', 30_000)).toBe(true);
    const paper = venue.paper;
    if (!paper) throw new Error('paper mode starts a paper exchange');
    const addOrdersBefore = paper.inspect.requestCount('AddOrder');
    const placed = await clock.drive(
      lastValueFrom(venue.port.placeOrder({ clientOrderId: 'cl-venue-1', pair: 'XXBTZUSD', side: 'buy', orderType: 'limit', volume: new Decimal('0.01'), price: new Decimal('50000') })),
      30_000,
    );
    expect(placed.clientOrderId).toBe('cl-venue-1');
    expect(paper.inspect.ordersByClOrdId('cl-venue-1').map((o) => o.txid)).toEqual([placed.txid]);
    expect(paper.inspect.requestCount('AddOrder')).toBe(addOrdersBefore);
  });

  it('with feed.mode rest: no socket, everything over REST', async () => {
    const { venue } = await venueWith('rest');
    expect(venue.feed).toBeNull();
    expect(transportOf(venue)).toBeUndefined();
  });
});
