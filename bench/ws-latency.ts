import { performance } from 'node:perf_hooks';
import { Decimal } from 'decimal.js';
import { type Subscription, filter, firstValueFrom, lastValueFrom, map } from 'rxjs';
import { createKrakenClient } from '../src/kraken/client';
import { Credentials } from '../src/kraken/credentials';
import { pairBookFromAssetPairs } from '../src/kraken/pairs';
import { KrakenWsFeed } from '../src/kraken/ws-feed';
import { type ExecutionEvent } from '../src/model/feed';
import { startPaperExchange } from '../src/paper';
import { type Table, count, fixed } from './table';

/** Alternating sources: half the fills are timed over WebSocket, half over REST. */
const FILLS = 400;
/** The monitor's fastest pace (config `monitor.minIntervalMs`); at starter tier the REST budget makes it slower. */
const POLL_INTERVAL_MS = 1_000;

export interface FillLatency {
  /** Real ms from the fill on the exchange to the `trade` event out of the WebSocket feed. */
  readonly websocket: readonly number[];
  /** Real ms of one OpenOrders tick that sees the fill, issued at the moment of the fill (a poll's best case). */
  readonly restTick: readonly number[];
}

const quantile = (sorted: readonly number[], q: number): number => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? Number.NaN;

/**
 * Fill → client latency on loopback, in real time: the paper exchange fills a resting limit (setPrice), and the
 * clock starts; the WebSocket side stops when the feed emits the trade, the REST side when one OpenOrders call
 * issued at that instant comes back without the order. Both against one paper exchange in this process.
 */
export async function measureFillLatency(): Promise<FillLatency> {
  const paper = await startPaperExchange({ seed: 11, tier: 'unlimited' });
  const rest = createKrakenClient({ url: paper.url, credentials: new Credentials(paper.apiKey, paper.apiSecret), timeoutMs: 10_000 });
  const pairs = pairBookFromAssetPairs(await lastValueFrom(rest.assetPairs()));
  const feed = new KrakenWsFeed({
    privateUrl: paper.wsUrl,
    publicUrl: paper.wsUrl,
    token: () => rest.getWebSocketsToken().pipe(map((t) => t.token)),
    pairs,
  });
  const events = feed.executions();
  const keepOpen: Subscription = events.subscribe();
  const websocket: number[] = [];
  const restTick: number[] = [];
  try {
    await firstValueFrom(events.pipe(filter((e) => e.kind === 'snapshot')));
    for (let i = 0; i < FILLS; i++) {
      paper.setPrice('XBTUSD', '60000');
      const viaWs = i % 2 === 0;
      const placed = await lastValueFrom(rest.addOrder({ pair: 'XBTUSD', type: 'buy', ordertype: 'limit', price: '59000', volume: '0.001' }));
      const txid = placed.txids[0] ?? '';
      if (viaWs) {
        const seen = firstValueFrom(events.pipe(filter((e: ExecutionEvent) => e.kind === 'trade' && e.trade.txid === txid)));
        const start = performance.now();
        paper.setPrice('XBTUSD', new Decimal('58999.9'));
        await seen;
        websocket.push(performance.now() - start);
      } else {
        const start = performance.now();
        paper.setPrice('XBTUSD', new Decimal('58999.9'));
        const open = await lastValueFrom(rest.openOrders());
        if (open.has(txid)) throw new Error('bench: the fill was not visible to OpenOrders');
        restTick.push(performance.now() - start);
      }
    }
  } finally {
    keepOpen.unsubscribe();
    await paper.close();
  }
  return { websocket, restTick };
}

export function fillLatencyTable(latency: FillLatency): Table {
  const row = (name: string, samples: readonly number[], addedMs = 0): string[] => {
    const sorted = [...samples].sort((a, b) => a - b);
    return [name, count(samples.length), ...[0.5, 0.9, 0.99].map((q) => fixed(quantile(sorted, q) + addedMs, 2)), fixed((sorted.at(-1) ?? Number.NaN) + addedMs, 2)];
  };
  return {
    title: 'Fill → client latency on loopback (real ms, paper exchange in the same process)',
    columns: ['source', 'fills', 'p50', 'p90', 'p99', 'max'],
    rows: [
      row('WebSocket executions (trade event)', latency.websocket),
      row('REST: one OpenOrders tick at the fill', latency.restTick),
      row(`REST: polling every ${POLL_INTERVAL_MS} ms (tick + half an interval)`, latency.restTick, POLL_INTERVAL_MS / 2),
    ],
    notes: [
      'The REST tick row is the best case of polling: the poll happens the instant the fill does. A poller waits on average half its',
      `interval first (the last row; ${POLL_INTERVAL_MS} ms is the monitor's fastest pace), and a tick that finds a fill also costs QueryOrders;`,
      'at starter tier the REST budget stretches the interval to seconds (issue 14: median 3.2 s fill → report).',
    ],
  };
}
