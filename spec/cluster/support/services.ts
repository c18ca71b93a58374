import { execFileSync } from 'node:child_process';
import { describe } from '@jest/globals';

/**
 * The real servers the cluster suites run against, on 127.0.0.1 only (started before the session and in CI).
 * `KRX_TEST_PG` / `KRX_TEST_REDIS` point elsewhere on loopback if a machine runs them on other ports.
 */
export const PG_URL = process.env['KRX_TEST_PG'] ?? 'postgres://postgres@127.0.0.1:5432/test';
export const REDIS_URL = process.env['KRX_TEST_REDIS'] ?? 'redis://127.0.0.1:6379';

/**
 * Whether a TCP port answers, asked synchronously (a child process) because jest collects `describe`s
 * synchronously: a suite must know before it declares its tests whether it can run them.
 */
function reachable(url: string): boolean {
  const { hostname, port } = new URL(url);
  const probe = `const s=require('node:net').connect(${Number(port)},${JSON.stringify(hostname)});s.setTimeout(1000);` +
    `s.on('connect',()=>process.exit(0));s.on('error',()=>process.exit(1));s.on('timeout',()=>process.exit(1));`;
  try {
    execFileSync(process.execPath, ['-e', probe], { stdio: 'ignore', timeout: 3000 });
    return true;
  } catch {
    return false;
  }
}

const known = new Map<string, boolean>();
const available = (name: string, url: string): boolean => {
  const cached = known.get(name);
  if (cached !== undefined) return cached;
  const up = reachable(url);
  known.set(name, up);
  // One line per suite file and service, naming what is skipped and why.
  if (!up) process.stdout.write(`skipped: ${name} suites (${name} not reachable at ${new URL(url).host})\n`);
  return up;
};

/** `describe` when PostgreSQL answers, else `describe.skip` after one line saying so. */
export const describeWithPostgres = (title: string, body: () => void): void =>
  (available('PostgreSQL', PG_URL) ? describe : describe.skip)(title, body);

/** `describe` when Redis answers, else `describe.skip` after one line saying so. */
export const describeWithRedis = (title: string, body: () => void): void => (available('Redis', REDIS_URL) ? describe : describe.skip)(title, body);

/** Whether PostgreSQL answers (for suites that wrap a shared contract instead of a `describe`). */
export const postgresAvailable = (): boolean => available('PostgreSQL', PG_URL);

let names = 0;
/** A name no other test, suite or concurrent run uses: for a schema, a stream, a key. */
export const uniqueName = (prefix: string): string => `${prefix}_${process.pid}_${Date.now().toString(36)}_${(names += 1)}`;
