import type { Socket } from 'node:net';
import {
  AbortedError,
  CatalogTimeoutError,
  ConnectError,
  ConnectionClosedError,
  StalledError,
  TimeoutError,
  UnexpectedFrameError,
  errorFromCode,
  toXferError,
  type XferError,
} from '../errors.js';
import {
  DEFAULT_STALL_TIMEOUT_MS,
  FrameDecoder,
  encode,
  type CatalogEntry,
  type ClientMessage,
  type Message,
  type PiecesMessage,
} from '../protocol/index.js';
import { formatAddress } from './address.js';
import { CatalogCollector } from './catalog-bounds.js';
import { ClientHandshake } from './handshake.js';
import type { ConnectOptions, GetRequest, NewRequest, Pending } from './requests.js';
import { closedInHandshake, openSocket, socketError, wrongPeer, type Phase } from './transport.js';

export type { ConnectOptions, GetRequest } from './requests.js';

const DEFAULT_CONNECT_TIMEOUT_MS = 10_000;
/** As the server's own handshake deadline (docs/protocol.md §4). */
const DEFAULT_HANDSHAKE_TIMEOUT_MS = 5_000;
const DEFAULT_LIST_TIMEOUT_MS = 60_000;
/** How many of the peer's first bytes are kept to say what it is when it is not an xfer server. */
const FIRST_BYTES_KEPT = 8;

/**
 * One connection to an xfer server. Requests may be pipelined: each is sent at
 * once, and the server answers strictly in order, so answers match the queue head.
 */
export class ClientConnection {
  private readonly pending: Pending[] = [];
  private readonly decoder: FrameDecoder;
  private readonly socket: Socket;
  private readonly where: string;
  private nextId = 1;
  private phase: Phase = 'connecting';
  private failure: XferError | undefined;
  private firstBytes = Buffer.alloc(0);
  private readonly handshake: ClientHandshake;
  private ready: { resolve(): void; reject(err: XferError): void } | undefined;
  private phaseTimer: NodeJS.Timeout | undefined;
  private listTimer: NodeJS.Timeout | undefined;
  /** Recently finished GETs, so a CHANGED error that trails their bytes still reaches them. */
  private readonly finishedGets = new Map<number, GetRequest>();
  private readonly onCloseHooks: ((err: XferError) => void)[] = [];
  private readonly onAbort = () => this.fail(new AbortedError('Stopped on request.'));

  private constructor(private readonly options: ConnectOptions) {
    this.where = formatAddress(options);
    this.handshake = new ClientHandshake(options.token, this.where);
    this.decoder = new FrameDecoder(
      { peer: 'server' },
      {
        preamble: () => undefined,
        message: (msg) => this.onMessage(msg),
        data: (chunk) => this.onData(chunk),
        dataEnd: () => this.onDataEnd(),
        error: (err) =>
          this.fail(this.phase === 'handshake' ? wrongPeer(this.firstBytes, this.where, err) : err),
      },
    );
    this.socket = openSocket(options, (chunk) => this.onBytes(chunk));
  }

  /** Connects and completes the handshake (mutual authentication when a token is given). */
  static async open(options: ConnectOptions): Promise<ClientConnection> {
    const conn = new ClientConnection(options);
    await conn.start();
    return conn;
  }

  onClose(hook: (err: XferError) => void): void {
    this.onCloseHooks.push(hook);
  }

  list(): Promise<CatalogEntry[]> {
    return new Promise((resolve, reject) => {
      if (this.pending.every((p) => p.kind !== 'list')) this.startListDeadline();
      this.send(
        { type: 'list', requestId: 0 },
        { kind: 'list', catalog: new CatalogCollector(this.where), resolve, reject },
      );
    });
  }

  stat(name: string): Promise<PiecesMessage> {
    return new Promise((resolve, reject) =>
      this.send({ type: 'stat', requestId: 0, name }, { kind: 'stat', resolve, reject }),
    );
  }

