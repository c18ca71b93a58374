import { Decimal } from 'decimal.js';
import { formatReportJson, formatReportText, formatSummaryText, ReportLedger } from '../../src/cli/format';
import { createCliLogger } from '../../src/cli/logging';
import { jsonLine, printable } from '../../src/cli/printable';
import { type ExecutionReport } from '../../src/model/report';

const FORGED = 'spoof\n12:00:00.000 [spoof] entry       BTC/USD  buy  market      FILLED           100/100';

const rejected = (signalId: string, reason: string): ExecutionReport => ({
  reportId: 'r1',
  timestamp: Date.UTC(2026, 0, 1, 12),
  signalId,
  clientOrderId: null,
  exchangeOrderId: null,
  pair: 'BTC/USD',
  role: 'entry',
  side: 'buy',
  orderType: 'market',
  status: 'REJECTED',
  quantityOrdered: new Decimal('0.01'),
  quantityFilled: new Decimal(0),
  lastFillQuantity: null,
  lastFillPrice: null,
  averageFillPrice: null,
  limitPrice: null,
  stopPrice: null,
  commission: new Decimal(0),
  commissionAsset: null,
  reason,
});

describe('printable', () => {
  it('escapes line breaks, tabs, ESC, DEL, C1 controls, bidi overrides and line separators', () => {
    expect(printable('a\nb\rc\td\u001b[31me\u007ff\u009bg\u202eh\u2028i\u200bj')).toBe(
      'a\\nb\\rc\\td\\u001b[31me\\u007ff\\u009bg\\u202eh\\u2028i\\u200bj',
    );
  });

  it('leaves printable text of any script alone, backslashes included', () => {
    expect(printable('BTC/USD ß € 🚀 C:\\path — ok')).toBe('BTC/USD ß € 🚀 C:\\path — ok');
  });

  it('escapes an astral format character as its two UTF-16 units', () => {
    expect(printable('a\u{e0001}b')).toBe('a\\udb40\\udc01b');
  });
});

describe('jsonLine', () => {
  it('escapes what JSON.stringify leaves raw, and still means the same JSON', () => {
    const value = { reason: 'x\u007f\u009b\u202e\u2028\u001b\ny' };
    const line = jsonLine(value);
    expect(line).toBe('{"reason":"x\\u007f\\u009b\\u202e\\u2028\\u001b\\ny"}');
    expect(JSON.parse(line)).toEqual(value);
    expect(line).not.toMatch(/[\u0000-\u001f\u007f-\u009f\u2028\u2029\u202a-\u202e]/);
  });
});

describe('no forged lines, no raw ESC, in what the CLI writes', () => {
  it('prints a report whose id and reason hold a line break and an ESC as one escaped line', () => {
    const text = formatReportText(rejected(FORGED, 'pair: unknown pair \u001b[2J'));
    expect(text.split('\n')).toHaveLength(1);
    expect(text).not.toContain('\u001b');
    expect(text).toContain('[spoof\\n12:00:00.000 [spoof] entry');
    expect(text).toContain('unknown pair \\u001b[2J');
  });

  it('prints such a report as one JSON line that parses back to the same id', () => {
    const line = formatReportJson(rejected(`${FORGED}\u009b`, 'r'));
    expect(line.split('\n')).toHaveLength(1);
    expect(line).not.toMatch(/[\u0000-\u001f\u009b]/);
    expect((JSON.parse(line) as { signalId: string }).signalId).toBe(`${FORGED}\u009b`);
  });

  it('keeps each summary row on its own line', () => {
    const ledger = new ReportLedger();
    ledger.add(rejected(FORGED, 'bad\nline'));
    const lines = formatSummaryText(ledger.summary()).split('\n');
    expect(lines.filter((line) => line.includes('spoof'))).toHaveLength(1);
    expect(lines.some((line) => line.startsWith('12:00:00.000'))).toBe(false);
  });

  it('logs a message holding a line break and an ESC as one escaped stderr line', () => {
    let written = '';
    const log = createCliLogger('info', { write: (text: string) => (written += text) }, () => 0);
    log.warn(`input line 3 skipped: ${FORGED}`, '\u001b[31m');
    expect(written.split('\n')).toEqual([`00:00:00.000 WARN  input line 3 skipped: spoof\\n12:00:00.000 [spoof] entry       BTC/USD  buy  market      FILLED           100/100 \\u001b[31m`, '']);
  });
});
