import { CatalogTooLargeError, UnexpectedFrameError } from '../errors.js';
import { catalogEntryWireSize, type CatalogEntry } from '../protocol/index.js';

/**
 * A catalog is held in memory whole, so a server cannot make it grow without
 * end: 200,000 files or 64 MiB of entries (docs/protocol.md §5).
 */
export const MAX_CATALOG_ENTRIES = 200_000;
export const MAX_CATALOG_BYTES = 64 * 1024 * 1024;
/** A CATALOG frame's fields before its entries: requestId, more, count. */
const CATALOG_HEAD_BYTES = 9;

/** One LIST's catalog as its CATALOG frames arrive, each counted against the bounds before it is kept. */
export class CatalogCollector {
  readonly entries: CatalogEntry[] = [];
  private bytes = 0;

  constructor(private readonly where: string) {}

  /** Adds one frame; true once the catalog is complete. Throws past a bound. */
  add(more: boolean, entries: CatalogEntry[]): boolean {
    if (more && entries.length === 0) {
      throw new UnexpectedFrameError('The server sent an empty CATALOG frame that announced more to come.');
    }
    this.bytes += CATALOG_HEAD_BYTES + entries.reduce((n, e) => n + catalogEntryWireSize(e), 0);
    const tooMany = this.entries.length + entries.length > MAX_CATALOG_ENTRIES;
    if (tooMany || this.bytes > MAX_CATALOG_BYTES) {
      const cap = tooMany ? `${MAX_CATALOG_ENTRIES} files` : `${MAX_CATALOG_BYTES / 1024 / 1024} MiB`;
      throw new CatalogTooLargeError(
        `The catalog from ${this.where} has more than ${cap}, more than a client accepts; it was refused.`,
      );
    }
    for (const e of entries) this.entries.push(e);
    return !more;
  }
}
