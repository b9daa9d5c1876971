import { EventEmitter } from 'node:events';
import {
  closeSync,
  constants as fsc,
  fstatSync,
  openSync,
  readSync,
  readlinkSync,
  realpathSync,
  watch,
  type BigIntStats,
  type FSWatcher,
} from 'node:fs';
import { lstat, open, readdir, readlink, realpath, stat, type FileHandle } from 'node:fs/promises';
import { join, sep } from 'node:path';
import type { XferError } from '../errors.js';
import { NotFoundError } from '../errors.js';
import { pieceSizeFor, printableName, validateName, type CatalogEntry } from '../protocol/index.js';
import { hashFile, type FileHashes } from './hasher.js';

/** A listed file: its wire name and where it really lives (no symlink left in the path). */
export interface FileRecord {
  name: string;
  realPath: string;
  size: number;
  mtimeUs: number;
  versionKey: string;
}

/** A file's identity, from fstat of an open descriptor (not from the path). */
export interface FileVersion {
  size: number;
  mtimeUs: number;
  versionKey: string;
}

/** An opened file whose identity comes from fstat of the open descriptor, not from the path. */
export interface OpenedFile extends FileVersion {
  fh: FileHandle;
}

/** Bytes read whole by `readSmall`, with the version they were read from. */
export interface SmallRead {
  file: FileVersion;
  bytes: Buffer;
  /** The file's version changed while it was read (the bytes may mix two versions). */
  changedMeanwhile: boolean;
}

export interface CatalogEvents {
  change: [];
  warning: [string];
}

/**
 * The set of files under resources/ that may be served, and their hashes.
 *
 * Confinement: only names in this map are ever opened, each through the real
 * path found by the scan, opened with O_NOFOLLOW and checked again (through
 * /proc/self/fd) after opening, so a symlink swapped in after the scan is caught.
 */
export class Catalog extends EventEmitter<CatalogEvents> {
  private rootReal = '';
  private files = new Map<string, FileRecord>();
  /** By version (dev, inode, size, mtime): a file is hashed once per version, however often it is served. */
  private readonly hashCache = new Map<string, Promise<FileHashes>>();
  private readonly hashed = new Map<string, FileHashes>();
  private scanning: Promise<void> | undefined;
  private rescanWanted = false;
  private watcher: FSWatcher | undefined;
  private timer: NodeJS.Timeout | undefined;
  private debounce: NodeJS.Timeout | undefined;
  private backgroundHashing = false;

  constructor(private readonly resourcesDir: string) {
    super();
  }

