import { EventEmitter } from 'node:events';
import { watch, type FSWatcher } from 'node:fs';
import { realpath } from 'node:fs/promises';
import { setTimeout as delay } from 'node:timers/promises';
import { NotFoundError } from '../errors.js';
import { pieceSizeFor, type CatalogEntry } from '../protocol/index.js';
import {
  openConfined,
  readConfined,
  type FileVersion,
  type OpenedFile,
  type SmallRead,
} from './confined-open.js';
import { HashCache, type FileHashes } from './hash-cache.js';
import { scanResources, type FileRecord } from './scan.js';

export type { FileRecord } from './scan.js';
export type { FileVersion, OpenedFile, SmallRead } from './confined-open.js';

/** The longest stop() waits for a scan in flight to settle. */
const STOP_WAIT_MS = 2_000;
/** fs.watch fires several events for one change; one rescan follows a burst. */
const WATCH_DEBOUNCE_MS = 100;

export interface CatalogEvents {
  change: [];
  warning: [string];
  /** A rescan failed (e.g. out of descriptors): the last good catalog stays published. */
  'scan-failed': [string];
}

/**
 * The set of files under resources/ that may be served, and their hashes.
 * The scan lives in scan.ts, confinement in confined-open.ts, hashes in
 * hash-cache.ts; this class keeps them current and in step.
 *
 * Confinement: only names in this map are ever opened, each through the real
 * path found by the scan, and checked again after opening.
 */
export class Catalog extends EventEmitter<CatalogEvents> {
  private rootReal = '';
  private files = new Map<string, FileRecord>();
  private readonly hashCache = new HashCache();
  private scanning: Promise<void> | undefined;
  private rescanWanted = false;
  private scannedOnce = false;
  private lastScanFailed = false;
  private watcher: FSWatcher | undefined;
  private timer: NodeJS.Timeout | undefined;
  private debounce: NodeJS.Timeout | undefined;
  private backgroundHashing = false;
  /** Set by stop(): no more scans, hashing or 'change' events (the folder may be deleted next). */
  private stopped = false;

  constructor(private readonly resourcesDir: string) {
    super();
  }

  get size(): number {
    return this.files.size;
  }

  /** True while the latest rescan failed and the catalog is the last good one. */
  get stale(): boolean {
    return this.lastScanFailed;
  }

  get(name: string): FileRecord | undefined {
    return this.files.get(name);
  }

  /** The wire catalog, sorted by name; a file still being hashed is listed without its SHA-256. */
  entries(): CatalogEntry[] {
    return [...this.files.values()].map((f) => {
      const entry: CatalogEntry = {
        name: f.name,
        size: f.size,
        mtimeUs: f.mtimeUs,
        pieceSize: pieceSizeFor(f.size),
      };
      const hashes = this.hashCache.ready(f.versionKey);
      if (hashes) entry.sha256 = hashes.sha256;
      return entry;
    });
  }

  /**
   * Rescans now; concurrent calls share one scan, and a call during a scan
   * queues one more. Only the first scan can reject; later failures keep the
   * last good catalog and are reported with 'scan-failed'.
   */
  async rescan(): Promise<void> {
    if (this.stopped) return;
    if (this.scanning) {
      this.rescanWanted = true;
      return this.scanning;
    }
    this.scanning = (async () => {
      do {
        this.rescanWanted = false;
        await this.scanOnce();
      } while (this.rescanWanted);
    })().finally(() => (this.scanning = undefined));
    return this.scanning;
  }

  /** Keeps the catalog current: fs.watch for promptness plus a periodic rescan, since watch can miss events. */
  watch(intervalMs: number): void {
    try {
      this.watcher = watch(this.resourcesDir, { recursive: true }, () => {
        clearTimeout(this.debounce);
        this.debounce = setTimeout(() => void this.rescan(), WATCH_DEBOUNCE_MS);
      });
      this.watcher.on('error', () => this.watcher?.close());
    } catch {
      // Recursive watch is not available everywhere; the periodic rescan still runs.
    }
    this.timer = setInterval(() => void this.rescan(), intervalMs);
    this.timer.unref();
  }

