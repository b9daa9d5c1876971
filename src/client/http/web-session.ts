import { getMaxListeners, setMaxListeners } from 'node:events';
import { BadRangeAnswerError, toXferError } from '../../errors.js';
import { pieceSizeFor, printableName } from '../../protocol/index.js';
import { FileDownload, type RemoteFile } from '../download.js';
import type { EmitEvent } from '../events.js';
import { DownloadFolder, type DownloadPaths } from '../paths.js';
import { abortError, retrying, type RetryPolicy } from '../retry.js';
import { MAX_RESTARTS, PROGRESS_INTERVAL_MS, type FetchOutcome } from '../session.js';
import { SourceSpeeds, SpeedMeter } from '../speed-meter.js';
import { WHOLE_FILE_MAX_BYTES, WholeFileDownload } from '../whole-file.js';
import { fileNameFor } from './file-name.js';
import type { RangeSource } from '../source.js';
import { HttpSource, type WebFile } from './http-source.js';
import { probe, type Probe } from './probe.js';
import { describeValidator } from './validator.js';
import { WebClient, shownUrl, targetOf } from './web-client.js';
import { WebMirrors } from './web-mirror.js';
import { expectedHash, fetchMetalink, fetchSmallText, type ExpectedHash } from './web-hashes.js';
import { discardBody, type WebTarget } from './web-request.js';
import { streamWhole } from './web-stream.js';
import { landSmall, skipIfThere } from './web-landing.js';
import { Turn } from '../turn.js';
import { WEB_WINDOW } from '../batch.js';

export interface WebSessionOptions {
  /** Where finished files go. */
  dataDir: string;
  /** Connections per file: 1 to 4. */
  connections: number;
  policy: RetryPolicy;
  signal: AbortSignal;
  emit: EmitEvent;
  /** Extra request headers, an extra CA (PEM). */
  headers?: [string, string][];
  ca?: string;
  /** Probe with HEAD instead of `GET Range: bytes=0-`. */
  head?: boolean;
  /** Bytes per second for all web downloads together; 0 for no cap. */
  limitRate?: number;
  /** Web mirrors (URLs of folders or of the one file): large files are fetched from those that agree too. */
  mirrors?: string[];
}

export interface WebFetchOptions {
  /** The file's SHA-256, given by the user. */
  checksum?: Buffer;
  /** The name on disk instead of the server's. */
  output?: string;
}

/** 32 zero bytes: the engine's placeholder SHA-256 when only the size is checked (never reported as a hash). */
const NO_HASH = Buffer.alloc(32);

/**
 * Downloads from web servers: each URL probed (its verdict, name and
 * identity), then fetched by the same engine as xfer files through an
 * HttpSource (4 connections when ranges work, one otherwise), verified by
 * the strongest hash available or else by size alone, and reported with the
 * same events; the done event says what was verified. A file that changes on
 * the server restarts cleanly; a server whose range answers cannot be
 * trusted is fetched again whole over one connection. `fetch` may run for
 * several URLs at once (batch.ts: WEB_WINDOW): small files side by side, large
 * ones one at a time, never two on the same name.
 */
export class WebSession {
  readonly client: WebClient;
  /** A checksum list (name → SHA-256) that applies to every URL from now on. */
  checksums: Map<string, Buffer> | undefined;
  private readonly folder: DownloadFolder;
  private readonly mirrors: WebMirrors;
  /** Large files go one at a time (each over up to 4 connections); small ones keep flowing beside. */
  private readonly largeTurn = new Turn();
  /** Names on disk being fetched now: a second URL for the same name waits, then finds it there. */
  private readonly landing = new Map<string, Promise<void>>();

  constructor(private readonly o: WebSessionOptions) {
    this.client = new WebClient({
      connections: o.connections,
      // Up to WEB_WINDOW files in flight, each probed (a small one fetched whole) on a connection of its own.
      probeConnections: WEB_WINDOW,
      stallTimeoutMs: o.policy.stallTimeoutMs,
      ...(o.headers ? { headers: o.headers } : {}),
      ...(o.ca === undefined ? {} : { ca: o.ca }),
      ...(o.limitRate ? { limitRate: o.limitRate } : {}),
    });
    this.folder = new DownloadFolder(o.dataDir);
    this.mirrors = new WebMirrors(this.client, o.mirrors ?? [], o);
    // Every file in flight may listen on the signal a few times at once (its request, a rate wait, a back-off).
    setMaxListeners(Math.max(getMaxListeners(o.signal), WEB_WINDOW * 4 + 16), o.signal);
  }

