import { createInterface } from 'node:readline/promises';
import { resolve, join } from 'node:path';
import { fetchAll } from '../client/batch.js';
import { ClientSession } from '../client/session.js';
import { watchInputList } from '../client/watch.js';
import { DEFAULT_PORT, MAX_CONNECTIONS_PER_FILE, printableName } from '../protocol/index.js';
import { DEFAULT_RETRY_POLICY, type RetryPolicy } from '../client/retry.js';
import { UsageError } from '../errors.js';
import { intOption, numberOption, parseCommand } from './args.js';
import { EXIT_FAILED, EXIT_OK, type Cli } from './cli.js';
import { ensureWritable } from './folder.js';
import {
  MAX_SOURCES,
  REMOTE_HELP,
  connectOptions,
  remoteOptions,
  splitMirrors,
  webMirrors,
  withFlagHint,
} from './remote.js';
import { Reporter, type Verbosity } from './reporter.js';
import { WEB_HELP, getUrls, isWebUrl, loadWebSession, webOptions } from './web-get.js';
import type { WebSession } from '../client/http/web-session.js';

const transferOptions = {
  ...remoteOptions,
  connections: { type: 'string' },
  retries: { type: 'string' },
  'stall-timeout': { type: 'string' },
  mirror: { type: 'string', multiple: true },
  quiet: { type: 'boolean', short: 'q', default: false },
  verbose: { type: 'boolean', short: 'v', default: false },
} as const;

const TRANSFER_HELP = `  --connections N     parallel connections per file, 1 to ${MAX_CONNECTIONS_PER_FILE}        (default: ${MAX_CONNECTIONS_PER_FILE})
  --retries N         retries without useful progress (${DEFAULT_RETRY_POLICY.minProgressBytes / 1024 / 1024} MiB) before giving up (default: ${DEFAULT_RETRY_POLICY.maxAttempts})
  --stall-timeout S   seconds with no data, or under ${DEFAULT_RETRY_POLICY.minBytesPerSecond / 1024} KiB/s, before a connection is retried (default: ${DEFAULT_RETRY_POLICY.stallTimeoutMs / 1000})
  --mirror SOURCE     another source of the same files (repeatable, up to ${MAX_SOURCES - 1}):
                      an xfer server HOST[:PORT], or a web URL: a folder ending
                      in / (each file found there by name) or, for one file, its
                      URL. Large files come from every source whose copy has the
                      same size and SHA-256 (a web mirror must show it with a
                      digest, or the file's --checksum is given), each over up
                      to --connections connections
${REMOTE_HELP}
  -q, --quiet         print failures only: no file list, no progress, no done lines
  -v, --verbose       print every event: each retry and each file start on its own line`;

