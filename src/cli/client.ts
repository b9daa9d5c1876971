import { constants } from 'node:fs';
import { access, mkdir } from 'node:fs/promises';
import { createInterface } from 'node:readline/promises';
import { resolve, join } from 'node:path';
import { fetchAll } from '../client/batch.js';
import { ClientSession } from '../client/session.js';
import { watchInputList } from '../client/watch.js';
import { DEFAULT_PORT, MAX_CONNECTIONS_PER_FILE, printableName } from '../protocol/index.js';
import { DEFAULT_RETRY_POLICY, type RetryPolicy } from '../client/retry.js';
import { ReadOnlyFolderError, UsageError } from '../errors.js';
import { intOption, numberOption, parseCommand } from './args.js';
import { EXIT_FAILED, EXIT_OK, type Cli } from './cli.js';
import { REMOTE_HELP, connectOptions, remoteOptions, withFlagHint } from './remote.js';
import { Reporter, type Verbosity } from './reporter.js';

const transferOptions = {
  ...remoteOptions,
  connections: { type: 'string' },
  retries: { type: 'string' },
  'stall-timeout': { type: 'string' },
  quiet: { type: 'boolean', short: 'q', default: false },
  verbose: { type: 'boolean', short: 'v', default: false },
} as const;

const TRANSFER_HELP = `  --connections N     parallel connections per file, 1 to ${MAX_CONNECTIONS_PER_FILE}        (default: ${MAX_CONNECTIONS_PER_FILE})
  --retries N         retries without useful progress (${DEFAULT_RETRY_POLICY.minProgressBytes / 1024 / 1024} MiB) before giving up (default: ${DEFAULT_RETRY_POLICY.maxAttempts})
  --stall-timeout S   seconds with no data, or under ${DEFAULT_RETRY_POLICY.minBytesPerSecond / 1024} KiB/s, before a connection is retried (default: ${DEFAULT_RETRY_POLICY.stallTimeoutMs / 1000})
${REMOTE_HELP}
  -q, --quiet         print failures only: no file list, no progress, no done lines
  -v, --verbose       print every event: each retry and each file start on its own line`;

export const CLIENT_HELP = `Usage: xfer client [HOST[:PORT]] [options]

Shows the server's files, then downloads the names listed in DIR/input.txt
(one per line; # comments and blank lines skipped) into DIR/data/, one file
after another, each over up to ${MAX_CONNECTIONS_PER_FILE} connections, verified by size and SHA-256.
Re-reads input.txt every few seconds until Ctrl+C. Without HOST it asks
"HOST Name:" on a terminal (empty = 127.0.0.1).

Options:
  --dir DIR           folder holding input.txt and data/          (default: .)
  --interval S        seconds between reads of input.txt          (default: 5)
  --once              fetch what input.txt lists, then exit
${TRANSFER_HELP}
  -h, --help          show this help

Example:
  xfer client 192.168.1.20:${DEFAULT_PORT} --dir ./downloads
`;

export const GET_HELP = `Usage: xfer get SERVER NAME... [options]

Downloads the named files into DIR, verified by size and SHA-256.

Options:
  -o, --out DIR       where the files go                          (default: .)
${TRANSFER_HELP}
  -h, --help          show this help

Example:
  xfer get 127.0.0.1 movie.mkv notes.txt -o ./in
`;

export async function client(argv: string[], cli: Cli): Promise<number> {
  const { values, positionals } = parseCommand(
    argv,
    {
      ...transferOptions,
      dir: { type: 'string', default: '.' },
      interval: { type: 'string' },
      once: { type: 'boolean', default: false },
    },
    'client',
  );
  if (positionals.length > 1)
    throw new UsageError('xfer client takes at most one HOST[:PORT] (see `xfer client --help`).');
  const intervalMs = numberOption(values.interval, 'interval', 0.1, 86_400, 5) * 1000;
  const server = positionals[0] ?? (await askForHost(cli));
  const dir = resolve(values.dir);
  return runTransfer(
    cli,
    server,
    values,
    { dir: join(dir, 'data'), flag: '--dir' },
    async (session, reporter) =>
      watchInputList(session, {
        dir,
        intervalMs,
        once: values.once,
        signal: cli.interrupt.signal,
        emit: reporter.handle,
      }),
  );
}

