import { describe, expect, it } from '@jest/globals';
import * as root from '../src/index';

describe('package root', () => {
  it('exports the public contract of design.md §5', () => {
    const names = [
      'signRequest',
      'createKrakenClient',
      'KrakenExchange',
      'createKrakenExchange',
      'haltGate',
      'translate',
      'rateLimit',
      'RateGate',
      'retryBackoff',
      'fillDeltas',
      'CircuitBreaker',
      'createExecutionHandler',
      'startPaperExchange',
      'ExchangeError',
      'ScaledScheduler',
      'IdleClock',
      'openSqliteJournal',
      'openPgJournal',
      'patientJournal',
      'openRedisBus',
      'busInputs$',
      'writeReports',
      'openPgLease',
      'holdLease',
      'lead',
    ] as const;
    for (const name of names) expect(typeof (root as Record<string, unknown>)[name]).toBe('function');
  });

  it('signs with the root export exactly as Kraken documents', () => {
    const body = 'nonce=1616492376594&ordertype=limit&pair=XBTUSD&price=37500&type=buy&volume=1.25';
    const secret = 'kQH5HW/8p1uGOVjbgWA7FunAmGO8lsSUXNsu3eow76sz84Q18fWxnyRzBHCd3pd5nE9qa99HAZtuZuj6F1huXg==';
    expect(root.signRequest('/0/private/AddOrder', 1616492376594, body, secret)).toBe(
      '4/dpxb3iT4tp/ZCVEwSnEsLxx0bqyhLpdfOpc6fn7OR8+UClSV5n9E6aSS8MPtnRfp32bAb0nmbRn6H8ndwLUQ==',
    );
  });
});
