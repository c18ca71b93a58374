import { describe, it } from '@jest/globals';
import { BehaviorSubject, map } from 'rxjs';
import { type HaltCause, haltGate } from '../../src/operators/halt-gate';
import { marbles } from './support';

const halt = { t: true, f: false };
/** Rejection values are upper-cased signals, so a marble shows at a glance which signals were refused. */
const reject = (signal: string): string => signal.toUpperCase();

describe('haltGate', () => {
  it('never emits and stays subscribed to both when no signal comes', () => {
    marbles(({ cold, hot, expectObservable, expectSubscriptions }) => {
      const halted =   hot('--t-', halt);
      const signals = cold<string>('-');
      const subs =         '^';
      const expected =     '-';
      expectObservable(signals.pipe(haltGate(halted, reject))).toBe(expected);
      expectSubscriptions(signals.subscriptions).toBe(subs);
      expectSubscriptions(halted.subscriptions).toBe(subs);
    });
  });

  it('completes at once and lets go of halted$ when the signals are empty', () => {
    marbles(({ cold, hot, expectObservable, expectSubscriptions }) => {
      const halted =   hot('--t-', halt);
      const signals = cold<string>('|');
      const subs =         '(^!)';
      const expected =     '|';
      expectObservable(signals.pipe(haltGate(halted, reject))).toBe(expected);
      expectSubscriptions(signals.subscriptions).toBe(subs);
      expectSubscriptions(halted.subscriptions).toBe(subs);
    });
  });

  it('passes signals while not halted', () => {
    marbles(({ cold, hot, expectObservable }) => {
      const halted =   hot('f-----', halt);
      const signals = cold('-a-b-|');
      const expected =     '-a-b-|';
      expectObservable(signals.pipe(haltGate(halted, reject))).toBe(expected);
    });
  });

  it('rejects signals while halted (mapped, not dropped) and opens again when halted$ turns false', () => {
    marbles(({ cold, hot, expectObservable, expectSubscriptions }) => {
      const halted =   hot('--t---f----', halt);
      const signals = cold('-a-b-c-d-e-|');
      const subs =         '^----------!';
      const expected =     '-a-B-C-d-e-|';
      expectObservable(signals.pipe(haltGate(halted, reject))).toBe(expected);
      expectSubscriptions(signals.subscriptions).toBe(subs);
      expectSubscriptions(halted.subscriptions).toBe(subs);
    });
  });

  it('rejects signals before halted$ first emits when initiallyHalted is true', () => {
    marbles(({ cold, hot, expectObservable }) => {
      const halted =   hot('---f-', halt);
      const signals = cold('-a-b-');
      const expected =     '-A-b-';
      expectObservable(signals.pipe(haltGate(halted, reject, true))).toBe(expected);
    });
  });

  it('passes signals before halted$ first emits by default (initiallyHalted false)', () => {
    marbles(({ cold, hot, expectObservable }) => {
      const halted =   hot('---t-', halt);
      const signals = cold('-a-b-');
      const expected =     '-a-B-';
      expectObservable(signals.pipe(haltGate(halted, reject))).toBe(expected);
    });
  });

  it('takes the current value of a halted$ that replays it on subscription', () => {
    marbles(({ cold, expectObservable }) => {
      const halted = new BehaviorSubject(true);
      const signals = cold('-a-b-');
      const expected =     '-A-B-';
      expectObservable(signals.pipe(haltGate(halted, reject, false))).toBe(expected);
    });
  });

  it('keeps the last value of halted$ in force after halted$ completes', () => {
    marbles(({ cold, hot, expectObservable, expectSubscriptions }) => {
      const halted =   hot('-t|', halt);
      const haltedSubs =   '^-!';
      const signals = cold('---a-b-|');
      const expected =     '---A-B-|';
      expectObservable(signals.pipe(haltGate(halted, reject))).toBe(expected);
      expectSubscriptions(halted.subscriptions).toBe(haltedSubs);
    });
  });

  it('halts when halted$ errors: every later signal is rejected, and the signals stay subscribed', () => {
    marbles(({ cold, hot, expectObservable, expectSubscriptions }) => {
      const lost = new Error('halt feed lost');
      const halted =   hot('-f-#', halt, lost);
      const haltedSubs =   '^--!';
      const signals = cold('--a--b-c-|');
      const subs =         '^--------!';
      const expected =     '--a--B-C-|';
      expectObservable(signals.pipe(haltGate(halted, reject))).toBe(expected);
      expectSubscriptions(halted.subscriptions).toBe(haltedSubs);
      expectSubscriptions(signals.subscriptions).toBe(subs);
    });
  });

  it('stays halted after a halted$ error even when it was open before, and says the feed failed', () => {
    marbles(({ cold, hot, expectObservable }) => {
      const lost = new Error('halt feed lost');
      const halted =   hot('t-f-#', halt, lost);
      const signals = cold('-a-b--c-');
      const expected =     '-A-b--C-';
      const why = (signal: string, cause: HaltCause): string =>
        cause.kind === 'halted' ? `${signal}: halted` : `${signal}: feed failed (${cause.error instanceof Error ? cause.error.message : '?'})`;
      expectObservable(signals.pipe(haltGate(halted, why))).toBe(expected, {
        A: 'a: halted',
        b: 'b',
        C: 'c: feed failed (halt feed lost)',
      });
    });
  });

  it('halts when halted$ errors before it says anything, even with initiallyHalted false', () => {
    marbles(({ cold, expectObservable }) => {
      const halted = cold<boolean>('#', undefined, new Error('no feed'));
      const signals = cold('-a-b-|');
      const expected =     '-A-B-|';
      expectObservable(signals.pipe(haltGate(halted, reject, false))).toBe(expected);
    });
  });

  it('errors the result when the signals error, and unsubscribes from halted$', () => {
    marbles(({ cold, hot, expectObservable, expectSubscriptions }) => {
      const halted =   hot('--t---', halt);
      const signals = cold('-a-#', undefined, 'bad feed');
      const subs =         '^--!';
      const expected =     '-a-#';
      expectObservable(signals.pipe(haltGate(halted, reject))).toBe(expected, { a: 'a' }, 'bad feed');
      expectSubscriptions(halted.subscriptions).toBe(subs);
    });
  });

  it('completes when the signals complete and unsubscribes from halted$', () => {
    marbles(({ cold, hot, expectObservable, expectSubscriptions }) => {
      const halted =   hot('-t-f-t-f-', halt);
      const signals = cold('--a|');
      const subs =         '^--!';
      const expected =     '--A|';
      expectObservable(signals.pipe(haltGate(halted, reject))).toBe(expected);
      expectSubscriptions(halted.subscriptions).toBe(subs);
    });
  });

  it('keeps gating a never-ending stream of signals', () => {
    marbles(({ cold, hot, expectObservable, expectSubscriptions }) => {
      const halted =   hot('---t--', halt);
      const signals = cold('-a-b-c-');
      const subs =         '^';
      const expected =     '-a-B-C-';
      expectObservable(signals.pipe(haltGate(halted, reject))).toBe(expected);
      expectSubscriptions(signals.subscriptions).toBe(subs);
      expectSubscriptions(halted.subscriptions).toBe(subs);
    });
  });

  it('unsubscribes from the signals and from halted$ on early unsubscription', () => {
    marbles(({ cold, hot, expectObservable, expectSubscriptions }) => {
      const halted =   hot('---t--', halt);
      const signals = cold('-a-b-c-');
      const unsub =        '^-!';
      const expected =     '-a-';
      expectObservable(signals.pipe(haltGate(halted, reject)), unsub).toBe(expected);
      expectSubscriptions(signals.subscriptions).toBe(unsub);
      expectSubscriptions(halted.subscriptions).toBe(unsub);
    });
  });

  it('maps each rejection through reject, with the signal it refuses', () => {
    marbles(({ cold, hot, expectObservable }) => {
      const halted =   hot('t-----', halt);
      const signals = cold('-a-b-|', { a: 1, b: 2 });
      const expected =     '-a-b-|';
      const described = signals.pipe(
        haltGate(halted, (signal: number) => ({ refused: signal })),
        map((value) => (typeof value === 'number' ? `passed ${value}` : `refused ${value.refused}`)),
      );
      expectObservable(described).toBe(expected, { a: 'refused 1', b: 'refused 2' });
    });
  });
});
