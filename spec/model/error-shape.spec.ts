import { runInNewContext } from 'node:vm';
import { describe, expect, it } from '@jest/globals';
import { errorCode, errorMessage } from '../../src/model/error-shape';

describe('a store error read by shape', () => {
  // better-sqlite3 is a native addon loaded once per process: a jest worker running a second spec file gets
  // errors built from the first file's realm, which fail `instanceof Error` in this one.
  const foreign: unknown = runInNewContext("Object.assign(new Error('UNIQUE constraint failed: fills.trade_id'), { code: 'SQLITE_CONSTRAINT_UNIQUE' })");

  it('finds the code and message of an error from another realm', () => {
    expect(foreign instanceof Error).toBe(false);
    expect(errorCode(foreign)).toBe('SQLITE_CONSTRAINT_UNIQUE');
    expect(errorMessage(foreign)).toBe('UNIQUE constraint failed: fills.trade_id');
  });

  it('finds no code where there is none, and a message from anything', () => {
    expect(errorCode(new Error('plain'))).toBeUndefined();
    expect(errorCode({ code: 23505 })).toBeUndefined();
    expect(errorCode('SQLITE_BUSY')).toBeUndefined();
    expect(errorMessage('disk full')).toBe('disk full');
  });
});
