import { UsageError, parseArgs, usage } from '../../src/cli/args';

const usageError = (argv: string[]): UsageError => {
  try {
    parseArgs(argv);
  } catch (e) {
    if (e instanceof UsageError) return e;
    throw e;
  }
  throw new Error(`expected a UsageError for ${argv.join(' ')}`);
};

describe('parseArgs', () => {
  it('reads every flag of paper', () => {
    expect(parseArgs(['paper', '--port', '8080', '--api-key', 'K', '--api-secret', 'S==', '--tier', 'pro', '--seed', '-7'])).toEqual({
      command: 'paper',
      port: 8080,
      apiKey: 'K',
      apiSecret: 'S==',
      tier: 'pro',
      seed: -7,
    });
  });

  it('leaves flags that were not given out, so the config decides', () => {
    expect(parseArgs(['paper'])).toEqual({ command: 'paper' });
  });

  it('reads every flag of run, in both --flag value and --flag=value forms', () => {
    expect(
      parseArgs(['run', '--config=my.json', '--signals', 'in.jsonl', '--json', '--log-level', 'debug', '--url', 'http://127.0.0.1:9000', '--validate-only']),
    ).toEqual({
      command: 'run',
      config: 'my.json',
      signals: 'in.jsonl',
      paper: false,
      json: true,
      logLevel: 'debug',
      url: 'http://127.0.0.1:9000',
      validateOnly: true,
      noJournal: false,
    });
  });

  it('reads the journal flags of run: --journal FILE (both forms) and --no-journal', () => {
    expect(parseArgs(['run', '--journal', 'my.db'])).toMatchObject({ journal: 'my.db', noJournal: false });
    expect(parseArgs(['run', '--journal=other.db'])).toMatchObject({ journal: 'other.db' });
    const throwaway = parseArgs(['run', '--no-journal']);
    expect(throwaway).toMatchObject({ noJournal: true });
    expect(throwaway).not.toHaveProperty('journal');
  });

  it('reads status flags, leaving out those not given', () => {
    expect(parseArgs(['status'])).toEqual({ command: 'status', json: false });
    expect(parseArgs(['status', '--config', 'c.json', '--journal', 'j.db', '--json'])).toEqual({ command: 'status', config: 'c.json', journal: 'j.db', json: true });
    expect(parseArgs(['status', '--help'])).toEqual({ command: 'help', topic: 'status' });
    expect(parseArgs(['help', 'status'])).toEqual({ command: 'help', topic: 'status' });
  });

  it('reads the bus flags of run: --bus URL with --account NAME', () => {
    expect(parseArgs(['run', '--url', 'http://127.0.0.1:9000', '--bus', 'redis://127.0.0.1:6379', '--account=acct-1'])).toEqual({
      command: 'run',
      signals: '-',
      paper: false,
      json: false,
      url: 'http://127.0.0.1:9000',
      validateOnly: false,
      noJournal: false,
      bus: 'redis://127.0.0.1:6379',
      account: 'acct-1',
    });
    expect(parseArgs(['run', '--paper'])).not.toHaveProperty('bus');
  });

  it('reads signals from stdin by default and accepts - for it', () => {
    expect(parseArgs(['run', '--paper'])).toEqual({ command: 'run', signals: '-', paper: true, json: false, validateOnly: false, noJournal: false });
    expect(parseArgs(['run', '--signals', '-'])).toMatchObject({ signals: '-' });
  });

  it('reads demo flags', () => {
    expect(parseArgs(['demo'])).toEqual({ command: 'demo', json: false });
    expect(parseArgs(['demo', '--json', '--log-level=warn'])).toEqual({ command: 'demo', json: true, logLevel: 'warn' });
  });

  it('answers --help for the program and for each command', () => {
    expect(parseArgs(['--help'])).toEqual({ command: 'help' });
    expect(parseArgs(['help', 'run'])).toEqual({ command: 'help', topic: 'run' });
    expect(parseArgs(['run', '--json', '--help'])).toEqual({ command: 'help', topic: 'run' });
    expect(parseArgs(['paper', '-h'])).toEqual({ command: 'help', topic: 'paper' });
    expect(parseArgs(['demo', '--help'])).toEqual({ command: 'help', topic: 'demo' });
  });

  it.each([
    [[], 'no command given'],
    [['trade'], 'unknown command "trade"'],
    [['run', '--validate'], 'unknown flag --validate for `kraken-rx run` (known: --config, --signals, --paper, --json, --log-level, --url, --validate-only, --journal, --no-journal, --bus, --account, --cluster, --lease-ttl, --help)'],
    [['paper', '--port'], '--port needs a value (N)'],
    [['paper', '--port', '--tier', 'pro'], '--port needs a value (N)'],
    [['paper', '--port', 'http'], '--port expects an integer between 0 and 65535, got "http"'],
    [['paper', '--port', '70000'], '--port expects an integer between 0 and 65535, got "70000"'],
    [['paper', '--seed', '1.5'], '--seed expects an integer, got "1.5"'],
    [['paper', '--tier', 'gold'], '--tier expects one of starter, intermediate, pro, unlimited, got "gold"'],
    [['run', '--log-level', 'loud'], '--log-level expects one of trace, debug, info, warn, error, silent, got "loud"'],
    [['run', '--json=yes'], '--json takes no value'],
    [['run', '--json', '--json'], '--json given twice'],
    [['run', 'signals.jsonl'], 'unexpected argument "signals.jsonl"'],
    [['run', '--paper', '--url', 'http://127.0.0.1:1'], '--paper and --url exclude each other: --paper starts its own exchange'],
    [['run', '--config='], '--config needs a non-empty FILE'],
    [['run', '--url', '127.0.0.1:8700'], '--url expected an http:// or https:// URL, got "127.0.0.1:8700"'],
    [['run', '--url', 'ftp://example.com'], '--url expected an http:// or https:// URL, got "ftp://example.com"'],
    [['run', '--url', 'http://user:pw@127.0.0.1:8700'], '--url expected a URL without user name or password'],
    [['run', '--journal', 'a.db', '--no-journal'], '--journal and --no-journal exclude each other'],
    [['run', '--journal'], '--journal needs a value (FILE)'],
    [['run', '--journal='], '--journal needs a non-empty FILE'],
    [['run', '--no-journal=yes'], '--no-journal takes no value'],
    [['run', '--bus', 'redis://127.0.0.1:6379'], '--bus needs --account (whose streams)'],
    [['run', '--account', 'acct'], '--account is for --bus: it names the streams on the bus'],
    [['run', '--bus', 'redis://127.0.0.1:6379', '--account', 'acct', '--signals', 'in.jsonl'], '--bus and --signals exclude each other: with --bus the input comes from the stream'],
    [['run', '--bus', 'redis://127.0.0.1:6379', '--account', 'acct', '--signals', '-'], '--bus and --signals exclude each other: with --bus the input comes from the stream'],
    [['run', '--bus'], '--bus needs a value (URL)'],
    [['status', '--paper'], 'unknown flag --paper for `kraken-rx status` (known: --config, --journal, --json, --url, --help)'],
    [['status', 'extra'], 'unexpected argument "extra"'],
  ])('refuses %j: %s', (argv, message) => {
    expect(usageError(argv).message).toBe(message);
  });

  it('names the command whose usage to show with the error', () => {
    expect(usageError(['run', '--nope']).topic).toBe('run');
    expect(usageError(['nope']).topic).toBeUndefined();
  });
});

