import { formatAddress } from './address.js';
import type { RemoteFile } from './download.js';
import type { ConnectionPool } from './pool.js';
import type { PieceHashes, RangeChannel, RangeSource, SourceCapabilities } from './source.js';

/**
 * One file on an xfer server, as a RangeSource: channel `slot` is the pool's
 * connection `(firstSlot + slot) % pool.size`, shared with other files (small
 * files run side by side on different pool slots), so dropping a channel
 * closes that pooled connection and the next request reconnects. Every GET
 * carries the file's identity, so the server refuses bytes of another version.
 */
export class XferSource implements RangeSource {
  readonly capabilities: SourceCapabilities;

  constructor(
    private readonly pool: ConnectionPool,
    private readonly file: RemoteFile,
    private readonly firstSlot: number,
    /** STAT for this file (the session retries it while the server is away). */
    private readonly stat: () => Promise<PieceHashes>,
  ) {
    this.capabilities = { maxConnections: pool.size, ranges: true, pieceHashes: true };
  }

  get label(): string {
    return formatAddress(this.pool.options);
  }

  async channel(slot: number): Promise<RangeChannel> {
    const conn = await this.pool.connection(this.poolSlot(slot));
    const { name, identity } = this.file;
    return {
      read: (req) =>
        conn.get({
          name,
          offset: req.offset,
          length: req.length,
          expect: identity,
          onChunk: (chunk, position) => req.onChunk(chunk, position),
          onLateError: (err) => req.onLateError?.(err),
        }),
    };
  }

  drop(slot: number): void {
    this.pool.drop(this.poolSlot(slot));
  }

  dropAll(): void {
    for (let slot = 0; slot < this.pool.size; slot++) this.drop(slot);
  }

  pieces(): Promise<PieceHashes> {
    return this.stat();
  }

  private poolSlot(slot: number): number {
    return (this.firstSlot + slot) % this.pool.size;
  }
}
