import { Decimal } from 'decimal.js';
import { firstValueFrom } from 'rxjs';
import { openSqliteJournal } from '../../../src/journal/sqlite';
import { type Journal } from '../../../src/model/journal';

/**
 * The crash test's writer, run as a child process: appends orders to the journal in `argv[2]` for the
 * account `argv[3]` without end (ids start with `argv[4]`), and after each append has returned prints `ack <kind> <id> <seq>` on stdout
 * (a pipe: the write is synchronous on Linux, so every line the parent reads was acknowledged before the
 * kill). The parent SIGKILLs it at some point and checks that every acknowledged append is in the file.
 */
const [path, account, prefix = ''] = process.argv.slice(2);
if (!path || !account) throw new Error('usage: crash-writer <journal file> <account> [id prefix]');

const ack = (kind: string, id: string, seq: number): void => {
  process.stdout.write(`ack ${kind} ${id} ${seq}\n`);
};

async function writeForever(journal: Journal): Promise<never> {
  for (let i = 0; ; i++) {
    const signalId = `${prefix}s${i}`;
    const clientOrderId = `${prefix}c${i}`;
    const at = 1_700_000_000_000 + i;
    const signal = await firstValueFrom(
      journal.recordSignal({
        signalId,
        receivedAt: at,
        pair: 'XXBTZUSD',
        side: 'buy',
        orderType: 'limit',
        quantity: new Decimal('0.01'),
        limitPrice: new Decimal('50000.1'),
        stopLoss: new Decimal('49000'),
        takeProfit: null,
        timeoutMs: 60_000,
      }),
    );
    if (signal.kind !== 'recorded') throw new Error(`${signalId} was already journaled`);
    ack('signal', signalId, signal.seq);
    const intent = await firstValueFrom(
      journal.recordIntent({
        clientOrderId,
        signalId,
        role: 'entry',
        parentClientOrderId: null,
        pair: 'XXBTZUSD',
        side: 'buy',
        orderType: 'limit',
        volume: new Decimal('0.01'),
        price: new Decimal('50000.1'),
        price2: null,
        deadlineMs: 10_000,
        duties: { stopLoss: new Decimal('49000'), takeProfit: null, limitTimeoutMs: 60_000, protectionMode: 'stop-resting' },
        createdAt: at,
      }),
    );
    ack('intent', clientOrderId, intent.seq);
    const events = [
      { kind: 'sent', deadline: at + 10_000 },
      { kind: 'accepted', txid: `O${prefix}${i}` },
      { kind: 'fill', txid: `O${prefix}${i}`, tradeId: `T${prefix}${i}`, quantity: new Decimal('0.004'), price: new Decimal('50000.1'), fee: new Decimal('0.05'), volumeExecuted: new Decimal('0.004') },
    ] as const;
    for (const event of events) {
      const step = await firstValueFrom(journal.recordTransition(clientOrderId, event, at));
      if (step.kind !== 'moved') throw new Error(`${clientOrderId}: ${event.kind} was ${step.kind}`);
      ack('transition', clientOrderId, step.seq);
    }
  }
}

writeForever(openSqliteJournal({ path, account })).catch((error: unknown) => {
  process.stderr.write(`crash-writer: ${error instanceof Error ? error.message : String(error)}\n`);
  process.exit(1);
});
