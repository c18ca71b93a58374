import { firstValueFrom } from 'rxjs';
import { type JournalStatus, formatStatusText, journalStatus } from '../../src/cli/journal-status';
import { accountFingerprint } from '../../src/journal/account';
import { openMemoryJournal } from '../../src/journal/memory';
import { type Journal } from '../../src/model/journal';
import { T0, acceptedAs, d, fill, intent, place } from './support/journal';

const ACCOUNT = accountFingerprint('JOURNAL-STATUS-SPEC');

async function statusOf(fillWith: (journal: Journal) => Promise<void>): Promise<JournalStatus> {
  const journal = openMemoryJournal({ account: ACCOUNT });
  await fillWith(journal);
  const orders = await firstValueFrom(journal.orders());
  await firstValueFrom(journal.close());
  return journalStatus(orders);
}

const watched = { stopLoss: d('57000'), takeProfit: d('62000'), limitTimeoutMs: null, protectionMode: 'stop-resting' as const };
const stopOf = (clientOrderId: string, parent: string, volume: string, fields = {}) =>
  intent(clientOrderId, { role: 'stop-loss', parentClientOrderId: parent, side: 'sell', orderType: 'stop-loss', volume: d(volume), price: d('57000'), ...fields });

describe('journalStatus', () => {
  it('watches a take-profit for what its stop has not sold yet', async () => {
    const status = await statusOf(async (journal) => {
      await place(journal, intent('e1', { duties: watched }), [...acceptedAs('OE1', T0), fill('OE1', 'T1', '0.5')], T0);
      await place(journal, stopOf('s1', 'e1', '0.5'), [...acceptedAs('OS1', T0 + 5000), fill('OS1', 'T2', '0.2')], T0 + 5000);
    });
    expect(status.positions.map((p) => [p.pair, p.quantity.toFixed()])).toEqual([['XXBTZUSD', '0.3']]);
    expect(status.takeProfitWatches.map((t) => t.open.toFixed())).toEqual(['0.3']);
    expect(status.restingProtection.map((r) => [r.clientOrderId, r.status, r.filled.toFixed()])).toEqual([['s1', 'partially-filled', '0.2']]);
  });

  it('ends the watch when a close without a parent sold the whole pair', async () => {
    const status = await statusOf(async (journal) => {
      await place(journal, intent('e1', { duties: watched }), [...acceptedAs('OE1', T0), fill('OE1', 'T1', '0.5')], T0);
      await place(journal, intent('c1', { signalId: 'close-1', role: 'close', side: 'sell' }), [...acceptedAs('OC1', T0 + 5000), fill('OC1', 'T2', '0.5')], T0 + 5000);
    });
    expect(status.positions).toEqual([]);
    expect(status.takeProfitWatches).toEqual([]);
  });

  it('shows a resting take-profit (both-resting) as protection, not as a watch', async () => {
    const status = await statusOf(async (journal) => {
      await place(journal, intent('e1', { duties: { ...watched, protectionMode: 'both-resting' } }), [...acceptedAs('OE1', T0), fill('OE1', 'T1', '0.5')], T0);
      await place(journal, stopOf('s1', 'e1', '0.5'), acceptedAs('OS1', T0 + 5000), T0 + 5000);
      await place(journal, stopOf('t1', 'e1', '0.5', { role: 'take-profit', orderType: 'take-profit', price: d('62000') }), acceptedAs('OT1', T0 + 6000), T0 + 6000);
    });
    expect(status.takeProfitWatches).toEqual([]);
    expect(status.restingProtection.map((r) => [r.role, r.parentClientOrderId])).toEqual([
      ['stop-loss', 'e1'],
      ['take-profit', 'e1'],
    ]);
  });

  it('signs a sold position, and has no timeout time for an entry not yet accepted', async () => {
    const status = await statusOf(async (journal) => {
      await place(journal, intent('e1', { side: 'sell', pair: 'XETHZUSD', volume: d('2') }), [...acceptedAs('OE1', T0), fill('OE1', 'T1', '2')], T0);
      await place(journal, intent('e2', { orderType: 'limit', price: d('59000'), duties: { ...watched, limitTimeoutMs: 60_000 } }), [{ kind: 'sent', deadline: T0 + 10_000 }], T0);
    });
    expect(status.positions.map((p) => [p.pair, p.quantity.toFixed()])).toEqual([['XETHZUSD', '-2']]);
    expect(status.workingEntries.map((e) => [e.clientOrderId, e.status, e.timeoutAt])).toEqual([['e2', 'sent', null]]);
    // A watch needs a filled entry: e2 has filled nothing.
    expect(status.takeProfitWatches).toEqual([]);
    const text = formatStatusText({ path: '/j.db', account: ACCOUNT }, status);
    expect(text).toContain('\n  XETHZUSD -2\n');
    expect(text).toContain('\n  [s] XXBTZUSD buy limit 0/0.5 limit 59000 sent cl_ord_id e2 no txid yet\n');
    expect(text).toContain('Resting protection:\n  (none)\n');
  });
});
