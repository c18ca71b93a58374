import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { NEVER } from 'rxjs';
import { type CliIo } from '../../src/cli/io';
import { main } from '../../src/cli/main';
import { type PaperExchange, startPaperExchange } from '../../src/paper';
import { IdleClock } from '../../src/time/idle-clock';

/**
 * The malformed-input fixture, run end to end: `kraken-rx run --url` (with `--json` at log level silent) against a
 * paper exchange this test starts, so what was placed can be checked through its inspection API. The fixture says
 * what each line must come to in `# skip` / `# halt` / `# rejected` / `# filled` comments before it.
 */

const FIXTURE = join(__dirname, 'fixtures', 'malformed.jsonl');

type Expectation =
  | { readonly kind: 'skip' | 'halt'; readonly line: number; readonly text: string }
  | { readonly kind: 'rejected'; readonly line: number; readonly signalId: string; readonly text: string }
  | { readonly kind: 'filled'; readonly line: number; readonly signalId: string; readonly quantity: string };

/** The fixture's own statement of what each annotated line must come to. */
function expectationsOf(text: string): Expectation[] {
  const lines = text.split('\n');
  return lines.flatMap((comment, index): Expectation[] => {
    const match = /^# (skip|halt|rejected|filled) (.+)$/.exec(comment);
    if (match === null) return [];
    const [, kind, detail] = match as unknown as [string, string, string];
    const line = index + 2;
    if (kind === 'skip' || kind === 'halt') return [{ kind, line, text: detail }];
    const signalId = (JSON.parse(lines[index + 1] ?? '') as { signalId: string }).signalId;
    return kind === 'rejected' ? [{ kind, line, signalId, text: detail }] : [{ kind: 'filled', line, signalId, quantity: detail }];
  });
}

interface JsonOut {
  readonly type?: string;
  readonly line?: number;
  readonly reason?: string | null;
  readonly halted?: boolean;
  readonly signalId?: string;
  readonly status?: string;
  readonly role?: string;
  readonly clientOrderId?: string | null;
  readonly quantityOrdered?: string | null;
  readonly quantityFilled?: string;
  readonly skippedLines?: number;
}

describe('kraken-rx run on the malformed-input fixture', () => {
  let paper: PaperExchange;
  // The run and the exchange share an idle clock: the run's waits pass in virtual time.
  const clock = new IdleClock();
  beforeAll(async () => {
    paper = await startPaperExchange({ tier: 'pro', seed: 11, clock: () => clock.now(), timers: clock.waitTimers });
  });
  afterAll(async () => {
    await paper.close();
  });

  it('reports every malformed line with its number and field, places nothing it should not, and fills the valid signals after them', async () => {
    let out = '';
    let err = '';
    const io: CliIo = {
      stdout: { write: (text: string) => (out += text) },
      stderr: { write: (text: string) => (err += text) },
      stdin: Readable.from([]),
      env: { KRAKEN_API_KEY: paper.apiKey, KRAKEN_API_SECRET: paper.apiSecret },
      stopRequests: NEVER,
      now: Date.now,
      clock,
    };
    const config = join(__dirname, 'fixtures', 'fast.json');
    const code = await clock.drive(main(['run', '--url', paper.url, '--config', config, '--no-journal', '--signals', FIXTURE, '--json', '--log-level', 'silent'], io), 3_600_000);
    expect(err).toBe('');
    expect(code).toBe(0);

    // Every stdout line is one JSON object: no forged line, no raw control character.
    const printed = out.trimEnd().split('\n');
    expect(out).not.toMatch(/[\u0000-\u0009\u000b-\u001f\u007f-\u009f]/);
    const records = printed.map((line) => JSON.parse(line) as JsonOut);
    const skipped = records.filter((record) => record.type === 'skipped');
    const reports = records.filter((record) => record.type === undefined);
    const summary = records.at(-1);

    const expectations = expectationsOf(readFileSync(FIXTURE, 'utf8'));
    const skips = expectations.filter((e): e is Extract<Expectation, { kind: 'skip' | 'halt' }> => e.kind === 'skip' || e.kind === 'halt');
    expect(skipped.map((record) => record.line)).toEqual(skips.map((e) => e.line));
    for (const expectation of skips) {
      const record = skipped.find((candidate) => candidate.line === expectation.line);
      expect([expectation.line, record?.reason, record?.halted]).toEqual([expectation.line, expect.stringContaining(expectation.text), expectation.kind === 'halt']);
    }
    expect(summary).toMatchObject({ type: 'summary', skippedLines: skips.length });

    for (const expectation of expectations) {
      if (expectation.kind !== 'rejected') continue;
      const own = reports.filter((report) => report.signalId === expectation.signalId);
      expect([expectation.signalId, own.map((report) => report.status)]).toEqual([expectation.signalId, ['REJECTED']]);
      expect(own[0]?.reason).toContain(expectation.text);
      // The quantity asked for, not `0/?`.
      expect(own[0]?.quantityOrdered).not.toBeNull();
    }

    const fills = expectations.filter((e): e is Extract<Expectation, { kind: 'filled' }> => e.kind === 'filled');
    const placedIds = new Set<string>();
    for (const expectation of fills) {
      const final = reports.filter((report) => report.signalId === expectation.signalId && report.role === 'entry').at(-1);
      expect([expectation.signalId, final?.status, final?.quantityFilled]).toEqual([expectation.signalId, 'FILLED', expectation.quantity]);
      if (final?.clientOrderId) placedIds.add(final.clientOrderId);
    }
    // 0.0100000099 went in as written and was rounded to the lot, and the report says so.
    expect(reports.find((report) => report.signalId === 'v1' && report.status === 'FILLED')?.reason).toBe(
      'rounded to the BTC/USD rules: quantity 0.0100000099 → 0.01 (8 lot decimals, rounded down)',
    );

    // Nothing but the valid signals reached the exchange.
    const placed = paper.inspect.orders();
    expect(placed.map((order) => order.clOrdId).sort()).toEqual([...placedIds].sort());
    expect(placed.map((order) => [order.orderType, order.side, order.volume.toFixed()])).toEqual([
      ['market', 'buy', '0.01'],
      ['market', 'buy', '0.02'],
    ]);
  });
});
