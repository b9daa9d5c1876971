import { randomBytes } from 'node:crypto';
import type { Socket } from 'node:net';
import type { XferError, XferErrorCode } from '../errors.js';
import {
  AuthError,
  FileChangedError,
  LimitError,
  NotFoundError,
  RangeOutsideFileError,
  RateLimitError,
  TimeoutError,
  UnexpectedFrameError,
  toXferError,
} from '../errors.js';
import {
  FEATURE_AUTH,
  FrameDecoder,
  MAX_FRAME_SIZE,
  NONCE_SIZE,
  authProof,
  catalogEntryWireSize,
  encode,
  encodePreamble,
  printableName,
  proofMatches,
  type CatalogEntry,
  type ClientMessage,
  type GetMessage,
  type Message,
  type ServerMessage,
  type StatMessage,
} from '../protocol/index.js';
import type { Catalog, FileRecord, FileVersion, OpenedFile } from './catalog.js';
import type { FileHashes } from './hasher.js';
import type { ServerLimits } from './limits.js';
import { Pacer, READ_SIZE, ReadBuffers, drained, sendRange } from './range-sender.js';

export interface ServerLog {
  level: 'debug' | 'info' | 'warn' | 'error';
  message: string;
}

/** GETs up to one read buffer are read whole and sent in one write (Catalog.readSmall). */
const SMALL_READ_BYTES = READ_SIZE;

/** What a connection needs from the server that owns it. */
export interface ConnectionHost {
  readonly catalog: Catalog;
  readonly limits: ServerLimits;
  readonly token: string | undefined;
  log(entry: ServerLog): void;
  /** Claims one of the client's data-connection slots for a file; false when all are taken. */
  claimFileSlot(key: string): boolean;
  releaseFileSlot(key: string): void;
  authFailed(ip: string): void;
}

type Phase = 'hello' | 'auth' | 'ready' | 'closed';
type Request = Extract<ClientMessage, { requestId: number }>;

/** One client connection: handshake, then requests answered strictly in order. */
export class ServerConnection {
  private phase: Phase = 'hello';
  private readonly decoder: FrameDecoder;
  private readonly queue: Request[] = [];
  private busy = false;
  /** Between a DATA header and its last raw byte no frame may be interleaved. */
  private streaming = false;
  private draining = false;
  private paused = false;
  private sessionKey = '';
  private clientNonce: Buffer = Buffer.alloc(0);
  private serverNonce: Buffer = Buffer.alloc(0);
  private tokens: number;
  private lastRefill = Date.now();
  private readonly handshakeTimer: NodeJS.Timeout;
  private readonly pacer: Pacer | undefined;
  private readonly readBuffers = new ReadBuffers();
  readonly peer: string;

  constructor(
    private readonly socket: Socket,
    private readonly host: ConnectionHost,
  ) {
    this.peer = `${socket.remoteAddress ?? '?'}:${socket.remotePort ?? '?'}`;
    this.tokens = host.limits.requestBurst;
    const rate = host.limits.bytesPerSecondPerConnection;
    this.pacer = rate > 0 ? new Pacer(rate) : undefined;
    this.decoder = new FrameDecoder(
      { peer: 'client', maxFrameSize: host.limits.maxClientFrameBytes },
      {
        preamble: () => undefined,
        message: (msg) => this.onMessage(msg),
        data: () => undefined, // clients send no DATA: the decoder refuses the frame type
        dataEnd: () => undefined,
        error: (err) => this.fail(err),
      },
    );
    // An absolute deadline: a peer dripping one byte at a time cannot stretch it.
    this.handshakeTimer = setTimeout(
      () => this.fail(new TimeoutError('The handshake did not finish in time.')),
      host.limits.handshakeTimeoutMs,
    );
    socket.setNoDelay(true);
    socket.setTimeout(host.limits.idleTimeoutMs, () =>
      this.fail(new TimeoutError('The connection was idle for too long.')),
    );
    socket.on('data', (chunk: Buffer) => this.decoder.push(chunk));
    socket.on('error', () => undefined); // 'close' follows; resets are routine
    socket.on('close', () => this.onClose());
    socket.write(encodePreamble(host.token ? FEATURE_AUTH : 0));
  }

  get idle(): boolean {
    return !this.busy && this.queue.length === 0;
  }

  /** Graceful shutdown: finish the request in progress, answer nothing more, then close. */
  drain(): void {
    this.draining = true;
    this.queue.length = 0;
    if (!this.busy) this.socket.end();
  }

  destroy(): void {
    this.socket.destroy();
  }

  private onMessage(msg: Message): void {
    try {
      if (this.phase === 'hello' && msg.type === 'hello') return this.onHello(msg.sessionId, msg.clientNonce);
      if (this.phase === 'auth' && msg.type === 'auth') return this.onAuth(msg.clientProof);
      if (this.phase === 'ready' && (msg.type === 'list' || msg.type === 'stat' || msg.type === 'get')) {
        return this.enqueue(msg);
      }
      throw new UnexpectedFrameError(`A ${msg.type} frame is not allowed during ${this.phase}.`);
    } catch (err) {
      this.fail(toXferError(err));
    }
  }