  get(req: GetRequest): Promise<void> {
    const { name, offset, length, expect } = req;
    return new Promise((resolve, reject) =>
      this.send(
        { type: 'get', requestId: 0, name, offset, length, expect },
        { kind: 'get', get: req, received: 0, resolve, reject },
      ),
    );
  }

  close(): void {
    this.fail(new ConnectionClosedError('The connection was closed by the client.'));
  }

  private start(): Promise<void> {
    const { signal, tls } = this.options;
    const ready = new Promise<void>((resolve, reject) => (this.ready = { resolve, reject }));
    if (signal?.aborted) this.onAbort();
    else signal?.addEventListener('abort', this.onAbort, { once: true });
    this.armPhaseTimer(this.options.connectTimeoutMs ?? DEFAULT_CONNECT_TIMEOUT_MS, () =>
      this.fail(new ConnectError(`Timed out connecting to ${this.where}.`)),
    );
    this.socket.once('connect', () => this.onConnected());
    if (tls) this.socket.once('secureConnect', () => this.sendHello());
    this.socket.on('error', (err: NodeJS.ErrnoException) =>
      this.fail(socketError(err, this.where, this.phase, tls !== undefined)),
    );
    this.socket.on('close', () => void this.onSocketClose());
    const stallMs = this.options.stallTimeoutMs ?? DEFAULT_STALL_TIMEOUT_MS;
    this.socket.setTimeout(stallMs, () => {
      if (this.pending.length === 0) return;
      this.fail(new StalledError(`No data from ${this.where} for ${stallMs / 1000} s.`));
    });
    return ready;
  }

  /** TCP is up: from here the handshake deadline runs, whatever the peer does or does not send. */
  private onConnected(): void {
    this.phase = 'handshake';
    const ms = this.options.handshakeTimeoutMs ?? DEFAULT_HANDSHAKE_TIMEOUT_MS;
    this.armPhaseTimer(ms, () =>
      this.fail(
        new TimeoutError(
          `${this.where} accepted the connection but did not complete the xfer handshake within ${ms / 1000} s.`,
        ),
      ),
    );
    this.socket.setNoDelay(true);
    if (!this.options.tls) this.sendHello();
  }

  private sendHello(): void {
    this.socket.write(this.handshake.hello(this.options.sessionId));
  }

  private armPhaseTimer(ms: number, onTimeout: () => void): void {
    clearTimeout(this.phaseTimer);
    this.phaseTimer = setTimeout(onTimeout, ms);
  }

  private async onSocketClose(): Promise<void> {
    if (this.phase !== 'handshake' || this.failure) {
      return this.fail(new ConnectionClosedError(`The connection to ${this.where} closed.`));
    }
    const ms = this.options.handshakeTimeoutMs ?? DEFAULT_HANDSHAKE_TIMEOUT_MS;
    this.fail(await closedInHandshake(this.options, this.firstBytes.length > 0, ms));
  }

  private handshakeDone(): void {
    this.phase = 'ready';
    clearTimeout(this.phaseTimer);
    this.ready?.resolve();
    this.ready = undefined;
  }

  private startListDeadline(): void {
    const ms = this.options.listTimeoutMs ?? DEFAULT_LIST_TIMEOUT_MS;
    clearTimeout(this.listTimer);
    this.listTimer = setTimeout(
      () =>
        this.fail(
          new CatalogTimeoutError(`${this.where} did not finish sending its catalog within ${ms / 1000} s.`),
        ),
      ms,
    );
  }

  private send(msg: ClientMessage & { requestId: number }, pending: NewRequest): void {
    if (this.failure) return pending.reject(this.failure);
    const p: Pending = { ...pending, requestId: this.nextId++ };
    msg.requestId = p.requestId;
    this.pending.push(p);
    this.socket.write(encode(msg));
  }

  private onBytes(chunk: Buffer): void {
    if (this.phase === 'handshake' && this.firstBytes.length < FIRST_BYTES_KEPT) {
      this.firstBytes = Buffer.concat([this.firstBytes, chunk.subarray(0, FIRST_BYTES_KEPT)]);
    }
    this.decoder.push(chunk);
  }

