import { randomBytes } from 'node:crypto';
import type { Socket } from 'node:net';
import {
  AuthError,
  RateLimitError,
  TimeoutError,
  UnexpectedFrameError,
  toXferError,
  type XferError,
} from '../errors.js';
import {
  FEATURE_AUTH,
  FrameDecoder,
  NONCE_SIZE,
  authProof,
  encodePreamble,
  proofMatches,
  type Message,
} from '../protocol/index.js';
import type { Refusal, Ticket } from './admission.js';
import { Answers, type ConnectionHost, type Request } from './answers.js';
import { TokenBucket } from './token-bucket.js';

export type { ConnectionHost } from './answers.js';

/**
 * After a failure is told to the peer, end() waits for the peer to close its
 * side; a hostile peer may never do so, so the socket is destroyed after this.
 */
export const FAILED_CLOSE_LINGER_MS = 1_000;

type Phase = 'hello' | 'auth' | 'ready' | 'closed';

/**
 * One admitted client connection, through its phases: HELLO, then AUTH when
 * the server has a token, then requests answered strictly in order, then
 * closed (by the peer, a failure, admission taking the place back, or
 * shutdown). It tells its admission ticket when it works and when it idles.
 */
export class ServerConnection {
  private phase: Phase = 'hello';
  private readonly decoder: FrameDecoder;
  private readonly queue: Request[] = [];
  private busy = false;
  private draining = false;
  private paused = false;
  private clientNonce: Buffer = Buffer.alloc(0);
  private serverNonce: Buffer = Buffer.alloc(0);
  private readonly bucket: TokenBucket;
  private readonly handshakeTimer: NodeJS.Timeout;
  private readonly answers: Answers;
  readonly peer: string;

  constructor(
    private readonly socket: Socket,
    private readonly host: ConnectionHost,
    private readonly ticket: Ticket,
  ) {
    this.peer = `${ticket.address}:${ticket.port ?? '?'}`;
    this.answers = new Answers(socket, host, this.peer);
    this.bucket = new TokenBucket(host.limits.requestsPerSecond, host.limits.requestBurst, Date.now());
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

  /** Graceful shutdown: finish the request in progress, answer nothing more, then close. */
  drain(): void {
    this.draining = true;
    this.queue.length = 0;
    if (!this.busy) this.socket.end();
  }

  destroy(): void {
    this.socket.destroy();
  }

  /**
   * Admission took this connection's place back (evicted to make room, or its
   * address locked out): say why if the stream allows, and close at once.
   */
  dismiss(refusal: Refusal): void {
    if (this.phase === 'closed') return this.destroy();
    this.phase = 'closed';
    clearTimeout(this.handshakeTimer);
    this.queue.length = 0;
    if (!this.answers.streaming) this.answers.send({ type: 'error', requestId: 0, ...refusal });
    this.host.log({ level: 'debug', message: `${this.peer} dismissed: ${refusal.code} ${refusal.message}` });
    this.destroy();
  }

  private onMessage(msg: Message): void {
    try {
      if (this.phase === 'hello' && msg.type === 'hello') return this.onHello(msg.sessionId, msg.clientNonce);
      if (this.phase === 'auth' && msg.type === 'auth') return this.onAuth(msg.clientProof);
      if (this.phase === 'ready' && (msg.type === 'list' || msg.type === 'stat' || msg.type === 'get')) {
        return this.enqueue(msg);
      }
      if (this.phase === 'closed') return; // frames already buffered when the connection was closed
      throw new UnexpectedFrameError(`A ${msg.type} frame is not allowed during ${this.phase}.`);
    } catch (err) {
      this.fail(toXferError(err));
    }
  }

  private onHello(sessionId: Buffer, clientNonce: Buffer): void {
    this.answers.sessionKey = `${this.ticket.group}/${sessionId.toString('hex')}`;
    this.clientNonce = clientNonce;
    this.serverNonce = randomBytes(NONCE_SIZE);
    const token = this.host.token;
    this.answers.send({ type: 'welcome', serverNonce: this.serverNonce, authRequired: token !== undefined });
    if (token) this.phase = 'auth';
    else this.becomeReady();
  }

  /**
   * The client proves first; only then does the server send its own proof, so
   * nobody can collect server proofs (for an offline guess at the token)
   * without spending a counted failed attempt. Guesses are counted per
   * address group across all its connections; at the limit every one of them
   * is closed, and even a right proof is refused until the window passes.
   */
  private onAuth(clientProof: Buffer): void {
    if (this.ticket.lockedOut) throw lockedOut();
    const token = this.host.token ?? '';
    const expected = authProof(token, 'client', this.clientNonce, this.serverNonce);
    if (!proofMatches(expected, clientProof)) {
      const address = this.ticket.address;
      if (this.ticket.authFailed()) {
        this.host.log(
          { level: 'warn', message: `authentication failed from ${address}; the address is locked out` },
          'auth-lockout',
        );
      } else {
        this.host.log({ level: 'warn', message: `authentication failed from ${address}` }, 'auth-failed');
      }
      throw new AuthError('Authentication failed: the token does not match the server’s.');
    }
    this.answers.send({
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
    if (!this.bucket.take(Date.now())) {
      throw new RateLimitError('Too many requests on one connection; closing it.');
    }
    if (this.draining) return;
    this.ticket.active();
    this.queue.push(req);
    // Backpressure on requests: stop reading a client that pipelines faster than we answer.
    if (this.queue.length >= this.host.limits.maxQueuedRequests && !this.paused) {
      this.paused = true;
      this.socket.pause();
    }
    void this.processQueue();
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
        await this.answers.answer(req);
      }
    } finally {
      this.busy = false;
    }
    this.ticket.idle();
    if (this.draining) this.socket.end();
  }

  /** Tells the peer why (when the stream is still coherent), then closes. */
  private fail(err: XferError): void {
    if (this.phase === 'closed') return;
    const wasReady = this.phase === 'ready';
    this.phase = 'closed';
    clearTimeout(this.handshakeTimer);
    this.ticket.closing();
    this.host.log(
      { level: wasReady ? 'info' : 'debug', message: `${this.peer} closed: ${err.code} ${err.message}` },
      wasReady ? 'connection-failed' : undefined,
    );
    if (!this.answers.streaming)
      this.answers.send({ type: 'error', requestId: 0, code: err.code, message: err.message });
    this.socket.end();
    setTimeout(() => this.socket.destroy(), FAILED_CLOSE_LINGER_MS).unref();
  }

  private onClose(): void {
    this.phase = 'closed';
    clearTimeout(this.handshakeTimer);
    this.queue.length = 0;
    this.ticket.release();
  }
}

function lockedOut(): AuthError {
  return new AuthError('Too many failed authentications from this address; it is locked out for a minute.');
}
