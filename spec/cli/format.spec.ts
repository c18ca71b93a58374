import { Decimal } from 'decimal.js';
import {
  ReportLedger,
  clockTime,
  formatReportJson,
  formatReportText,
  formatSummaryJson,
  formatSummaryText,
  renderTable,
} from '../../src/cli/format';
import { type ExecutionReport } from '../../src/model/report';

const T0 = Date.UTC(2026, 10, 22, 12, 0, 1, 250);
let reportCount = 0;

const report = (fields: Partial<ExecutionReport>): ExecutionReport => {
  reportCount += 1;
  return {
    reportId: `r${reportCount}`,
    timestamp: T0,
    signalId: 's1',
    clientOrderId: 'cl-1',
    exchangeOrderId: 'OABCDE-FGHIJ-KLMNOP',
    pair: 'BTC/USD',
    role: 'entry',
    side: 'buy',
    orderType: 'limit',
    status: 'NEW',
    quantityOrdered: new Decimal('0.01'),
    quantityFilled: new Decimal(0),
    lastFillQuantity: null,
    lastFillPrice: null,
    averageFillPrice: null,
    limitPrice: new Decimal('30000'),
    stopPrice: null,
    commission: new Decimal(0),
    commissionAsset: null,
    reason: null,
    ...fields,
  };
};

describe('formatReportText', () => {
  it('prints time, signal, role, pair, side, type, status and quantities on one line', () => {
    expect(formatReportText(report({}))).toBe(
      '12:00:01.250 [s1] entry       BTC/USD  buy  limit       NEW              0/0.01 limit 30000 OABCDE-FGHIJ-KLMNOP',
    );
  });

  it('adds the fill, average price, fee and reason when there are any', () => {
    const line = formatReportText(
      report({
        status: 'PARTIALLY_FILLED',
        quantityFilled: new Decimal('0.004'),
        lastFillQuantity: new Decimal('0.004'),
        lastFillPrice: new Decimal('29999.5'),
        averageFillPrice: new Decimal('29999.5'),
        commission: new Decimal('0.31199'),
        commissionAsset: 'USD',
        reason: 'partial',
      }),
    );
    expect(line).toBe(
      '12:00:01.250 [s1] entry       BTC/USD  buy  limit       PARTIALLY_FILLED 0.004/0.01 fill 0.004 @ 29999.5 avg 29999.5 limit 30000 fee 0.31199 USD OABCDE-FGHIJ-KLMNOP — partial',
    );
  });

  it('prints a rejection without exchange id, and tiny quantities without an exponent', () => {
    const line = formatReportText(
      report({
        status: 'REJECTED',
        exchangeOrderId: null,
        clientOrderId: null,
        quantityOrdered: new Decimal('0.00000001'),
        limitPrice: null,
        reason: 'quantity: 0.00000001 is below the XBTUSD order minimum 0.0001',
      }),
    );
    expect(line).toBe(
      '12:00:01.250 [s1] entry       BTC/USD  buy  limit       REJECTED         0/0.00000001 — quantity: 0.00000001 is below the XBTUSD order minimum 0.0001',
    );
  });

  it('prints the stop price of a protective order', () => {
    expect(formatReportText(report({ role: 'stop-loss', side: 'sell', orderType: 'stop-loss', limitPrice: null, stopPrice: new Decimal('29000') }))).toContain(
      'stop-loss   BTC/USD  sell stop-loss   NEW              0/0.01 stop 29000',
    );
  });
});

describe('clockTime', () => {
  it('is UTC with milliseconds', () => {
    expect(clockTime(Date.UTC(2026, 0, 1, 3, 4, 5, 6))).toBe('03:04:05.006');
  });
});

describe('formatReportJson', () => {
  it('writes one JSON object with every Decimal as a plain string', () => {
    const line = formatReportJson(
      report({ quantityFilled: new Decimal('0.00000001'), lastFillQuantity: new Decimal('1e-8'), commission: new Decimal('0.5') }),
    );
    expect(line).not.toContain('\n');
    const parsed = JSON.parse(line) as Record<string, unknown>;
    expect(parsed).toMatchObject({
      signalId: 's1',
      status: 'NEW',
      quantityOrdered: '0.01',
      quantityFilled: '0.00000001',
      lastFillQuantity: '0.00000001',
      lastFillPrice: null,
      limitPrice: '30000',
      commission: '0.5',
      timestamp: T0,
    });
    expect(Object.keys(parsed)).toHaveLength(20);
  });
});

