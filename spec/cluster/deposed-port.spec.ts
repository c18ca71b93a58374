import { describe, expect, it } from '@jest/globals';
import { type Observable, firstValueFrom, of, throwError } from 'rxjs';
import { untilDeposed } from '../../src/cluster/deposed-port';
import { JournalError } from '../../src/model/journal';
import { type OrderSnapshot, type Quote } from '../../src/model/order';
import { type ClosedOrdersPage, type ExchangePort } from '../../src/model/port';
import { book } from '../streams/fake-exchange';

/** A port that counts the calls that reach it: only reads are answered, the rest would be a test's mistake. */
function countingPort(withPages: boolean): { readonly port: ExchangePort; readonly reached: string[] } {
  const reached: string[] = [];
  const none = <T>(what: string): Observable<T> => throwError(() => new Error(`${what}: not expected`));
  const empty: ReadonlyMap<string, OrderSnapshot> = new Map();
  const port: ExchangePort = {
    placeOrder: () => none('placeOrder'),
    cancelOrder: () => none('cancelOrder'),
    queryOrders: () => none('queryOrders'),
    openOrders: () => none('openOrders'),
    closedOrders: () => none('closedOrders'),
    ticker: () => {
      reached.push('ticker');
      return of(new Map<string, Quote>());
    },
    pairs: () => of(book),
    ...(withPages
      ? {
          closedOrdersSince: (startMs: number, offset: number): Observable<ClosedOrdersPage> => {
            reached.push(`closedOrdersSince ${startMs} ${offset}`);
            return of({ orders: empty, count: 0 });
          },
        }
      : {}),
  };
  return { port, reached };
}

describe('untilDeposed', () => {
  it("keeps the port's page of closed orders (reconciliation's read) while leading, and fences it once deposed", async () => {
    let why: string | null = null;
    const { port, reached } = countingPort(true);
    const gated = untilDeposed(port, () => why);
    expect(await firstValueFrom(gated.closedOrdersSince?.(1_000, 50) ?? of(null))).toEqual({ orders: new Map(), count: 0 });
    why = 'the lease lapsed';
    const refused = await firstValueFrom(gated.closedOrdersSince?.(1_000, 0) ?? of(null)).catch((error: unknown) => error);
    expect(refused).toBeInstanceOf(JournalError);
    expect((refused as JournalError).kind).toBe('fenced');
    expect((refused as JournalError).message).toContain('ClosedOrders not sent: this run no longer leads the account (the lease lapsed)');
    // Public reads go on.
    await firstValueFrom(gated.ticker(['XXBTZUSD']));
    expect(reached).toEqual(['closedOrdersSince 1000 50', 'ticker']);
  });

  it('offers no page of closed orders when the port has none (reconciliation then looks each order up)', () => {
    expect(untilDeposed(countingPort(false).port, () => null).closedOrdersSince).toBeUndefined();
  });
});
