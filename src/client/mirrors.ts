import { toXferError } from '../errors.js';
import { printableName } from '../protocol/index.js';
import { formatAddress } from './address.js';
import type { ConnectOptions } from './connection.js';
import type { RemoteFile } from './download.js';
import type { EmitEvent } from './events.js';
import { ConnectionPool } from './pool.js';
import type { RangeSource } from './source.js';
import { XferSource } from './xfer-source.js';

/**
 * The other xfer servers a session may fetch its files from besides its own
 * (`--mirror`, or `xfer client hostA hostB`). Each file is checked on every
 * mirror first (one STAT): a mirror joins only when its copy has the primary's
 * size and SHA-256; one that lacks the file, has another version or cannot be
 * reached is left out of that file with a `source` event naming it. A mirror's
 * own mtime may differ: its GETs name its own identity, so it still refuses
 * bytes of any other version.
 */
export class MirrorSet {
  private readonly pools: ConnectionPool[];

  constructor(
    mirrors: ConnectOptions[],
    connections: number,
    private readonly emit: EmitEvent,
  ) {
    this.pools = mirrors.map((options) => new ConnectionPool(options, connections));
  }

  get size(): number {
    return this.pools.length;
  }

  /** The mirrors whose copy of `file` agrees with the primary's; `firstSlot` spreads small files over pools. */
  async sourcesFor(file: RemoteFile, firstSlot: number): Promise<RangeSource[]> {
    const found = await Promise.all(this.pools.map((pool) => this.agreeing(pool, file, firstSlot)));
    return found.filter((s): s is RangeSource => s !== undefined);
  }

  close(): void {
    for (const pool of this.pools) pool.shutdown();
  }

  private async agreeing(
    pool: ConnectionPool,
    file: RemoteFile,
    firstSlot: number,
  ): Promise<RangeSource | undefined> {
    const label = formatAddress(pool.options);
    const name = printableName(file.name);
    const leaveOut = (code: string, message: string) => {
      this.emit({ type: 'source', file: file.name, source: label, status: 'left-out', code, message });
      return undefined;
    };
    let stat;
    try {
      stat = await (await pool.connection(0)).stat(file.name);
    } catch (err) {
      const e = toXferError(err);
      // Its connection is of no use now; the next file tries it afresh.
      pool.drop(0);
      return leaveOut(e.code, `Mirror ${label} left out for "${name}": ${e.message}`);
    }
    const { identity } = stat;
    if (identity.size !== file.identity.size || !identity.sha256.equals(file.identity.sha256)) {
      return leaveOut(
        'ERR_XFER_CHANGED',
        `Mirror ${label} left out for "${name}": it has another version (${identity.size} bytes, SHA-256 ${identity.sha256.toString('hex').slice(0, 12)}…).`,
      );
    }
    if (stat.pieceSize !== file.pieceSize) {
      return leaveOut(
        'ERR_XFER_PROTOCOL',
        `Mirror ${label} left out for "${name}": it cuts the file into pieces of another size (${stat.pieceSize} bytes).`,
      );
    }
    // Same bytes, same pieces: its hashes judge the file as the primary's would (under the primary's identity).
    const hashes = { ...stat, identity: file.identity };
    return new XferSource(pool, { ...file, identity }, firstSlot, () => Promise.resolve(hashes));
  }
}