describe('usage', () => {
  it('lists the commands', () => {
    const text = usage();
    expect(text).toMatch(/^Usage: kraken-rx <command> \[flags\]/);
    for (const command of ['paper', 'run', 'status', 'demo']) expect(text).toMatch(new RegExp(`^  ${command} `, 'm'));
  });

  it('lists every flag of a command with its help', () => {
    const text = usage('run');
    expect(text).toContain('Usage: kraken-rx run [--config FILE] [--signals FILE|-] [--paper] [--json] [--log-level L] [--url URL] [--validate-only] [--journal FILE] [--no-journal] [--bus URL] [--account NAME]');
    for (const flag of ['--config', '--signals', '--paper', '--json', '--log-level', '--url', '--validate-only', '--journal', '--no-journal', '--bus', '--account', '--help']) {
      expect(text).toMatch(new RegExp(`^  ${flag}\\b`, 'm'));
    }
    expect(text).toContain('{"type":"halt","halted":true}');
    expect(usage('status')).toContain('Usage: kraken-rx status [--config FILE] [--journal FILE] [--json]');
    expect(usage('status')).toMatch(/^  --journal FILE +the journal file \(default: config journal\.path, kraken-rx\.db in the working directory\)$/m);
    expect(usage('paper')).toContain('Usage: kraken-rx paper [--port N] [--api-key K] [--api-secret S] [--tier T] [--seed N]');
  });
});
