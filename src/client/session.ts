import { getMaxListeners, setMaxListeners } from 'node:events';
import { lstatSync } from 'node:fs';
import { UsageError, toXferError } from '../errors.js';
import { holdsVersion } from '../file-hash.js';
import {
  MAX_CONNECTIONS_PER_FILE,
  printableName,
  validateName,
  type CatalogEntry,
  type PiecesMessage,
} from '../protocol/index.js';
import type { ConnectOptions } from './connection.js';
import { FileDownload, type RemoteFile } from './download.js';
import type { EmitEvent } from './events.js';
import { DownloadFolder, type DownloadPaths } from './paths.js';
import { SMALL_FILE_WINDOW } from './batch.js';
import { ConnectionPool } from './pool.js';
import { DEFAULT_RETRY_POLICY, retrying, type RetryPolicy } from './retry.js';
import { SourceSpeeds, SpeedMeter } from './speed-meter.js';
import { WHOLE_FILE_MAX_BYTES, WholeFileDownload } from './whole-file.js';
import { MirrorSet, XferMirror, type Mirror } from './mirrors.js';
import { XferSource } from './xfer-source.js';

export interface SessionOptions {
  connect: ConnectOptions;
  /** Where finished files go (`DIR/data` for `xfer client`, `--out` for `xfer get`). */
  dataDir: string;
  /** Parallel connections per file and per source: 1 to 4. */
  connections: number;
  /** Other xfer servers with the same files: each large file is fetched from all that agree at once. */
  mirrors?: ConnectOptions[];
  /** Other mirrors, after the xfer servers (web folders: http/web-mirror.ts, made by the caller). */
  otherMirrors?: Mirror[];
  policy?: RetryPolicy;
  signal: AbortSignal;
  emit: EmitEvent;
}

export interface FetchOutcome {
  ok: boolean;
  /** The failure may pass (the server was away): worth another try later. */
  retryable?: boolean;
}

/** How often progress is reported while a file downloads: enough for a live bar, never per chunk. */
export const PROGRESS_INTERVAL_MS = 100;
/** A file that changes on the server mid-download is started over at most this many times. */
export const MAX_RESTARTS = 3;

/**
 * A client's conversation with one server: its catalog, and files fetched one
 * after another over a shared pool of up to 4 connections.
 */
export class ClientSession {
  private readonly pool: ConnectionPool;
  private readonly policy: RetryPolicy;
  private catalog = new Map<string, CatalogEntry>();
  private readonly folder: DownloadFolder;
  private readonly mirrors: MirrorSet;

  constructor(private readonly o: SessionOptions) {
    if (!Number.isInteger(o.connections) || o.connections < 1 || o.connections > MAX_CONNECTIONS_PER_FILE) {
      throw new UsageError(`Connections must be 1 to ${MAX_CONNECTIONS_PER_FILE}, not ${o.connections}.`);
    }
    this.pool = new ConnectionPool(
      { ...o.connect, stallTimeoutMs: (o.policy ?? DEFAULT_RETRY_POLICY).stallTimeoutMs, signal: o.signal },
      o.connections,
    );
    this.policy = o.policy ?? DEFAULT_RETRY_POLICY;
    const xferMirrors = (o.mirrors ?? []).map(
      (m) =>
        new XferMirror({ ...m, stallTimeoutMs: this.policy.stallTimeoutMs, signal: o.signal }, o.connections),
    );
    this.mirrors = new MirrorSet([...xferMirrors, ...(o.otherMirrors ?? [])], o.emit);
    this.folder = new DownloadFolder(o.dataDir);
    // Every small file in flight may wait out a back-off on the signal at once, beside the pool's connections.
    setMaxListeners(Math.max(getMaxListeners(o.signal), SMALL_FILE_WINDOW + 16), o.signal);
  }

  /** Before a batch of names: the download folder and its subfolders are checked afresh. */
  recheckFolders(): void {
    this.folder.recheck();
  }

  close(): void {
    this.pool.shutdown();
    this.mirrors.close();
  }

  /** Fetches the catalog (retrying while the server is away) and reports it. */
  async refreshCatalog(): Promise<CatalogEntry[]> {
    const entries = await this.withRetry(async () => (await this.pool.connection(0)).list());
    this.catalog = new Map(entries.map((e) => [e.name, e]));
    return entries;
  }

  async announceCatalog(): Promise<void> {
    const entries = await this.refreshCatalog();
    this.o.emit({ type: 'catalog', files: entries.map((e) => ({ name: e.name, size: e.size })) });
  }

  /**
   * Learns about just these names, with one STAT each (pipelined), instead of
   * the whole catalog: `xfer get` on a server with thousands of files then
   * costs a few small answers, not the full listing. Returns the names the
   * server does not have (or that could never be valid).
   */
  async lookup(names: string[]): Promise<string[]> {
    const answers = await Promise.all(
      names.map(async (name) => {
        try {
          // An invalid name would make the server close the connection; it cannot exist anyway.
          validateName(name);
          const pieces = await this.statRemote(name);
          this.catalog.set(name, { name, ...pieces.identity, pieceSize: pieces.pieceSize });
          return undefined;
        } catch (err) {
          const e = toXferError(err);
          if (e.code === 'ERR_XFER_NOT_FOUND' || e.code === 'ERR_XFER_NAME') return name;
          throw e;
        }
      }),
    );
    return answers.filter((n): n is string => n !== undefined);
  }

