import { hashFile, type FileHashes } from './hasher.js';
import type { OpenedFile } from './confined-open.js';

export type { FileHashes } from './hasher.js';

/**
 * Hashes by file version (dev, inode, size, mtime): a file is hashed once
 * per version however often it is served, and concurrent askers share one
 * computation. A failed computation is forgotten so the next ask retries.
 */
export class HashCache {
  private readonly pending = new Map<string, Promise<FileHashes>>();
  private readonly done = new Map<string, FileHashes>();

  has(versionKey: string): boolean {
    return this.pending.has(versionKey);
  }

  /** Hashes of a version already hashed, without waiting: undefined if not computed yet. */
  ready(versionKey: string): FileHashes | undefined {
    return this.done.get(versionKey);
  }

  /** Hashes of an opened file's current version: cached, or computed now. */
  of(file: OpenedFile): Promise<FileHashes> {
    let pending = this.pending.get(file.versionKey);
    if (!pending) {
      pending = hashFile(file.fh, file.size).then((h) => {
        this.done.set(file.versionKey, h);
        return h;
      });
      pending.catch(() => this.pending.delete(file.versionKey));
      this.pending.set(file.versionKey, pending);
    }
    return pending;
  }

  /** Forgets every version not in `live` (files changed or gone since). */
  retain(live: ReadonlySet<string>): void {
    for (const key of this.pending.keys()) {
      if (!live.has(key)) {
        this.pending.delete(key);
        this.done.delete(key);
      }
    }
  }
}
