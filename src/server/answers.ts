import type { Socket } from 'node:net';
import {
  FileChangedError,
  LimitError,
  NotFoundError,
  RangeOutsideFileError,
  toXferError,
  type XferError,
  type XferErrorCode,
} from '../errors.js';
import {
  MAX_FRAME_SIZE,
  catalogEntryWireSize,
  encode,
  printableName,
  type CatalogEntry,
  type ClientMessage,
  type GetMessage,
  type ServerMessage,
  type StatMessage,
} from '../protocol/index.js';
import type { Catalog, FileRecord, FileVersion, OpenedFile } from './catalog.js';
import type { FileHashes } from './hash-cache.js';
import type { ServerLimits } from './limits.js';
import type { ServerLog } from './log-limiter.js';
import { sameVersion } from './scan.js';
import { Pacer, READ_SIZE, ReadBuffers, drained, sendRange } from './range-sender.js';

/** GETs up to one read buffer are read whole and sent in one write (Catalog.readSmall). */
const SMALL_READ_BYTES = READ_SIZE;
/** Room left in a CATALOG frame for its header fields, so no frame exceeds the client's limit. */
const CATALOG_FRAME_OVERHEAD = 64;

export type Request = Extract<ClientMessage, { requestId: number }>;

/** What a connection needs from the server that owns it. */
export interface ConnectionHost {
  readonly catalog: Catalog;
  readonly limits: ServerLimits;
  readonly token: string | undefined;
  /** With a `repeats` kind, lines a peer can cause by the thousand are summed up, not each written. */
  log(entry: ServerLog, repeats?: string): void;
  /** Claims one of the client's data-connection slots for a file; false when all are taken. */
  claimFileSlot(key: string): boolean;
  releaseFileSlot(key: string): void;
}

/** Answers one ready connection's requests: LIST, STAT and GET. */
export class Answers {
  /** Between a DATA header and its last raw byte no frame may be interleaved. */
  streaming = false;
  /** The client's address and session id: GET slots are counted per client, not per connection. */
  sessionKey = '';
  private readonly pacer: Pacer | undefined;
  private readonly readBuffers = new ReadBuffers();

  constructor(
    private readonly socket: Socket,
    private readonly host: ConnectionHost,
    private readonly peer: string,
  ) {
    const rate = host.limits.bytesPerSecondPerConnection;
    this.pacer = rate > 0 ? new Pacer(rate) : undefined;
  }

  send(msg: ServerMessage): void {
    if (!this.socket.destroyed && !this.socket.writableEnded) this.socket.write(encode(msg));
  }

  /** Answers a request; a refusal is an ERROR frame, a broken stream cuts the connection. */
  async answer(req: Request): Promise<void> {
    try {
      if (req.type === 'list') this.sendCatalog(req.requestId, this.host.catalog.entries());
      else if (req.type === 'stat') await this.answerStat(req);
      else await this.answerGet(req);
    } catch (err) {
      const error = toXferError(err instanceof MidStreamError ? err.cause : err);
      if (err instanceof MidStreamError || !REQUEST_VERDICTS.has(error.code)) {
        // Once raw bytes have started, or on an unexpected failure, the stream
        // can no longer be trusted: cut the connection, the client retries.
        this.host.log(
          { level: 'warn', message: `${this.peer} request failed: ${error.message}` },
          'request-failed',
        );
        this.socket.destroy();
        return;
      }
      this.send({ type: 'error', requestId: req.requestId, code: error.code, message: error.message });
    }
  }

  private sendCatalog(requestId: number, entries: CatalogEntry[]): void {
    // Split long catalogs so that no frame exceeds the limit the client enforces.
    const budget = MAX_FRAME_SIZE - CATALOG_FRAME_OVERHEAD;
    let batch: CatalogEntry[] = [];
    let bytes = 0;
    for (const entry of entries) {
      const size = catalogEntryWireSize(entry);
      if (bytes + size > budget && batch.length > 0) {
        this.send({ type: 'catalog', requestId, more: true, entries: batch });
        batch = [];
        bytes = 0;
      }
      batch.push(entry);
      bytes += size;
    }
    this.send({ type: 'catalog', requestId, more: false, entries: batch });
  }

  private record(name: string): FileRecord {
    const record = this.host.catalog.get(name);
    if (!record) {
      throw new NotFoundError(`The server has no file named "${printableName(name)}".`);
    }
    return record;
  }