export const CLIENT_HELP = `Usage: xfer client [HOST[:PORT]...] [options]

More than one HOST: the first is the primary, the others mirrors (as --mirror);
a web mirror is given as --mirror URL/, a folder where files are found by name.
Shows the server's files, then downloads the names listed in DIR/input.txt
(one per line; # comments and blank lines skipped) into DIR/data/, one file
after another, each over up to ${MAX_CONNECTIONS_PER_FILE} connections, verified by size and SHA-256.
Lines starting with http:// or https:// are fetched from that web server, in
their place in the list, up to 16 at a time (see xfer get --help). Re-reads input.txt every few
seconds until Ctrl+C. Without HOST it asks
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
       xfer get URL... [options]

Downloads the named files into DIR, verified by size and SHA-256. URLs
(http:// or https://) are fetched from any web server, up to 16 at a time,
each over up to 4 connections when it serves ranges, verified by the strongest hash available
(--checksum, --checksums, Metalink, Repr-Digest, Digest) or else by size
alone; the done line says which.

Options:
  -o, --out DIR       where the files go                          (default: .)
${TRANSFER_HELP}
For URLs:
${WEB_HELP}
  -h, --help          show this help

Examples:
  xfer get 127.0.0.1 movie.mkv notes.txt -o ./in
  xfer get https://example.org/big.iso --checksum sha256=... -o ./in
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
  const intervalMs = numberOption(values.interval, 'interval', 0.1, 86_400, 5) * 1000;
  const [first, ...others] = positionals;
  const url = others.find(isWebUrl);
  if (url !== undefined) {
    throw new UsageError(
      `xfer client takes xfer servers as HOST[:PORT]; give the web mirror "${printableName(url)}" with --mirror (a folder URL ending in /).`,
    );
  }
  const server = first ?? (await askForHost(cli));
  const dir = resolve(values.dir);
  const mirrors = [...others, ...(values.mirror ?? [])];
  return runTransfer(
    cli,
    server,
    { ...values, mirror: mirrors },
    { dir: join(dir, 'data'), flag: '--dir', severalFiles: true },
    async (session, reporter) => {
      // URL lines of input.txt go to one web session, made on the first (several are fetched at once).
      let web: Promise<WebSession> | undefined;
      try {
        return await watchInputList(session, {
          dir,
          intervalMs,
          once: values.once,
          signal: cli.interrupt.signal,
          emit: reporter.handle,
          fetchUrl: async (url) => {
            web ??= loadWebSession().then(
              (WebSessionClass) =>
                new WebSessionClass({
                  dataDir: join(dir, 'data'),
                  ...transferSettings(values),
                  signal: cli.interrupt.signal,
                  emit: reporter.handle,
                }),
            );
            return (await web).fetch(url);
          },
        });
      } finally {
        await web?.then(
          (w) => w.close(),
          () => undefined,
        );
      }
    },
  );
}

export async function get(argv: string[], cli: Cli): Promise<number> {
  const { values, positionals } = parseCommand(
    argv,
    { ...transferOptions, ...webOptions, out: { type: 'string', short: 'o', default: '.' } },
    'get',
  );
  if (positionals[0] !== undefined && isWebUrl(positionals[0])) {
    const { hosts } = splitMirrors(values.mirror ?? [], positionals.length > 1);
    if (hosts[0] !== undefined) {
      throw new UsageError(
        `With URLs, each mirror is a URL too, not "${printableName(hosts[0])}" (an xfer server mirrors xfer get SERVER NAME).`,
      );
    }
    return getUrls(cli, positionals, values, {
      dataDir: resolve(values.out),
      ...transferSettings(values),
      verbosity: verbosityOf(values),
    });
  }
  const [server, ...names] = positionals;
  if (server === undefined || names.length === 0)
    throw new UsageError('xfer get needs a SERVER and at least one NAME (see `xfer get --help`).');
  return runTransfer(
    cli,
    server,
    values,
    { dir: resolve(values.out), flag: '--out', severalFiles: names.length > 1 },
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
  mirror?: string[] | undefined;
  connections?: string | undefined;
  retries?: string | undefined;
  'stall-timeout'?: string | undefined;
  json?: boolean | undefined;
  quiet?: boolean | undefined;
  verbose?: boolean | undefined;
} & Parameters<typeof connectOptions>[1];

/** --connections, --retries and --stall-timeout, for xfer servers and web servers alike. */
function transferSettings(values: TransferValues): { connections: number; policy: RetryPolicy } {
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
  return { connections, policy };
}

/** -q/--quiet or -v/--verbose, for xfer servers and web servers alike. */
function verbosityOf(values: { quiet?: boolean | undefined; verbose?: boolean | undefined }): Verbosity {
  if (values.quiet && values.verbose) throw new UsageError('Give --quiet or --verbose, not both.');
  return values.quiet ? 'quiet' : values.verbose ? 'verbose' : 'normal';
}

async function runTransfer(
  cli: Cli,
  server: string,
  values: TransferValues,
  target: { dir: string; flag: string; severalFiles: boolean },
  work: (session: ClientSession, reporter: Reporter) => Promise<number>,
): Promise<number> {
  const { connections, policy } = transferSettings(values);
  const verbosity = verbosityOf(values);
  const connect = await connectOptions(server, values);
  const sources = splitMirrors(values.mirror ?? [], target.severalFiles);
  const mirrors = await Promise.all(sources.hosts.map((m) => connectOptions(m, values)));
  await ensureWritable(target.dir, target.flag);
  const { stallTimeoutMs } = policy;
  const web = await webMirrors(sources.urls, { connections, stallTimeoutMs, signal: cli.interrupt.signal });
  const reporter = Reporter.for(cli, values.json === true, verbosity);
  const session = new ClientSession({
    connect,
    mirrors,
    otherMirrors: web.mirrors,
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
    await web.close();
  }
}

/** The course project's prompt; only on a terminal (a script without an address gets a usage error). */
async function askForHost(cli: Cli): Promise<string> {
  if (!cli.stdin.isTTY) {
    throw new UsageError(
      'No server address given and no terminal to ask on: xfer client HOST[:PORT] (see `xfer client --help`).',
    );
  }
  cli.flush();
  const rl = createInterface({ input: cli.stdin, output: cli.stderr });
  try {
    const answer = (await rl.question('HOST Name: ')).trim();
    return answer === '' ? '127.0.0.1' : answer;
  } finally {
    rl.close();
  }
}
