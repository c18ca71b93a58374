import log from 'loglevel';
import { format } from 'node:util';
import { type LogLevelName } from '../model/config';
import { type Logger } from '../streams/deps';
import { clockTime } from './format';
import { printable } from './printable';

/** Something text can be written to: `process.stderr`, or a buffer in tests. */
export interface TextSink {
  write(text: string): unknown;
}

/**
 * The CLI's logger: loglevel with its output on stderr (stdout carries only reports and the summary, so it can
 * be piped), one line per message: `12:00:01.250 WARN  message`, control characters escaped. The handler receives it as its `Logger`; nothing
 * handed to it contains a secret (Credentials print redacted).
 *
 * @param level the least severe level shown
 * @param stderr where the lines go
 * @param now the clock of the line prefix
 */
export function createCliLogger(level: LogLevelName, stderr: TextSink, now: () => number = Date.now): Logger & { setLevel(level: LogLevelName): void } {
  // A logger of its own per run (a fresh symbol), so two runs in one process never write to each other's sink.
  const logger = log.getLogger(Symbol('kraken-rx'));
  logger.methodFactory = (methodName) => {
    const label = methodName.toUpperCase().padEnd(5);
    return (...message: unknown[]) => {
      // One message, one line: a reason or id quoting the input must not start a forged line.
      stderr.write(`${clockTime(now())} ${label} ${printable(format(...message))}\n`);
    };
  };
  // setLevel rebuilds the methods with the factory above; `false`: never persist a level anywhere.
  logger.setLevel(level, false);
  return {
    debug: (...message: unknown[]) => logger.debug(...message),
    info: (...message: unknown[]) => logger.info(...message),
    warn: (...message: unknown[]) => logger.warn(...message),
    error: (...message: unknown[]) => logger.error(...message),
    setLevel: (next: LogLevelName) => logger.setLevel(next, false),
  };
}
