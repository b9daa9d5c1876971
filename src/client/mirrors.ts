import { FileChangedError, UnexpectedFrameError, toXferError } from '../errors.js';
import { printableName } from '../protocol/index.js';
import { formatAddress } from './address.js';
import type { ConnectOptions } from './connection.js';
import type { RemoteFile } from './download.js';
import type { EmitEvent } from './events.js';
import { ConnectionPool } from './pool.js';
import type { RangeSource } from './source.js';
import { XferSource } from './xfer-source.js';

/** What a mirror needs to know to judge its copy of a file. */
export interface MirrorContext {
  /** Spreads small files over an xfer mirror's pooled connections. */
  firstSlot: number;
  /** The file's SHA-256 was given by the user (not by a server): a mirror without a digest is checked against it. */
  userChecksum: boolean;
  /** The name a folder mirror is asked for, when not the file's own (a web file: its URL's last segment). */
  lookupName?: string;
}

/**
 * Another place holding the same files: an xfer server (XferMirror) or a web
 * folder or URL (http/web-mirror.ts).
 */
export interface Mirror {
  /** Names it in events; never trusted text (escaped by the CLI). */
  readonly label: string;
  /**
   * A source for `file` when this mirror's copy is shown to be the same
   * version; otherwise rejects with a coded error whose message says why
   * (it lacks the file, has another version, cannot be reached...).
   */
  sourceFor(file: RemoteFile, context: MirrorContext): Promise<RangeSource>;
  close(): void;
}

/**
 * The other places a session may fetch its files from besides its own
 * (`--mirror`, or `xfer client hostA hostB`). Each file is checked on every
 * mirror first: a mirror joins only when its copy agrees with the primary's
 * size and SHA-256; one that lacks the file, has another version, cannot show
 * its version, or cannot be reached is left out of that file with a `source`
 * event naming it.
 */
export class MirrorSet {
  constructor(
    private readonly mirrors: Mirror[],
    private readonly emit: EmitEvent,
  ) {}

  get size(): number {
    return this.mirrors.length;
  }

  /** The sources of the mirrors whose copy of `file` agrees with the primary's, in the mirrors' order. */
  async sourcesFor(file: RemoteFile, context: MirrorContext): Promise<RangeSource[]> {
    const found = await Promise.all(this.mirrors.map((mirror) => this.agreeing(mirror, file, context)));
    return found.filter((s): s is RangeSource => s !== undefined);
  }

  close(): void {
    for (const mirror of this.mirrors) mirror.close();
  }

  private async agreeing(
    mirror: Mirror,
    file: RemoteFile,
    context: MirrorContext,
  ): Promise<RangeSource | undefined> {
    try {
      return await mirror.sourceFor(file, context);
    } catch (err) {
      const e = toXferError(err);
      if (e.code === 'ERR_XFER_ABORTED') throw e;
      const message = `Mirror ${mirror.label} left out for "${printableName(file.name)}": ${e.message}`;
      this.emit({
        type: 'source',
        file: file.name,
        source: mirror.label,
        status: 'left-out',
        code: e.code,
        message,
      });
      return undefined;
    }
  }
}

/**
 * Another xfer server: one STAT per file says whether its copy has the
 * primary's size, SHA-256 and piece size. Its own mtime may differ: its GETs
 * name its own identity, so it still refuses bytes of any other version.
 */
export class XferMirror implements Mirror {
  private readonly pool: ConnectionPool;

  constructor(options: ConnectOptions, connections: number) {
    this.pool = new ConnectionPool(options, connections);
  }

  get label(): string {
    return formatAddress(this.pool.options);
  }

  async sourceFor(file: RemoteFile, context: MirrorContext): Promise<RangeSource> {
    let stat;
    try {
      stat = await (await this.pool.connection(0)).stat(file.name);
    } catch (err) {
      // Its connection is of no use now; the next file tries it afresh.
      this.pool.drop(0);
      throw err;
    }
    const { identity } = stat;
    if (identity.size !== file.identity.size || !identity.sha256.equals(file.identity.sha256)) {
      throw new FileChangedError(
        `it has another version (${identity.size} bytes, SHA-256 ${identity.sha256.toString('hex').slice(0, 12)}…).`,
      );
    }
    if (stat.pieceSize !== file.pieceSize) {
      throw new UnexpectedFrameError(
        `it cuts the file into pieces of another size (${stat.pieceSize} bytes).`,
      );
    }
    // Same bytes, same pieces: its hashes judge the file as the primary's would (under the primary's identity).
    const hashes = { ...stat, identity: file.identity };
    return new XferSource(this.pool, { ...file, identity }, context.firstSlot, () => Promise.resolve(hashes));
  }

  close(): void {
    this.pool.shutdown();
  }
}