  private async withFile<T>(name: string, use: (file: OpenedFile) => Promise<T>): Promise<T> {
    const file = await this.host.catalog.open(this.record(name));
    try {
      return await use(file);
    } finally {
      await file.fh.close();
    }
  }

  private answerStat(req: StatMessage): Promise<void> {
    return this.withFile(req.name, async (file) => {
      const hashes = await this.host.catalog.hashes(file);
      this.send({
        type: 'pieces',
        requestId: req.requestId,
        identity: { size: file.size, mtimeUs: file.mtimeUs, sha256: hashes.sha256 },
        pieceSize: hashes.pieceSize,
        hashes: hashes.pieces,
      });
    });
  }

  private async answerGet(req: GetMessage): Promise<void> {
    const slot = `${this.sessionKey}\0${req.name}`;
    if (!this.host.claimFileSlot(slot)) {
      throw new LimitError(
        `At most ${this.host.limits.maxDataConnectionsPerClientFile} connections may fetch one file at once.`,
      );
    }
    try {
      if (req.length <= SMALL_READ_BYTES && !this.pacer && (await this.answerSmallGet(req))) return;
      await this.withFile(req.name, async (file) => {
        checkGet(req, file, await this.host.catalog.hashes(file));
        this.send({ type: 'data', requestId: req.requestId, offset: req.offset, length: req.length });
        this.streaming = true;
        try {
          await sendRange(this.socket, file.fh, req.offset, req.length, this.readBuffers, this.pacer);
        } catch (err) {
          throw new MidStreamError(toXferError(err));
        } finally {
          this.streaming = false;
        }
        // The bytes are sent; if the file changed meanwhile, say so, so the client discards them.
        const after = await file.fh.stat({ bigint: true });
        if (!sameVersion(after, file)) {
          throw changed(req.name);
        }
        this.host.log({
          level: 'debug',
          message: `${this.peer} sent "${printableName(req.name)}" ${req.offset}+${req.length}`,
        });
      });
    } finally {
      this.host.releaseFileSlot(slot);
    }
  }

  /**
   * A small range (most GETs of a many-small-files run) is read whole,
   * synchronously, and sent header and bytes in one write. Returns false,
   * having sent nothing, while the file's hashes are still being computed:
   * the general path then waits for them.
   */
  private async answerSmallGet(req: GetMessage): Promise<boolean> {
    const read = this.host.catalog.readSmall(this.record(req.name), req.offset, req.length);
    const hashes = this.host.catalog.hashesIfReady(read.file);
    if (!hashes) return false;
    checkGet(req, read.file, hashes);
    if (read.changedMeanwhile || read.bytes.length !== req.length) throw changed(req.name);
    this.socket.cork();
    this.send({ type: 'data', requestId: req.requestId, offset: req.offset, length: req.length });
    const flushed = this.socket.write(read.bytes);
    this.socket.uncork();
    // Pipelined GETs are answered at once, so a client that does not read must still hold us back.
    if (!flushed) await drained(this.socket);
    return true;
  }
}

/** A failure after the DATA header went out: the raw stream is broken. */
class MidStreamError extends Error {
  constructor(override readonly cause: XferError) {
    super(cause.message, { cause });
  }
}

/** The verdicts a request is answered with; any other failure cuts the connection. */
const REQUEST_VERDICTS: ReadonlySet<XferErrorCode> = new Set([
  'ERR_XFER_NOT_FOUND',
  'ERR_XFER_RANGE',
  'ERR_XFER_CHANGED',
  'ERR_XFER_LIMIT',
]);

/** A GET must name the version the server has, and a range inside it. */
function checkGet(req: GetMessage, file: FileVersion, hashes: FileHashes): void {
  const { expect } = req;
  if (file.size !== expect.size || file.mtimeUs !== expect.mtimeUs || !hashes.sha256.equals(expect.sha256)) {
    throw changed(req.name);
  }
  if (req.offset + req.length > file.size) {
    throw new RangeOutsideFileError(
      `Bytes ${req.offset}..${req.offset + req.length} lie past the end of "${printableName(req.name)}" (${file.size} bytes).`,
    );
  }
}

function changed(name: string): FileChangedError {
  return new FileChangedError(
    `"${printableName(name)}" changed on the server since it was listed; fetch it again.`,
  );
}