  private onMessage(msg: Message): void {
    if ((msg.type === 'welcome' || msg.type === 'auth-ok') && this.phase === 'handshake') {
      return this.onHandshakeFrame(msg);
    }
    if (msg.type === 'error') return this.onErrorFrame(msg.requestId, msg.code, msg.message);
    const head = this.pending[0];
    if (this.phase !== 'ready' || !head || !('requestId' in msg) || msg.requestId !== head.requestId) {
      return this.fail(new UnexpectedFrameError(`The server sent an unexpected ${msg.type} frame.`));
    }
    if (msg.type === 'catalog' && head.kind === 'list') return this.onCatalog(head, msg.more, msg.entries);
    if (msg.type === 'pieces' && head.kind === 'stat') return this.settle(() => head.resolve(msg));
    if (msg.type === 'data' && head.kind === 'get') {
      // Exactly the range asked for, never more: a server cannot make us write elsewhere.
      if (msg.offset === head.get.offset && msg.length === head.get.length) return;
      return this.fail(
        new UnexpectedFrameError(
          `The server answered bytes ${msg.offset}+${msg.length} for a request of ${head.get.offset}+${head.get.length}.`,
        ),
      );
    }
    this.fail(new UnexpectedFrameError(`The server sent a ${msg.type} frame in answer to a ${head.kind}.`));
  }

  /** One CATALOG frame: counted against the bounds before its entries are kept. */
  private onCatalog(head: Extract<Pending, { kind: 'list' }>, more: boolean, entries: CatalogEntry[]): void {
    let complete: boolean;
    try {
      complete = head.catalog.add(more, entries);
    } catch (err) {
      return this.fail(toXferError(err));
    }
    if (!complete) return;
    this.settle(() => head.resolve(head.catalog.entries));
    if (this.pending.some((p) => p.kind === 'list')) this.startListDeadline();
    else clearTimeout(this.listTimer);
  }

  private onHandshakeFrame(msg: Extract<Message, { type: 'welcome' | 'auth-ok' }>): void {
    try {
      if (msg.type === 'auth-ok') {
        this.handshake.onAuthOk(msg.serverProof);
        return this.handshakeDone();
      }
      const auth = this.handshake.onWelcome(msg.authRequired, msg.serverNonce);
      if (auth) this.socket.write(auth);
      else this.handshakeDone();
    } catch (err) {
      this.fail(toXferError(err));
    }
  }

  private onData(chunk: Buffer): void {
    const head = this.pending[0];
    if (head?.kind !== 'get') return;
    const position = head.get.offset + head.received;
    head.received += chunk.length;
    head.get.onChunk(chunk, position);
  }

  private onDataEnd(): void {
    const head = this.pending[0];
    if (head?.kind !== 'get') return;
    this.finishedGets.set(head.requestId, head.get);
    if (this.finishedGets.size > 16)
      this.finishedGets.delete(this.finishedGets.keys().next().value as number);
    this.settle(() => head.resolve());
  }

  private onErrorFrame(requestId: number, code: string, message: string): void {
    const err = errorFromCode(code, message);
    if (requestId === 0) return this.fail(err);
    const late = this.finishedGets.get(requestId);
    if (late) return late.onLateError?.(err);
    const head = this.pending[0];
    if (!head || head.requestId !== requestId) {
      return this.fail(
        new UnexpectedFrameError(`The server sent an error for unknown request ${requestId}.`),
      );
    }
    this.settle(() => head.reject(err));
  }

  /** The head request is answered: off the queue, then told. */
  private settle(answer: () => void): void {
    this.pending.shift();
    answer();
  }

  private fail(err: XferError): void {
    if (this.failure) return;
    this.failure = err;
    clearTimeout(this.phaseTimer);
    clearTimeout(this.listTimer);
    this.options.signal?.removeEventListener('abort', this.onAbort);
    this.socket.destroy();
    this.ready?.reject(err);
    this.ready = undefined;
    for (const p of this.pending.splice(0)) p.reject(err);
    for (const hook of this.onCloseHooks) hook(err);
  }
}