  get size(): number {
    return this.files.size;
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
      const hashes = this.hashed.get(f.versionKey);
      if (hashes) entry.sha256 = hashes.sha256;
      return entry;
    });
  }

  /** Rescans now; concurrent calls share one scan, and a call during a scan queues one more. */
  async rescan(): Promise<void> {
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
        this.debounce = setTimeout(() => void this.rescan(), 100);
      });
      this.watcher.on('error', () => this.watcher?.close());
    } catch {
      // Recursive watch is not available everywhere; the periodic rescan still runs.
    }
    this.timer = setInterval(() => void this.rescan(), intervalMs);
    this.timer.unref();
  }

  stop(): void {
    this.watcher?.close();
    clearInterval(this.timer);
    clearTimeout(this.debounce);
  }

  /**
   * Opens a listed file for reading without following a symlink at the last
   * step, then checks that what was opened really lies inside resources/.
   */
  async open(record: FileRecord): Promise<OpenedFile> {
    let fh: FileHandle;
    try {
      fh = await open(record.realPath, fsc.O_RDONLY | fsc.O_NOFOLLOW);
    } catch (err) {
      void this.rescan();
      throw new NotFoundError(`"${printableName(record.name)}" is no longer available.`, {
        cause: err,
      });
    }
    try {
      const opened = await readlink(`/proc/self/fd/${fh.fd}`).catch(() => realpath(record.realPath));
      return { fh, ...this.checkOpened(record, opened, await fh.stat({ bigint: true })) };
    } catch (err) {
      await fh.close();
      throw err;
    }
  }

  /**
   * Bytes [offset, offset + length) of a listed file, read whole with the same
   * checks as open(), synchronously. Meant for small reads: for a few KiB from
   * the page cache each call takes microseconds, less than the thread-pool
   * round trip of its async form, and a run of thousands of small files is
   * made of little else. (A server without async disk I/O, like nginx without
   * aio, blocks the same way.)
   */
  readSmall(record: FileRecord, offset: number, length: number): SmallRead {
    let fd: number;
    try {
      fd = openSync(record.realPath, fsc.O_RDONLY | fsc.O_NOFOLLOW | fsc.O_NONBLOCK);
    } catch (err) {
      void this.rescan();
      throw new NotFoundError(`"${printableName(record.name)}" is no longer available.`, {
        cause: err,
      });
    }
    try {
      let opened: string;
      try {
        opened = readlinkSync(`/proc/self/fd/${fd}`);
      } catch {
        opened = realpathSync(record.realPath);
      }
      const file = this.checkOpened(record, opened, fstatSync(fd, { bigint: true }));
      const bytes = Buffer.allocUnsafe(Math.max(0, Math.min(length, file.size - offset)));
      for (let got = 0; got < bytes.length;) {
        const n = readSync(fd, bytes, got, bytes.length - got, offset + got);
        if (n === 0) return { file, bytes: bytes.subarray(0, got), changedMeanwhile: true };
        got += n;
      }
      const after = fstatSync(fd, { bigint: true });
      const changedMeanwhile =
        Number(after.size) !== file.size || Number(after.mtimeNs / 1000n) !== file.mtimeUs;
      return { file, bytes, changedMeanwhile };
    } finally {
      closeSync(fd);
    }
  }

  /** What was opened must be a regular file inside resources/; its identity comes from fstat. */
  private checkOpened(record: FileRecord, openedPath: string, st: BigIntStats): FileVersion {
    if (!this.inside(openedPath)) {
      throw new NotFoundError(`"${printableName(record.name)}" is not inside resources/.`);
    }
    if (!st.isFile()) throw new NotFoundError(`"${printableName(record.name)}" is not a file.`);
    const size = Number(st.size);
    const mtimeUs = Number(st.mtimeNs / 1000n);
    return { size, mtimeUs, versionKey: versionKey(st.dev, st.ino, size, mtimeUs) };
  }

  /** Hashes of a version already hashed, without waiting: undefined if not computed yet. */
  hashesIfReady(file: FileVersion): FileHashes | undefined {
    return this.hashed.get(file.versionKey);
  }

  /** Hashes of an opened file's current version: cached, or computed now (sharing any computation under way). */
  hashes(file: OpenedFile): Promise<FileHashes> {
    let pending = this.hashCache.get(file.versionKey);
    if (!pending) {
      pending = hashFile(file.fh, file.size).then((h) => {
        this.hashed.set(file.versionKey, h);
        return h;
      });
      pending.catch(() => this.hashCache.delete(file.versionKey));
      this.hashCache.set(file.versionKey, pending);
    }
    return pending;
  }

  private inside(path: string): boolean {
    return path.startsWith(this.rootReal + sep);
  }

  private async scanOnce(): Promise<void> {
    this.rootReal = await realpath(this.resourcesDir);
    const found = new Map<string, FileRecord>();
    await this.walk(this.rootReal, '', new Set([this.rootReal]), found);
    const sorted = new Map([...found.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
    const changed =
      sorted.size !== this.files.size ||
      [...sorted.values()].some((f) => this.files.get(f.name)?.versionKey !== f.versionKey);
    this.files = sorted;
    const live = new Set([...sorted.values()].map((f) => f.versionKey));
    for (const key of this.hashCache.keys()) {
      if (!live.has(key)) {
        this.hashCache.delete(key);
        this.hashed.delete(key);
      }
    }
    if (changed) this.emit('change');
    void this.hashInBackground();
  }

  private async walk(
    dir: string,
    prefix: string,
    visited: Set<string>,
    out: Map<string, FileRecord>,
  ): Promise<void> {
    let dirents;
    try {
      dirents = await readdir(dir, { withFileTypes: true });
    } catch {
      return; // removed or unreadable since it was listed
    }
    for (const d of dirents) {
      // Dotfiles and partial downloads are never published.
      if (d.name.startsWith('.') || d.name.endsWith('.part')) continue;
      const name = prefix ? `${prefix}/${d.name}` : d.name;
      try {
        validateName(name);
      } catch (err) {
        this.emit(
          'warning',
          `Not listing ${JSON.stringify(printableName(name))}: ${(err as XferError).message}`,
        );
        continue;
      }
      const full = join(dir, d.name);
      try {
        let st = await lstat(full, { bigint: true });
        let real = full;
        if (st.isSymbolicLink()) {
          real = await realpath(full);
          if (!this.inside(real)) {
            this.emit('warning', `Not listing "${printableName(name)}": it links outside resources/.`);
            continue;
          }
          st = await stat(real, { bigint: true });
        }
        if (st.isDirectory()) {
          if (visited.has(real)) continue; // a symlink loop or a second link to the same folder
          visited.add(real);
          await this.walk(real, name, visited, out);
        } else if (st.isFile()) {
          const size = Number(st.size);
          const mtimeUs = Number(st.mtimeNs / 1000n);
          out.set(name, {
            name,
            realPath: real,
            size,
            mtimeUs,
            versionKey: versionKey(st.dev, st.ino, size, mtimeUs),
          });
        }
      } catch {
        // Vanished between readdir and stat, or a dangling link: not listed.
      }
    }
  }

  /** Hashes every unhashed file, one at a time, so the first STAT or GET rarely has to wait. */
  private async hashInBackground(): Promise<void> {
    if (this.backgroundHashing) return;
    this.backgroundHashing = true;
    try {
      for (const record of [...this.files.values()]) {
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

function versionKey(dev: bigint, ino: bigint, size: number, mtimeUs: number): string {
  return `${dev}:${ino}:${size}:${mtimeUs}`;
}
