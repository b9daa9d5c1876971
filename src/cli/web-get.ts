import { readFile, stat } from 'node:fs/promises';
import { fetchUrls } from '../client/batch.js';
import { MAX_CHECKSUM_LIST_BYTES, parseChecksumList, parseChecksumOption } from '../client/http/checksums.js';
import type { WebSession } from '../client/http/web-session.js';
import type { RetryPolicy } from '../client/retry.js';
import { UsageError } from '../errors.js';
import { printableName } from '../protocol/index.js';
import { rateOption } from './args.js';
import { EXIT_FAILED, EXIT_OK, type Cli } from './cli.js';
import { ensureWritable } from './folder.js';
import { Reporter, type Verbosity } from './reporter.js';

/** Flags that only mean something for URLs (`xfer get URL...`). */
export const webOptions = {
  checksum: { type: 'string' },
  checksums: { type: 'string' },
  header: { type: 'string', multiple: true },
  output: { type: 'string' },
  head: { type: 'boolean', default: false },
  'limit-rate': { type: 'string' },
} as const;

export const WEB_HELP = `  --checksum sha256=HEX   the file's SHA-256 (one URL)
  --checksums FILE|URL    a sha256sum list; each file is checked by its name
  --output NAME           the name on disk (one URL)
  --header 'Name: value'  an extra request header (repeatable)
  --head                  ask with HEAD first instead of GET Range: bytes=0-
  --limit-rate RATE       cap the download rate of the whole run, e.g. 10M
  --ca F                  also trust this CA certificate (PEM) for https`;

/** True when the argument is a web URL rather than an xfer SERVER. */
export function isWebUrl(arg: string): boolean {
  return /^https?:\/\//i.test(arg);
}

export interface WebGetValues {
  checksum?: string | undefined;
  checksums?: string | undefined;
  header?: string[] | undefined;
  output?: string | undefined;
  head?: boolean | undefined;
  'limit-rate'?: string | undefined;
  ca?: string | undefined;
  json?: boolean | undefined;
  /** Web mirrors, already checked by the caller (splitMirrors). */
  mirror?: string[] | undefined;
}

/**
 * The web client (undici: ~35 ms of CPU to load) is loaded when a URL is
 * fetched, not at every start of the CLI: 20 `xfer get` processes at once pay
 * for it 20 times.
 */
export async function loadWebSession(): Promise<typeof WebSession> {
  return (await import('../client/http/web-session.js')).WebSession;
}

/**
 * `xfer get URL... --out DIR`: the URLs fetched into DIR by the engine
 * (through WebSession), up to WEB_WINDOW at a time in list order, with the
 * same events, progress and exit codes as for xfer servers.
 */
export async function getUrls(
  cli: Cli,
  urls: string[],
  values: WebGetValues,
  settings: { dataDir: string; connections: number; policy: RetryPolicy; verbosity: Verbosity },
): Promise<number> {
  const notUrl = urls.find((u) => !isWebUrl(u));
  if (notUrl !== undefined) {
    throw new UsageError(
      `"${printableName(notUrl)}" is not an http:// or https:// URL; URLs and xfer names do not mix.`,
    );
  }
  if (urls.length > 1 && values.checksum !== undefined)
    throw new UsageError('--checksum goes with one URL; use --checksums for several.');
  if (urls.length > 1 && values.output !== undefined) throw new UsageError('--output goes with one URL.');
  const checksum = values.checksum === undefined ? undefined : parseChecksumOption(values.checksum);
  const [{ parseHeaderOption }, WebSessionClass] = await Promise.all([
    import('../client/http/web-client.js'),
    loadWebSession(),
  ]);
  const headers = (values.header ?? []).map(parseHeaderOption);
  const ca = values.ca === undefined ? undefined : await readCa(values.ca);
  const { verbosity, ...transfer } = settings;
  await ensureWritable(settings.dataDir, '--out');
  const reporter = Reporter.for(cli, values.json === true, verbosity);
  const session = new WebSessionClass({
    ...transfer,
    signal: cli.interrupt.signal,
    emit: reporter.handle,
    headers,
    ...(ca === undefined ? {} : { ca }),
    head: values.head === true,
    limitRate: rateOption(values['limit-rate'], 'limit-rate', 0),
    mirrors: values.mirror ?? [],
  });
  try {
    if (values.checksums !== undefined) {
      const text = isWebUrl(values.checksums)
        ? await session.fetchText(values.checksums, MAX_CHECKSUM_LIST_BYTES)
        : await readList(values.checksums);
      session.checksums = parseChecksumList(text, values.checksums);
    }
    let failed = 0;
    const options = {
      ...(checksum ? { checksum } : {}),
      ...(values.output === undefined ? {} : { output: values.output }),
    };
    await fetchUrls(
      [...new Set(urls)],
      (url) => session.fetch(url, options),
      cli.interrupt.signal,
      (_url, outcome) => {
        if (!outcome.ok) failed++;
      },
    );
    return failed > 0 ? EXIT_FAILED : EXIT_OK;
  } finally {
    reporter.finish();
    await session.close();
  }
}

async function readCa(path: string): Promise<string> {
  try {
    return await readFile(path, 'utf8');
  } catch (err) {
    throw new UsageError(`Cannot read the CA file: ${(err as Error).message}`);
  }
}

async function readList(path: string): Promise<string> {
  try {
    if ((await stat(path)).size > MAX_CHECKSUM_LIST_BYTES) {
      throw new UsageError(`The checksum list ${path} is larger than ${MAX_CHECKSUM_LIST_BYTES} bytes.`);
    }
    return await readFile(path, 'utf8');
  } catch (err) {
    if (err instanceof UsageError) throw err;
    throw new UsageError(`Cannot read the checksum list: ${(err as Error).message}`);
  }
}
