import { describe, it } from '@jest/globals';
import { BehaviorSubject, map } from 'rxjs';
import { haltGate } from '../../src/operators/halt-gate';
import { marbles } from './support';

const halt = { t: true, f: false };
/** Rejection values are upper-cased signals, so a marble shows at a glance which signals were refused. */
const reject = (signal: string): string => signal.toUpperCase();

describe('haltGate', () => {
  it('never emits and stays subscribed to both when no signal comes', () => {
    marbles(({ cold, hot, expectObservable, expectSubscriptions }) => {
      const halted = hot('--t-', halt);
      const signals = cold<string>('-');
      expectObservable(signals.pipe(haltGate(halted, reject))).toBe('-');
      expectSubscriptions(signals.subscriptions).toBe('^');
      expectSubscriptions(halted.subscriptions).toBe('^');
    });
  });

  it('completes at once and lets go of halted$ when the signals are empty', () => {
    marbles(({ cold, hot, expectObservable, expectSubscriptions }) => {
      const halted = hot('--t-', halt);
      const signals = cold<string>('|');
      expectObservable(signals.pipe(haltGate(halted, reject))).toBe('|');
      expectSubscriptions(signals.subscriptions).toBe('(^!)');
      expectSubscriptions(halted.subscriptions).toBe('(^!)');
    });
  });

  it('passes signals while not halted', () => {
    marbles(({ cold, hot, expectObservable }) => {
      const halted = hot('f-----', halt);
      expectObservable(cold('-a-b-|').pipe(haltGate(halted, reject))).toBe('-a-b-|');
    });
  });

  it('rejects signals while halted (mapped, not dropped) and opens again when halted$ turns false', () => {
    marbles(({ cold, hot, expectObservable, expectSubscriptions }) => {
      const halted = hot('  --t---f----', halt);
      const signals = cold('-a-b-c-d-e-|');
      expectObservable(signals.pipe(haltGate(halted, reject))).toBe('-a-B-C-d-e-|');
      expectSubscriptions(signals.subscriptions).toBe('^----------!');
      expectSubscriptions(halted.subscriptions).toBe(' ^----------!');
    });
  });

  it('uses initiallyHalted for signals before halted$ first emits', () => {
    marbles(({ cold, hot, expectObservable }) => {
      expectObservable(cold('-a-b-').pipe(haltGate(hot('---f-', halt), reject, true))).toBe('-A-b-');
      expectObservable(cold('-a-b-').pipe(haltGate(hot('---t-', halt), reject))).toBe('-a-B-');
    });
  });

  it('takes the current value of a halted$ that replays it on subscription', () => {
    marbles(({ cold, expectObservable }) => {
      const halted = new BehaviorSubject(true);
      expectObservable(cold('-a-b-').pipe(haltGate(halted, reject, false))).toBe('-A-B-');
    });
  });

  it('keeps the last value of halted$ in force after halted$ completes', () => {
    marbles(({ cold, hot, expectObservable, expectSubscriptions }) => {
      const halted = hot('-t|', halt);
      const signals = cold('---a-b-|');
      expectObservable(signals.pipe(haltGate(halted, reject))).toBe('---A-B-|');
      expectSubscriptions(halted.subscriptions).toBe('^-!');
    });
  });

  it('errors the result when halted$ errors, and unsubscribes from the signals', () => {
    marbles(({ cold, hot, expectObservable, expectSubscriptions }) => {
      const halted = hot('---#', halt, new Error('halt feed lost'));
      const signals = cold('-a---b-');
      expectObservable(signals.pipe(haltGate(halted, reject))).toBe('-a-#', undefined, new Error('halt feed lost'));
      expectSubscriptions(signals.subscriptions).toBe('^--!');
    });
  });

  it('errors the result when the signals error, and unsubscribes from halted$', () => {
    marbles(({ cold, hot, expectObservable, expectSubscriptions }) => {
      const halted = hot('--t---', halt);
      const signals = cold('-a-#', undefined, 'bad feed');
      expectObservable(signals.pipe(haltGate(halted, reject))).toBe('-a-#', { a: 'a' }, 'bad feed');
      expectSubscriptions(halted.subscriptions).toBe('^--!');
    });
  });

  it('completes when the signals complete and unsubscribes from halted$', () => {
    marbles(({ cold, hot, expectObservable, expectSubscriptions }) => {
      const halted = hot('-t-f-t-f-', halt);
      const signals = cold('--a|');
      expectObservable(signals.pipe(haltGate(halted, reject))).toBe('--A|');
      expectSubscriptions(halted.subscriptions).toBe('^--!');
    });
  });

  it('keeps gating a never-ending stream of signals', () => {
    marbles(({ cold, hot, expectObservable, expectSubscriptions }) => {
      const halted = hot('---t--', halt);
      const signals = cold('-a-b-c-');
      expectObservable(signals.pipe(haltGate(halted, reject))).toBe('-a-B-C-');
      expectSubscriptions(signals.subscriptions).toBe('^');
      expectSubscriptions(halted.subscriptions).toBe('^');
    });
  });

  it('unsubscribes from the signals and from halted$ on early unsubscription', () => {
    marbles(({ cold, hot, expectObservable, expectSubscriptions }) => {
      const halted = hot('---t--', halt);
      const signals = cold('-a-b-c-');
      expectObservable(signals.pipe(haltGate(halted, reject)), '^-!').toBe('-a-');
      expectSubscriptions(signals.subscriptions).toBe('^-!');
      expectSubscriptions(halted.subscriptions).toBe('^-!');
    });
  });

  it('maps each rejection through reject, with the signal it refuses', () => {
    marbles(({ cold, hot, expectObservable }) => {
      const halted = hot('t-----', halt);
      const gated = cold('-a-b-|', { a: 1, b: 2 }).pipe(
        haltGate(halted, (signal: number) => ({ refused: signal })),
        map((value) => (typeof value === 'number' ? `passed ${value}` : `refused ${value.refused}`)),
      );
      expectObservable(gated).toBe('-a-b-|', { a: 'refused 1', b: 'refused 2' });
    });
  });
});