  has(name: string): boolean {
    return this.catalog.has(name);
  }

  /** A listed file that one request fetches whole: cheap enough to fetch several side by side. */
  isSmall(name: string): boolean {
    const entry = this.catalog.get(name);
    return entry !== undefined && entry.size <= WHOLE_FILE_MAX_BYTES;
  }

  /** Downloads one listed file into dataDir, verified; reports done or error and never throws but on abort. */
  async fetch(name: string, firstSlot = 0): Promise<FetchOutcome> {
    try {
      // The landing folder is resolved and must lie inside the download folder.
      const paths = await this.folder.paths(name);
      for (let restarts = 0; ; restarts++) {
        const file = await this.remoteFile(name);
        if (await alreadyComplete(paths.final, file)) {
          this.o.emit({ type: 'skip', file: name, reason: 'already downloaded and verified' });
          return { ok: true };
        }
        try {
          await this.download(file, paths, firstSlot);
          return { ok: true };
        } catch (err) {
          const e = toXferError(err);
          if (e.code !== 'ERR_XFER_CHANGED' || restarts >= MAX_RESTARTS) throw e;
          this.o.emit({
            type: 'restart',
            file: name,
            message: `"${printableName(name)}" changed on the server; starting over.`,
          });
          this.catalog.delete(name);
          // Behind a load balancer the backend that told us the identity may be the odd one out: ask afresh.
          this.pool.drop(0);
        }
      }
    } catch (err) {
      const e = toXferError(err);
      if (e.code === 'ERR_XFER_ABORTED' || this.o.signal.aborted) throw e;
      this.o.emit({ type: 'error', file: name, code: e.code, message: e.message });
      return { ok: false, retryable: e.retryable };
    }
  }

  private async download(file: RemoteFile, paths: DownloadPaths, firstSlot: number): Promise<void> {
    const started = Date.now();
    const source = new XferSource(this.pool, file, firstSlot, () => this.statRemote(file.name));
    const whole = file.identity.size <= WHOLE_FILE_MAX_BYTES;
    // A small file is one round trip to the primary: asking the mirrors first would only slow it.
    const mirrors =
      whole || this.mirrors.size === 0
        ? []
        : await this.mirrors.sourcesFor(file, { firstSlot, userChecksum: false });
    const meter = new SpeedMeter();
    const speeds = new SourceSpeeds();
    let timer: NodeJS.Timeout | undefined;
    const report = () => {
      const { resumedBytes, sources, ...p } = job.progress();
      const now = Date.now();
      const bytesPerSecond = meter.sample(now, p.bytes - resumedBytes);
      this.o.emit({
        type: 'progress',
        file: file.name,
        ...p,
        bytesPerSecond,
        sources: speeds.sample(now, sources),
      });
    };
    const emit: EmitEvent = (event) => {
      this.o.emit(event);
      // Progress is reported from the start on (after resumed pieces are checked), never before;
      // a small file takes one round trip: its progress is reported once, at the end.
      if (event.type === 'start' && !whole) timer ??= setInterval(report, PROGRESS_INTERVAL_MS);
    };
    const options = {
      sources: [source, ...mirrors],
      paths,
      file,
      policy: this.policy,
      signal: this.o.signal,
      emit,
    };
    const job = whole ? new WholeFileDownload(options) : new FileDownload(options);
    try {
      const result = await job.run();
      report();
      const seconds = (Date.now() - started) / 1000;
      // Speed counts this run's bytes only: a resumed file is not faster than its link.
      const fetched = file.identity.size - job.progress().resumedBytes;
      this.o.emit({
        type: 'done',
        file: file.name,
        size: file.identity.size,
        sha256: result.sha256,
        seconds,
        bytesTransferred: result.bytesTransferred,
        bytesPerSecond: seconds > 0 ? Math.round(fetched / seconds) : 0,
      });
    } finally {
      clearInterval(timer);
    }
  }

  /** The file's identity: from the catalog when it carries a hash, else from STAT (which waits for hashing). */
  private async remoteFile(name: string): Promise<RemoteFile> {
    const entry = this.catalog.get(name);
    if (entry?.sha256) {
      return {
        name,
        identity: { size: entry.size, mtimeUs: entry.mtimeUs, sha256: entry.sha256 },
        pieceSize: entry.pieceSize,
      };
    }
    const stat = await this.statRemote(name);
    return { name, identity: stat.identity, pieceSize: stat.pieceSize };
  }

  /** STAT on the control connection: identity and piece hashes, retried while the server is away. */
  private statRemote(name: string): Promise<PiecesMessage> {
    return this.withRetry(async () => (await this.pool.connection(0)).stat(name));
  }

  /** Runs a control request, retrying connection failures with back-off (the server may be restarting). */
  private withRetry<T>(request: () => Promise<T>): Promise<T> {
    return retrying(this.policy, this.o.signal, request, (error) => {
      // A server never reached is not retried: the first handshake's failure is the answer.
      if (!this.pool.everConnected) throw error;
      this.pool.drop(0);
    });
  }
}

/** A file already in place with the right size and SHA-256 is not fetched again. */
async function alreadyComplete(final: string, file: RemoteFile): Promise<boolean> {
  // The common case, nothing there yet, is answered without a thread-pool round trip.
  if (lstatSync(final, { throwIfNoEntry: false }) === undefined) return false;
  return holdsVersion(final, file.identity.size, file.identity.sha256);
}