export async function get(argv: string[], cli: Cli): Promise<number> {
  const { values, positionals } = parseCommand(
    argv,
    { ...transferOptions, out: { type: 'string', short: 'o', default: '.' } },
    'get',
  );
  const [server, ...names] = positionals;
  if (server === undefined || names.length === 0)
    throw new UsageError('xfer get needs a SERVER and at least one NAME (see `xfer get --help`).');
  return runTransfer(
    cli,
    server,
    values,
    { dir: resolve(values.out), flag: '--out' },
    async (session, reporter) => {
      const wanted = [...new Set(names)];
      const unknown = new Set(await session.lookup(wanted));
      for (const name of unknown) {
        reporter.handle({
          type: 'unknown',
          file: name,
          message: `The server has no file named "${printableName(name)}".`,
        });
      }
      let failed = unknown.size;
      const known = wanted.filter((n) => !unknown.has(n));
      await fetchAll(session, known, cli.interrupt.signal, (_name, outcome) => {
        if (!outcome.ok) failed++;
      });
      return failed;
    },
  );
}

type TransferValues = {
  connections?: string | undefined;
  retries?: string | undefined;
  'stall-timeout'?: string | undefined;
  json?: boolean | undefined;
  quiet?: boolean | undefined;
  verbose?: boolean | undefined;
} & Parameters<typeof connectOptions>[1];

async function runTransfer(
  cli: Cli,
  server: string,
  values: TransferValues,
  target: { dir: string; flag: string },
  work: (session: ClientSession, reporter: Reporter) => Promise<number>,
): Promise<number> {
  const connections = intOption(
    values.connections,
    'connections',
    1,
    MAX_CONNECTIONS_PER_FILE,
    MAX_CONNECTIONS_PER_FILE,
  );
  const policy: RetryPolicy = {
    ...DEFAULT_RETRY_POLICY,
    maxAttempts: intOption(values.retries, 'retries', 0, 1000, DEFAULT_RETRY_POLICY.maxAttempts),
    stallTimeoutMs:
      numberOption(
        values['stall-timeout'],
        'stall-timeout',
        0.1,
        3600,
        DEFAULT_RETRY_POLICY.stallTimeoutMs / 1000,
      ) * 1000,
  };
  if (values.quiet && values.verbose) throw new UsageError('Give --quiet or --verbose, not both.');
  const verbosity: Verbosity = values.quiet ? 'quiet' : values.verbose ? 'verbose' : 'normal';
  const connect = await connectOptions(server, values);
  await ensureWritable(target.dir, target.flag);
  const reporter = Reporter.for(cli, values.json === true, verbosity);
  const session = new ClientSession({
    connect,
    dataDir: target.dir,
    connections,
    policy,
    signal: cli.interrupt.signal,
    emit: reporter.handle,
  });
  try {
    const failed = await work(session, reporter);
    return failed > 0 ? EXIT_FAILED : EXIT_OK;
  } catch (err) {
    throw withFlagHint(err, connect);
  } finally {
    reporter.finish();
    session.close();
  }
}

/** A folder the files cannot be written to is one clear failure up front, not an EACCES per file. */
async function ensureWritable(dir: string, flag: string): Promise<void> {
  try {
    await mkdir(dir, { recursive: true });
    await access(dir, constants.W_OK);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code !== 'EACCES' && code !== 'EPERM' && code !== 'EROFS') throw err;
    const why = code === 'EROFS' ? 'its file system is read-only' : 'permission denied';
    throw new ReadOnlyFolderError(
      `Cannot write to ${dir} (${why}): fix its permissions or choose another folder with ${flag}.`,
      { cause: err },
    );
  }
}

/** The course project's prompt; only on a terminal (a script without an address gets a usage error). */
async function askForHost(cli: Cli): Promise<string> {
  if (!cli.stdin.isTTY) {
    throw new UsageError(
      'No server address given and no terminal to ask on: xfer client HOST[:PORT] (see `xfer client --help`).',
    );
  }
  const rl = createInterface({ input: cli.stdin, output: cli.stderr });
  try {
    const answer = (await rl.question('HOST Name: ')).trim();
    return answer === '' ? '127.0.0.1' : answer;
  } finally {
    rl.close();
  }
}