describe('ReportLedger', () => {
  const entryFills = (): ExecutionReport[] => [
    report({ clientOrderId: 'e1', status: 'NEW' }),
    report({
      clientOrderId: 'e1',
      status: 'PARTIALLY_FILLED',
      quantityFilled: new Decimal('0.004'),
      lastFillQuantity: new Decimal('0.004'),
      lastFillPrice: new Decimal('30000'),
      averageFillPrice: new Decimal('30000'),
      commission: new Decimal('0.3'),
      commissionAsset: 'USD',
    }),
    report({
      clientOrderId: 'e1',
      status: 'CANCELED',
      quantityFilled: new Decimal('0.004'),
      averageFillPrice: new Decimal('30000'),
      commission: new Decimal('0.3'),
      commissionAsset: 'USD',
      reason: 'timeout',
    }),
    report({
      clientOrderId: 'p1',
      exchangeOrderId: 'OSTOP1',
      role: 'stop-loss',
      side: 'sell',
      orderType: 'stop-loss',
      status: 'NEW',
      quantityOrdered: new Decimal('0.004'),
      limitPrice: null,
      stopPrice: new Decimal('29000'),
    }),
  ];

  it('sums fills, fees and positions from the reports, Decimal-exact', () => {
    const ledger = new ReportLedger();
    entryFills().forEach((r) => ledger.add(r));
    ledger.add(
      report({
        signalId: 's2',
        clientOrderId: 'e2',
        orderType: 'market',
        status: 'FILLED',
        quantityOrdered: new Decimal('0.1'),
        quantityFilled: new Decimal('0.1'),
        lastFillQuantity: new Decimal('0.1'),
        lastFillPrice: new Decimal('30000'),
        averageFillPrice: new Decimal('30000'),
        commission: new Decimal('7.8'),
        commissionAsset: 'USD',
      }),
    );
    ledger.add(
      report({
        signalId: 's2',
        clientOrderId: 'x2',
        role: 'close',
        side: 'sell',
        orderType: 'market',
        status: 'FILLED',
        quantityOrdered: new Decimal('0.1'),
        quantityFilled: new Decimal('0.1'),
        lastFillQuantity: new Decimal('0.1'),
        lastFillPrice: new Decimal('30100'),
        averageFillPrice: new Decimal('30100'),
        commission: new Decimal('0.1'),
        commissionAsset: 'USD',
      }),
    );
    const summary = ledger.summary();
    expect(summary.orders.map((o) => [o.signalId, o.role, o.status])).toEqual([
      ['s1', 'entry', 'CANCELED'],
      ['s1', 'stop-loss', 'NEW'],
      ['s2', 'entry', 'FILLED'],
      ['s2', 'close', 'FILLED'],
    ]);
    expect([...summary.byStatus]).toEqual([
      ['CANCELED', 1],
      ['NEW', 1],
      ['FILLED', 2],
    ]);
    expect(summary.fills.count).toBe(3);
    expect([...summary.fills.volume].map(([k, v]) => [k, v.toFixed()])).toEqual([
      ['BTC/USD buy', '0.104'],
      ['BTC/USD sell', '0.1'],
    ]);
    // 0.3 + 7.8 + 0.1 in floats would be 8.200000000000001.
    expect(summary.fees.get('USD')?.toFixed()).toBe('8.2');
    expect(summary.positions.get('BTC/USD')?.toFixed()).toBe('0.004');
    expect(summary.restingProtection.map((o) => o.exchangeOrderId)).toEqual(['OSTOP1']);
  });

  it('leaves out pairs whose position is back to zero', () => {
    const ledger = new ReportLedger();
    ledger.add(report({ clientOrderId: 'a', status: 'FILLED', quantityFilled: new Decimal('1') }));
    ledger.add(report({ clientOrderId: 'b', side: 'sell', status: 'FILLED', quantityFilled: new Decimal('1.0') }));
    expect(ledger.summary().positions.size).toBe(0);
  });

  it('tells which orders are still in motion: not final and not resting protection', () => {
    const ledger = new ReportLedger();
    const [placed, partial, cancelled, stop] = entryFills();
    ledger.add(placed as ExecutionReport);
    expect(ledger.inMotion().map((r) => r.clientOrderId)).toEqual(['e1']);
    ledger.add(partial as ExecutionReport);
    expect(ledger.inMotion().map((r) => r.status)).toEqual(['PARTIALLY_FILLED']);
    ledger.add(cancelled as ExecutionReport);
    ledger.add(stop as ExecutionReport);
    expect(ledger.inMotion()).toEqual([]);
    ledger.add(report({ clientOrderId: 'q', status: 'UNKNOWN' }));
    expect(ledger.inMotion().map((r) => r.clientOrderId)).toEqual(['q']);
  });

  it('does not let a stale report reopen a finished order', () => {
    const ledger = new ReportLedger();
    ledger.add(report({ clientOrderId: 'z', status: 'FILLED', quantityFilled: new Decimal('0.01') }));
    ledger.add(report({ clientOrderId: 'z', status: 'NEW' }));
    expect(ledger.summary().orders.map((o) => o.status)).toEqual(['FILLED']);
  });

  it('keeps rejections without any order id apart', () => {
    const ledger = new ReportLedger();
    ledger.add(report({ clientOrderId: null, exchangeOrderId: null, status: 'REJECTED', signalId: 'a' }));
    ledger.add(report({ clientOrderId: null, exchangeOrderId: null, status: 'REJECTED', signalId: 'b' }));
    expect(ledger.orderCount).toBe(2);
  });

  it('prints a summary table and totals', () => {
    const ledger = new ReportLedger();
    entryFills().forEach((r) => ledger.add(r));
    ledger.skipLine();
    const text = formatSummaryText(ledger.summary());
    const lines = text.split('\n');
    expect(lines).toContain('Orders by status: CANCELED 1, NEW 1');
    expect(lines).toContain('Fills: 1 (BTC/USD buy 0.004)');
    expect(lines).toContain('Fees: 0.3 USD');
    expect(lines).toContain('Open positions: BTC/USD +0.004');
    expect(lines).toContain('Protection left resting: stop-loss BTC/USD sell 0.004 @ 29000 (OSTOP1)');
    expect(lines).toContain('Input lines skipped: 1');
    const header = lines.find((line) => line.startsWith('signal'));
    expect(header).toMatch(/^signal\s+role\s+pair\s+side\s+type\s+status\s+filled\s+ordered\s+avg price\s+fee\s+reason$/);
    expect(lines.find((line) => line.includes('CANCELED') && line.startsWith('s1'))).toMatch(/0\.004\s+0\.01\s+30000\s+0\.3 USD\s+timeout$/);
  });

  it('prints the summary as one JSON line', () => {
    const ledger = new ReportLedger();
    entryFills().forEach((r) => ledger.add(r));
    const parsed = JSON.parse(formatSummaryJson(ledger.summary())) as Record<string, unknown>;
    expect(parsed).toMatchObject({
      type: 'summary',
      byStatus: { CANCELED: 1, NEW: 1 },
      fills: { count: 1, volume: { 'BTC/USD buy': '0.004' } },
      fees: { USD: '0.3' },
      positions: { 'BTC/USD': '0.004' },
      restingProtection: ['OSTOP1'],
      skippedLines: 0,
    });
  });

  it('says so when there were no orders', () => {
    expect(formatSummaryText(new ReportLedger().summary())).toContain('No orders.');
  });
});

describe('renderTable', () => {
  it('pads columns to the widest cell and right-aligns numbers', () => {
    expect(renderTable(['a', 'num'], [['long text', '1.5'], ['x', '100.25']], [1])).toEqual([
      'a             num',
      '---------  ------',
      'long text     1.5',
      'x          100.25',
    ]);
  });
});

describe('elapsed time', () => {
  it('prints the time since the origin when given one', () => {
    expect(formatReportText(report({ timestamp: T0 + 12_345 }), T0)).toMatch(/^\+012\.345s \[s1\] entry /);
  });
});