  /**
   * Stops watching, scanning and hashing; resolves once a scan in flight has
   * settled, so no 'change' follows (a caller may delete the folder next). A
   * hash in flight only reads an open file; it is not waited for, as a big
   * file would hold up shutdown for seconds. Nor is a scan for longer than
   * STOP_WAIT_MS: a stuck file system must not keep the server from stopping.
   */
  async stop(): Promise<void> {
    this.stopped = true;
    this.watcher?.close();
    clearInterval(this.timer);
    clearTimeout(this.debounce);
    if (!this.scanning) return;
    const giveUp = new AbortController();
    await Promise.race([
      this.scanning.catch(() => undefined),
      delay(STOP_WAIT_MS, undefined, { signal: giveUp.signal }).catch(() => undefined),
    ]);
    giveUp.abort();
  }

  /** Opens a listed file, confined to resources/ (see confined-open.ts). */
  async open(record: FileRecord): Promise<OpenedFile> {
    try {
      return await openConfined(this.rootReal, record);
    } catch (err) {
      this.afterOpenFailure(err);
      throw err;
    }
  }

  /** Bytes of a listed file read whole and synchronously, with the same confinement as open(). */
  readSmall(record: FileRecord, offset: number, length: number): SmallRead {
    try {
      return readConfined(this.rootReal, record, offset, length);
    } catch (err) {
      this.afterOpenFailure(err);
      throw err;
    }
  }

  /** Hashes of a version already hashed, without waiting: undefined if not computed yet. */
  hashesIfReady(file: FileVersion): FileHashes | undefined {
    return this.hashCache.ready(file.versionKey);
  }

  /** Hashes of an opened file's current version: cached, or computed now (sharing any computation under way). */
  hashes(file: OpenedFile): Promise<FileHashes> {
    return this.hashCache.of(file);
  }

  /** A listed file that is gone means the catalog is out of date. */
  private afterOpenFailure(err: unknown): void {
    if (err instanceof NotFoundError) void this.rescan();
  }

  private async scanOnce(): Promise<void> {
    let rootReal: string;
    let found: Map<string, FileRecord>;
    try {
      rootReal = await realpath(this.resourcesDir);
      found = await scanResources(rootReal, (message) => this.emit('warning', message));
    } catch (err) {
      if (!this.scannedOnce) throw err;
      // An incomplete scan (EMFILE, say) would look like deleted files: publish nothing from it.
      this.lastScanFailed = true;
      this.emit(
        'scan-failed',
        `Rescanning resources/ failed for now (${(err as Error).message}); still serving the last catalog of ${this.files.size} file${this.files.size === 1 ? '' : 's'} until a rescan succeeds.`,
      );
      return;
    }
    if (this.stopped) return;
    this.scannedOnce = true;
    this.lastScanFailed = false;
    this.rootReal = rootReal;
    const changed =
      found.size !== this.files.size ||
      [...found.values()].some((f) => this.files.get(f.name)?.versionKey !== f.versionKey);
    this.files = found;
    this.hashCache.retain(new Set([...found.values()].map((f) => f.versionKey)));
    if (changed) this.emit('change');
    void this.hashInBackground();
  }

  /** Hashes every unhashed file, one at a time, so the first STAT or GET rarely has to wait. */
  private async hashInBackground(): Promise<void> {
    if (this.backgroundHashing) return;
    this.backgroundHashing = true;
    try {
      for (const record of [...this.files.values()]) {
        if (this.stopped) return;
        if (this.hashCache.has(record.versionKey)) continue;
        const opened = await this.open(record).catch(() => undefined);
        if (!opened) continue;
        try {
          await this.hashes(opened).catch(() => undefined);
        } finally {
          await opened.fh.close();
        }
      }
    } finally {
      this.backgroundHashing = false;
    }
  }
}