  close(): Promise<void> {
    return this.client.close();
  }

  /** The text of a small web file (a checksum list), retried like any request. */
  fetchText(url: string, maxBytes: number): Promise<string> {
    const target = targetOf(url);
    return this.withRetry(() => fetchSmallText(this.client, target, maxBytes, this.o.signal));
  }

  /** Downloads one URL, verified; reports done or error and never throws but on abort. */
  async fetch(url: string, options: WebFetchOptions = {}): Promise<FetchOutcome> {
    // Until the URL is parsed, it is shown as typed, less any `user:pass@`.
    let label = printableName(url.replace(/\/\/[^/@]*@/, '//'));
    let release: (() => void) | undefined;
    try {
      const target = targetOf(url);
      label = shownUrl(target.url);
      let wholeOnly = false;
      for (let restarts = 0; ; restarts++) {
        let p = await this.probe(target);
        if (!release && !fitsInMemory(p)) {
          const waits = this.largeTurn.busy;
          // A large file's unread answer would stall while it waits: it is asked again when its turn comes.
          if (waits && p.whole) discardBody(p.whole);
          release = await this.largeTurn.take();
          if (waits) p = await this.probe(target);
        }
        const name = options.output ?? fileNameFor(p.target.url, p.headers);
        label = name;
        try {
          await this.download(name, p, options, wholeOnly);
          return { ok: true };
        } catch (err) {
          if (p.whole) discardBody(p.whole);
          const e = toXferError(err);
          const untrusted = e instanceof BadRangeAnswerError && p.split && !wholeOnly;
          if (restarts >= MAX_RESTARTS || (e.code !== 'ERR_XFER_CHANGED' && !untrusted)) throw e;
          if (untrusted) {
            wholeOnly = true;
            this.o.emit({
              type: 'note',
              file: label,
              message: `one connection, whole body from now on: ${e.message}`,
            });
          } else {
            this.o.emit({
              type: 'restart',
              file: label,
              message: `"${printableName(label)}" changed on the web server; starting over.`,
            });
          }
        }
      }
    } catch (err) {
      const e = toXferError(err);
      if (e.code === 'ERR_XFER_ABORTED' || this.o.signal.aborted) throw abortError();
      this.o.emit({ type: 'error', file: label, code: e.code, message: e.message });
      return { ok: false, retryable: e.retryable };
    } finally {
      release?.();
    }
  }

  private probe(target: WebTarget): Promise<Probe> {
    return this.withRetry(() =>
      probe(this.client, target, { head: this.o.head === true, signal: this.o.signal }),
    );
  }

  /** Downloads under `name` once no other URL is landing on that name. */
  private async download(
    name: string,
    p: Probe,
    options: WebFetchOptions,
    wholeOnly: boolean,
  ): Promise<void> {
    for (let other = this.landing.get(name); other; other = this.landing.get(name)) await other;
    const landed = this.downloadAs(name, p, options, wholeOnly);
    const settled = landed.then(
      () => undefined,
      () => undefined,
    );
    this.landing.set(name, settled);
    try {
      await landed;
    } finally {
      if (this.landing.get(name) === settled) this.landing.delete(name);
    }
  }