  private onHello(sessionId: Buffer, clientNonce: Buffer): void {
    this.sessionKey = `${this.socket.remoteAddress ?? ''}/${sessionId.toString('hex')}`;
    this.clientNonce = clientNonce;
    this.serverNonce = randomBytes(NONCE_SIZE);
    const token = this.host.token;
    this.send({ type: 'welcome', serverNonce: this.serverNonce, authRequired: token !== undefined });
    if (token) this.phase = 'auth';
    else this.becomeReady();
  }

  /**
   * The client proves first; only then does the server send its own proof, so
   * nobody can collect server proofs (for an offline guess at the token)
   * without spending a counted, rate-limited failed attempt.
   */
  private onAuth(clientProof: Buffer): void {
    const token = this.host.token ?? '';
    const expected = authProof(token, 'client', this.clientNonce, this.serverNonce);
    if (!proofMatches(expected, clientProof)) {
      this.host.authFailed(this.socket.remoteAddress ?? '');
      throw new AuthError('Authentication failed: the token does not match the server’s.');
    }
    this.send({
      type: 'auth-ok',
      serverProof: authProof(token, 'server', this.clientNonce, this.serverNonce),
    });
    this.becomeReady();
  }

  private becomeReady(): void {
    clearTimeout(this.handshakeTimer);
    this.phase = 'ready';
    this.host.log({ level: 'debug', message: `${this.peer} connected` });
  }

  private enqueue(req: Request): void {
    if (!this.takeToken()) {
      throw new RateLimitError('Too many requests on one connection; closing it.');
    }
    if (this.draining) return;
    this.queue.push(req);
    // Backpressure on requests: stop reading a client that pipelines faster than we answer.
    if (this.queue.length >= this.host.limits.maxQueuedRequests && !this.paused) {
      this.paused = true;
      this.socket.pause();
    }
    void this.processQueue();
  }

  private takeToken(): boolean {
    const now = Date.now();
    const { requestsPerSecond, requestBurst } = this.host.limits;
    this.tokens = Math.min(requestBurst, this.tokens + ((now - this.lastRefill) / 1000) * requestsPerSecond);
    this.lastRefill = now;
    if (this.tokens < 1) return false;
    this.tokens -= 1;
    return true;
  }

  private async processQueue(): Promise<void> {
    if (this.busy) return;
    this.busy = true;
    try {
      for (let req = this.queue.shift(); req && this.phase === 'ready'; req = this.queue.shift()) {
        if (this.paused && this.queue.length < this.host.limits.maxQueuedRequests / 2) {
          this.paused = false;
          this.socket.resume();
        }
        await this.answer(req);
      }
    } finally {
      this.busy = false;
    }
    if (this.draining) this.socket.end();
  }

  private async answer(req: Request): Promise<void> {
    try {
      if (req.type === 'list') this.sendCatalog(req.requestId, this.host.catalog.entries());
      else if (req.type === 'stat') await this.answerStat(req);
      else await this.answerGet(req);
    } catch (err) {
      const error = toXferError(err instanceof MidStreamError ? err.cause : err);
      if (err instanceof MidStreamError || !REQUEST_VERDICTS.has(error.code)) {
        // Once raw bytes have started, or on an unexpected failure, the stream
        // can no longer be trusted: cut the connection, the client retries.
        this.host.log({ level: 'warn', message: `${this.peer} request failed: ${error.message}` });
        this.socket.destroy();
        return;
      }
      this.send({ type: 'error', requestId: req.requestId, code: error.code, message: error.message });
    }
  }

  private sendCatalog(requestId: number, entries: CatalogEntry[]): void {
    // Split long catalogs so that no frame exceeds the limit the client enforces.
    const budget = MAX_FRAME_SIZE - 64;
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
        if (Number(after.size) !== file.size || Number(after.mtimeNs / 1000n) !== file.mtimeUs) {
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

  private send(msg: ServerMessage): void {
    if (!this.socket.destroyed && !this.socket.writableEnded) this.socket.write(encode(msg));
  }

  /** Tells the peer why (when the stream is still coherent), then closes. */
  private fail(err: XferError): void {
    if (this.phase === 'closed') return;
    const wasReady = this.phase === 'ready';
    this.phase = 'closed';
    clearTimeout(this.handshakeTimer);
    this.host.log({
      level: wasReady ? 'info' : 'debug',
      message: `${this.peer} closed: ${err.code} ${err.message}`,
    });
    if (!this.streaming) this.send({ type: 'error', requestId: 0, code: err.code, message: err.message });
    this.socket.end();
    // end() waits for the peer; a hostile one may never answer.
    setTimeout(() => this.socket.destroy(), 1000).unref();
  }

  private onClose(): void {
    this.phase = 'closed';
    clearTimeout(this.handshakeTimer);
    this.queue.length = 0;
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
