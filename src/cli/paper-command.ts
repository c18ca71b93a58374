import { randomBytes } from 'node:crypto';
import { Credentials } from '../kraken/credentials';
import { startPaperExchange } from '../paper';
import { type PaperArgs, UsageError } from './args';
import { defaultConfig } from '../config/config';
import { type ExecutionConfig } from '../model/config';
import { type Logger } from '../streams/deps';
import { type CliIo, stopRequested } from './io';
import { createCliLogger } from './logging';

/** How often the standalone paper exchange moves its prices (real ms): lively enough to see fills. */
export const PAPER_PRICE_STEP_MS = 1000;

/**
 * `kraken-rx paper`: the paper exchange alone, until SIGINT/SIGTERM. Its first stdout line is exactly one JSON
 * object `{"url","apiKey","apiSecret"}` so a script can read it; that secret is the paper exchange's own,
 * printed on purpose, never a live one.
 */
export async function paperCommand(args: PaperArgs, io: CliIo): Promise<number> {
  const config = defaultConfig();
  const log = createCliLogger(config.logLevel, io.stderr, io.now);
  if ((args.apiKey === undefined) !== (args.apiSecret === undefined)) {
    throw new UsageError('--api-key and --api-secret go together', 'paper');
  }
  if (args.apiKey !== undefined && args.apiSecret !== undefined) {
    try {
      // Same rules as live keys, so a pair that works here also passes the live start-up checks.
      new Credentials(args.apiKey, args.apiSecret);
    } catch (e) {
      throw new UsageError(e instanceof Error ? e.message : 'invalid --api-key / --api-secret', 'paper');
    }
  }
  const stop = stopRequested(io);
  try {
    return await serve(args, io, config, log, stop.requested);
  } finally {
    stop.release();
  }
}

async function serve(args: PaperArgs, io: CliIo, config: ExecutionConfig, log: Logger, requested: Promise<string>): Promise<number> {
  const exchange = await startPaperExchange({
    port: args.port ?? config.paper.port,
    tier: args.tier ?? config.paper.tier,
    seed: args.seed ?? config.paper.seed,
    // Fresh credentials unless given: the seed fixes prices, not who may trade.
    apiKey: args.apiKey ?? randomBytes(42).toString('base64'),
    apiSecret: args.apiSecret ?? randomBytes(64).toString('base64'),
    autoTick: PAPER_PRICE_STEP_MS,
  });
  io.stdout.write(`${JSON.stringify({ url: exchange.url, apiKey: exchange.apiKey, apiSecret: exchange.apiSecret })}\n`);
  log.info(`paper exchange listening on ${exchange.url} (tier ${exchange.tier}); waiting for Ctrl-C or SIGTERM to stop`);
  const signal = await requested;
  log.info(`${signal}: closing the paper exchange`);
  await exchange.close();
  return 0;
}
