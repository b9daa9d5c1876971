import {
  STATUS_CODES,
  createServer,
  type IncomingMessage,
  type Server,
  type ServerResponse,
} from 'node:http';
import type { Socket } from 'node:net';
import { RateLimitError } from '../../errors.js';
import type { Catalog } from '../catalog.js';
import type { ServerLog } from '../server.js';
import type { ServerLimits } from '../limits.js';
import type { Pacer } from '../range-sender.js';
import { HttpRefusal, HttpRoutes, type ConnectionTicket } from './routes.js';

/** The HTTP face's own limits (docs/http.md), beside the server's shared ServerLimits. */
export interface HttpLimits {
  /** Request line + headers, in bytes: more gets 431. */
  maxHeaderBytes: number;
  /** Header lines kept per request; node:http drops the rest. */
  maxHeadersCount: number;
  /** From a request's first byte to the end of its headers (slowloris): 408 and close. */
  headersTimeoutMs: number;
  /** An idle keep-alive connection is closed after this. */
  keepAliveTimeoutMs: number;
}

export const DEFAULT_HTTP_LIMITS: HttpLimits = {
  maxHeaderBytes: 16 * 1024,
  maxHeadersCount: 100,
  headersTimeoutMs: 10_000,
  keepAliveTimeoutMs: 5_000,
};

/** What the face needs from the server that owns the port. */
export interface HttpHost {
  readonly catalog: Catalog;
  readonly limits: ServerLimits;
  /** The server-wide send cap shared with the xfer protocol's connections (`limits.bytesPerSecondTotal`), if any. */
  readonly totalPacer: Pacer | undefined;
  log(entry: ServerLog): void;
}

export interface HttpFaceOptions {
  /** Set only over TLS: a bearer token never crosses the wire in clear. */
  token?: string;
  tls: boolean;
  limits?: Partial<HttpLimits>;
}

/** Per connection: requests are answered one at a time, in order, within a request budget. */
interface ConnectionState {
  ticket: ConnectionTicket;
  queue: Promise<void>;
  pending: number;
  tokens: number;
  lastRefill: number;
}

/**
 * HTTP/1.1 on the xfer port: sockets the server has admitted and sniffed as
 * HTTP are handed to a node:http server that never listens itself, with header
 * size, count and time limits, keep-alive idle timeout, a request budget per
 * connection, and pipelined requests answered one at a time, in order.
 */
export class HttpFace {
  private readonly http: Server;
  private readonly routes: HttpRoutes;
  private readonly states = new WeakMap<Socket, ConnectionState>();
  private draining = false;

  constructor(
    private readonly host: HttpHost,
    options: HttpFaceOptions,
  ) {
    const limits = { ...DEFAULT_HTTP_LIMITS, ...options.limits };
    this.routes = new HttpRoutes(
      {
        catalog: host.catalog,
        bytesPerSecond: host.limits.bytesPerSecondPerConnection,
        totalPacer: host.totalPacer,
        log: (entry) => host.log(entry),
      },
      { tls: options.tls, ...(options.token !== undefined ? { token: options.token } : {}) },
    );
    this.http = createServer(
      {
        maxHeaderSize: limits.maxHeaderBytes,
        headersTimeout: limits.headersTimeoutMs,
        requestTimeout: 0,
        keepAliveTimeout: limits.keepAliveTimeoutMs,
        connectionsCheckingInterval: Math.min(1_000, limits.headersTimeoutMs / 2),
        // Plain GETs and HEADs only: lenient parsing would only help request smuggling.
        insecureHTTPParser: false,
      },
      (req, res) => this.onRequest(req, res),
    );
    this.http.maxHeadersCount = limits.maxHeadersCount;
    this.http.on('clientError', (err: NodeJS.ErrnoException, socket: Socket) =>
      this.onClientError(err, socket),
    );
    // node:http starts its connection list and header deadline checks on 'listening'; this
    // server never listens (the xfer server accepts and hands sockets over), so start them here.
    this.http.emit('listening');
  }

  /** Takes an admitted socket whose first bytes (put back) are an HTTP request. */
  accept(socket: Socket, ticket: ConnectionTicket): void {
    const state = {
      ticket,
      queue: Promise.resolve(),
      pending: 0,
      tokens: this.host.limits.requestBurst,
      lastRefill: Date.now(),
    };
    this.states.set(socket, state);
    this.http.emit('connection', socket);
    socket.resume();
  }

  /** Graceful shutdown: idle keep-alive connections close now, busy ones after their response. */
  drain(): void {
    this.draining = true;
    this.http.closeIdleConnections();
  }

  /** Stops node:http's periodic connection check (the sockets are closed by the server). */
  stop(): void {
    this.http.close(() => undefined);
  }

  private onRequest(req: IncomingMessage, res: ServerResponse): void {
    const socket = req.socket;
    const state = this.states.get(socket);
    if (!state) return void res.destroy();
    if (this.draining) res.setHeader('Connection', 'close');
    if (!this.takeToken(state)) {
      const error = new RateLimitError('Too many requests on one connection; closing it.');
      this.routes.refuse(req, res, state.ticket.address, new HttpRefusal(429, error));
      return;
    }
    // Pipelined requests are parsed ahead; answer them one at a time, and stop
    // reading a client that sends faster than it reads.
    state.pending++;
    if (state.pending >= this.host.limits.maxQueuedRequests) socket.pause();
    state.queue = state.queue.then(async () => {
      if (!res.destroyed) {
        const gone = new Promise((resolve) => res.once('close', resolve));
        state.ticket.active();
        await this.routes.answer(req, res, state.ticket);
        // The next pipelined answer starts only when this one has left.
        if (!res.writableFinished) await gone;
      }
      state.pending--;
      if (state.pending === 0) state.ticket.idle();
      if (state.pending < this.host.limits.maxQueuedRequests / 2 && socket.isPaused()) socket.resume();
    });
  }

  /**
   * What node:http could not parse or waited too long for: a status line when
   * no response is under way on that socket (writing one into the middle of a
   * pipelined answer would corrupt it), then the connection closes.
   */
  private onClientError(err: NodeJS.ErrnoException, socket: Socket): void {
    if (err.code === 'ECONNRESET' || err.code === 'EPIPE' || !socket.writable) {
      socket.destroy();
      return;
    }
    const status =
      err.code === 'HPE_HEADER_OVERFLOW' ? 431 : err.code === 'ERR_HTTP_REQUEST_TIMEOUT' ? 408 : 400;
    this.host.log({
      level: 'debug',
      message: `${this.states.get(socket)?.ticket.address ?? socket.remoteAddress ?? '?'} bad HTTP request (${status}): ${err.code ?? 'unknown'}`,
    });
    // node:http keeps the response being written in _httpMessage (null between responses).
    const answering = Boolean((socket as Socket & { _httpMessage?: unknown })._httpMessage);
    if (!answering) {
      socket.write(
        `HTTP/1.1 ${status} ${STATUS_CODES[status] ?? ''}\r\nConnection: close\r\nContent-Length: 0\r\n\r\n`,
      );
    }
    socket.destroySoon();
    // destroySoon() waits for the peer to read; a hostile one may never do so.
    setTimeout(() => socket.destroy(), 1_000).unref();
  }

  private takeToken(state: ConnectionState): boolean {
    const now = Date.now();
    const { requestsPerSecond, requestBurst } = this.host.limits;
    state.tokens = Math.min(
      requestBurst,
      state.tokens + ((now - state.lastRefill) / 1000) * requestsPerSecond,
    );
    state.lastRefill = now;
    if (state.tokens < 1) return false;
    state.tokens -= 1;
    return true;
  }
}