  private async downloadAs(
    name: string,
    p: Probe,
    options: WebFetchOptions,
    wholeOnly: boolean,
  ): Promise<void> {
    const paths = await this.folder.paths(name);
    const urlName = safeUrlName(p.target.url);
    const names = [name, ...(urlName && urlName !== name ? [urlName] : [])];
    const metalink =
      p.size === undefined || !p.metalink
        ? undefined
        : await fetchMetalink(this.client, p, names, this.o.signal);
    const expected = expectedHash({
      checksum: options.checksum,
      checksums: this.checksums,
      names,
      metalink,
      probe: p,
    });
    if (await skipIfThere({ name, paths, size: p.size, expected, emit: this.o.emit })) {
      if (p.whole) discardBody(p.whole);
      return;
    }
    if (p.note) this.o.emit({ type: 'note', file: name, message: p.note });
    const started = Date.now();
    if (p.size === undefined || !p.validator) {
      if (!p.whole)
        throw new BadRangeAnswerError(`${shownUrl(p.target.url)} gave neither a size nor a body to read.`);
      const result = await streamWhole({
        ...this.o,
        name,
        paths,
        answer: p.whole,
        expected,
        limit: this.client.rateLimit,
      });
      const seconds = (Date.now() - started) / 1000;
      this.o.emit({
        type: 'done',
        file: name,
        ...result,
        seconds,
        bytesPerSecond: seconds > 0 ? Math.round(result.size / seconds) : 0,
      });
      return;
    }
    const size = p.size;
    const done = (sha256: string, bytesTransferred: number, fetched: number, since = started) => {
      const seconds = (Date.now() - since) / 1000;
      this.o.emit({
        type: 'done',
        file: name,
        size,
        sha256,
        seconds,
        bytesTransferred,
        bytesPerSecond: seconds > 0 ? Math.round(fetched / seconds) : 0,
        verified: verifiedLabel(expected),
      });
    };
    if (p.body) {
      const source = printableName(`${p.target.url.origin}/`);
      const sha256 = landSmall({
        name,
        paths,
        bytes: p.body,
        expected,
        source,
        started: p.sentAt,
        emit: this.o.emit,
      });
      if (sha256 !== undefined) return done(sha256, size, size, p.sentAt);
    }
    const pieces = metalink?.pieces;
    const file: RemoteFile = {
      name,
      identity: { size, mtimeUs: 0, sha256: expected?.sha256 ?? NO_HASH },
      pieceSize: pieces?.length ?? pieceSizeFor(size),
      verify: expected ? 'sha256' : 'size',
      origin: `${p.target.url.href} ${describeValidator(p.validator)}`,
    };
    const web: WebFile = {
      target: p.target,
      name,
      validator: p.validator,
      ranges: p.split && !wholeOnly,
      whole: p.whole,
      pieces,
    };
    const source = new HttpSource(this.client, web, file.identity, this.o.connections);
    const mirrors = await this.mirrors.sourcesFor(file, urlName ?? name, web.ranges, expected);
    const job = this.jobFor([source, ...mirrors], file, paths);
    const meter = new SpeedMeter();
    const speeds = new SourceSpeeds();
    const report = () => {
      const { resumedBytes, sources, ...progress } = job.progress();
      const now = Date.now();
      this.o.emit({
        type: 'progress',
        file: name,
        ...progress,
        bytesPerSecond: meter.sample(now, progress.bytes - resumedBytes),
        sources: speeds.sample(now, sources),
      });
    };
    // A small file takes one round trip: its progress is reported once, at the end.
    const timer = job instanceof WholeFileDownload ? undefined : setInterval(report, PROGRESS_INTERVAL_MS);
    try {
      const result = await job.run();
      report();
      done(result.sha256, result.bytesTransferred, size - job.progress().resumedBytes);
    } finally {
      clearInterval(timer);
      for (const s of [source, ...mirrors]) s.dropAll();
    }
  }

  private jobFor(
    sources: RangeSource[],
    file: RemoteFile,
    paths: DownloadPaths,
  ): FileDownload | WholeFileDownload {
    const options = {
      sources,
      paths,
      file,
      policy: this.o.policy,
      signal: this.o.signal,
      emit: this.o.emit,
    };
    return file.identity.size <= WHOLE_FILE_MAX_BYTES
      ? new WholeFileDownload(options)
      : new FileDownload(options);
  }

  /** Runs a request, retrying what may pass (resets, 5xx, 429 after its Retry-After) with back-off. */
  private withRetry<T>(request: () => Promise<T>): Promise<T> {
    return retrying(this.o.policy, this.o.signal, request);
  }
}

/** A file fetched whole into memory (WholeFileDownload): its size and version are known and small. */
function fitsInMemory(p: Probe): boolean {
  return p.size !== undefined && p.validator !== undefined && p.size <= WHOLE_FILE_MAX_BYTES;
}

/** `sha256 (Repr-Digest)`, `sha256 (checksum)`, ... or `size only`: what the done line says was checked. */
export function verifiedLabel(expected: ExpectedHash | undefined): string {
  return expected ? `sha256 (${expected.source})` : 'size only';
}

function safeUrlName(url: URL): string | undefined {
  try {
    return fileNameFor(url, undefined);
  } catch {
    return undefined;
  }
}
