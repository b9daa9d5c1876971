import { createHash, timingSafeEqual } from 'node:crypto';
import {
  STATUS_CODES,
  createServer,
  type IncomingMessage,
  type Server,
  type ServerResponse,
} from 'node:http';
import type { Socket } from 'node:net';
import { XferError, toXferError, type XferErrorCode } from '../../errors.js';
import { printableName } from '../../protocol/index.js';
import type { Catalog } from '../catalog.js';
import type { ServerLog } from '../connection.js';
import type { ServerLimits } from '../limits.js';
import { renderTextList } from '../text-list.js';
import { renderIndexHtml, renderIndexJson, renderMetalink } from './documents.js';
import { sendFile, type Sent } from './file-response.js';
import { parseTarget, pathOf } from './target.js';

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
  log(entry: ServerLog): void;
  authFailed(ip: string): void;
  lockedOut(ip: string): boolean;
}

export interface HttpFaceOptions {
  /** Set only over TLS: a bearer token never crosses the wire in clear. */
  token?: string;
  tls: boolean;
  limits?: Partial<HttpLimits>;
}

/** Per connection: requests are answered one at a time, in order, within a request budget. */
interface ConnectionState {
  queue: Promise<void>;
  pending: number;
  tokens: number;
  lastRefill: number;
}

/** An HTTP failure: a status and a stable code, answered as text. */
class HttpError extends XferError {
  constructor(
    readonly status: number,
    code: XferErrorCode,
    message: string,
    readonly headers: Record<string, string> = {},
  ) {
    super(code, message);
  }
}

/**
 * HTTP/1.1 on the xfer port: sockets the server has admitted and sniffed as
 * HTTP are handed to a node:http server that never listens itself. Serves the
 * index (HTML or JSON), text.txt, each listed file and its Metalink, GET and
 * HEAD only, with the same catalog, confinement and limits as the xfer protocol.
 */
export class HttpFace {
  private readonly http: Server;
  private readonly states = new WeakMap<Socket, ConnectionState>();
  private readonly tokenDigest: Buffer | undefined;
  private draining = false;

  constructor(
    private readonly host: HttpHost,
    private readonly options: HttpFaceOptions,
  ) {
    const limits = { ...DEFAULT_HTTP_LIMITS, ...options.limits };
    this.tokenDigest = options.token === undefined ? undefined : sha256(options.token);
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
  accept(socket: Socket): void {
    this.states.set(socket, {
      queue: Promise.resolve(),
      pending: 0,
      tokens: this.host.limits.requestBurst,
      lastRefill: Date.now(),
    });
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
    if (!this.takeToken(state)) {
      this.reply(
        req,
        res,
        new HttpError(429, 'ERR_XFER_RATE_LIMIT', 'Too many requests on one connection; closing it.'),
        Date.now(),
      );
      return;
    }
    // Pipelined requests are parsed ahead; answer them one at a time, and stop
    // reading a client that sends faster than it reads.
    state.pending++;
    if (state.pending >= this.host.limits.maxQueuedRequests) socket.pause();
    state.queue = state.queue.then(async () => {
      await this.answer(req, res);
      state.pending--;
      if (state.pending < this.host.limits.maxQueuedRequests / 2 && socket.isPaused()) socket.resume();
    });
  }

  private async answer(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const started = Date.now();
    if (res.destroyed) return;
    const finished = new Promise((resolve) => res.once('close', resolve));
    try {
      if (this.draining) res.setHeader('Connection', 'close');
      const sent = await this.route(req, res);
      this.logAccess(req, sent.status, sent.bytes, started);
    } catch (err) {
      this.reply(req, res, err, started);
    }
    // The next pipelined answer starts only when this one has left.
    if (!res.writableFinished) await finished;
  }

  private async route(req: IncomingMessage, res: ServerResponse): Promise<Sent> {
    if (req.httpVersionMajor !== 1) {
      // HTTP/0.9 has no status line or headers to carry a length, a digest or an error.
      throw new HttpError(505, 'ERR_XFER_PROTOCOL', 'Only HTTP/1.0 and HTTP/1.1 are served.', {
        Connection: 'close',
      });
    }
    const method = req.method ?? '';
    if (method !== 'GET' && method !== 'HEAD') {
      throw new HttpError(
        405,
        'ERR_XFER_PROTOCOL',
        `${printableName(method)} is not served here; use GET or HEAD.`,
        { Allow: 'GET, HEAD' },
      );
    }
    if (req.headers['content-length'] !== undefined || req.headers['transfer-encoding'] !== undefined) {
      throw new HttpError(400, 'ERR_XFER_PROTOCOL', 'A GET or HEAD request must not carry a body.');
    }
    this.authorize(req);
    const target = parseTarget(req.url ?? '');
    if (target.kind === 'bad') throw new HttpError(400, 'ERR_XFER_NAME', target.reason);
    const catalog = this.host.catalog;
    if (target.kind === 'index') {
      const json = /\bapplication\/json\b/i.test(req.headers.accept ?? '');
      const entries = catalog.entries();
      return this.document(
        req,
        res,
        json ? renderIndexJson(entries) : renderIndexHtml(entries),
        json ? 'application/json' : 'text/html; charset=utf-8',
        { Vary: 'Accept', 'Content-Security-Policy': "default-src 'none'; style-src 'unsafe-inline'" },
      );
    }
    if (target.name === 'text.txt')
      return this.document(req, res, renderTextList(catalog.entries()), 'text/plain; charset=utf-8');
    const record = catalog.get(target.name);
    if (record) return sendFile(req, res, catalog, record, this.host.limits.bytesPerSecondPerConnection);
    const described = target.name.endsWith('.meta4')
      ? catalog.get(target.name.slice(0, -'.meta4'.length))
      : undefined;
    if (described) {
      const opened = await catalog.open(described);
      try {
        const hashes = await catalog.hashes(opened);
        const body = renderMetalink(
          described.name,
          opened.size,
          hashes,
          `${this.origin(req)}${pathOf(described.name)}`,
        );
        return this.document(req, res, body, 'application/metalink4+xml');
      } finally {
        await opened.fh.close();
      }
    }
    throw new HttpError(
      404,
      'ERR_XFER_NOT_FOUND',
      `The server has no file named "${printableName(target.name)}".`,
    );
  }

  /**
   * With a token, every request carries `Authorization: Bearer TOKEN`, compared
   * in constant time; a wrong one counts toward the same per-address lockout as
   * a failed xfer handshake, and a locked-out address is refused outright.
   */
  private authorize(req: IncomingMessage): void {
    if (!this.tokenDigest) return;
    const ip = req.socket.remoteAddress ?? '';
    if (this.host.lockedOut(ip)) {
      throw new HttpError(
        429,
        'ERR_XFER_AUTH',
        'Too many failed authentications from this address; wait a minute.',
        { 'Retry-After': '60', Connection: 'close' },
      );
    }
    const challenge = { 'WWW-Authenticate': 'Bearer realm="xfer"' };
    const given = /^Bearer +(\S+)\s*$/i.exec(req.headers.authorization ?? '')?.[1];
    if (given === undefined)
      throw new HttpError(
        401,
        'ERR_XFER_AUTH',
        'This server requires "Authorization: Bearer TOKEN".',
        challenge,
      );
    if (!timingSafeEqual(sha256(given), this.tokenDigest)) {
      this.host.authFailed(ip);
      throw new HttpError(401, 'ERR_XFER_AUTH', 'The bearer token does not match the server’s.', {
        ...challenge,
        Connection: 'close',
      });
    }
  }

  private document(
    req: IncomingMessage,
    res: ServerResponse,
    body: string,
    type: string,
    headers: Record<string, string> = {},
  ): Sent {
    const bytes = Buffer.from(body);
    res.writeHead(200, {
      'Content-Type': type,
      'Content-Length': bytes.length,
      'Cache-Control': 'no-cache',
      'X-Content-Type-Options': 'nosniff',
      ...headers,
    });
    res.end(req.method === 'HEAD' ? undefined : bytes);
    return { status: 200, bytes: req.method === 'HEAD' ? 0 : bytes.length };
  }

  /** A failure as a short text answer, or a cut connection once the body has started. */
  private reply(req: IncomingMessage, res: ServerResponse, err: unknown, started: number): void {
    const error = err instanceof HttpError ? err : toXferError(err);
    if (res.headersSent) {
      // A client hanging up mid-body is routine (aria2c does it on every split); a changed file is not.
      this.host.log({
        level: error.code === 'ERR_XFER_CLOSED' ? 'debug' : 'warn',
        message: `${req.socket.remoteAddress ?? '?'} HTTP response cut: ${error.message}`,
      });
      this.logAccess(req, res.statusCode, -1, started);
      res.destroy();
      return;
    }
    const status = error instanceof HttpError ? error.status : statusOf(error.code);
    const body = Buffer.from(`${error.code}: ${error.message}\n`);
    for (const name of res.getHeaderNames()) res.removeHeader(name);
    res.writeHead(status, {
      'Content-Type': 'text/plain; charset=utf-8',
      'Content-Length': body.length,
      'X-Xfer-Error': error.code,
      ...(error instanceof HttpError ? error.headers : {}),
      ...(status === 429 || this.draining ? { Connection: 'close' } : {}),
    });
    res.end(req.method === 'HEAD' ? undefined : body);
    this.logAccess(req, status, req.method === 'HEAD' ? 0 : body.length, started);
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
      message: `${socket.remoteAddress ?? '?'} bad HTTP request (${status}): ${err.code ?? 'unknown'}`,
    });
    const answering = (socket as Socket & { _httpMessage?: unknown })._httpMessage !== undefined;
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

  /** Where this server is, as the client named it (for the Metalink's URL). */
  private origin(req: IncomingMessage): string {
    const scheme = this.options.tls ? 'https' : 'http';
    const host = req.headers.host;
    if (host && /^[A-Za-z0-9.\-:[\]]{1,255}$/.test(host)) return `${scheme}://${host}`;
    const { localAddress = '127.0.0.1', localPort } = req.socket;
    return `${scheme}://${localAddress.includes(':') ? `[${localAddress}]` : localAddress}:${localPort ?? ''}`;
  }

  /** One line per request, as in a common access log; `-` bytes for a cut response. */
  private logAccess(req: IncomingMessage, status: number, bytes: number, started: number): void {
    const target = (req.url ?? '')
      .slice(0, 512)
      .replace(/[^\x21-\x7e]/g, (c) => `\\x${c.charCodeAt(0).toString(16).padStart(2, '0')}`);
    this.host.log({
      level: 'debug',
      message: `${req.socket.remoteAddress ?? '-'} "${printableName(req.method ?? '-')} ${target} HTTP/${req.httpVersion}" ${status} ${bytes < 0 ? '-' : bytes} ${Date.now() - started}ms`,
    });
  }
}

function statusOf(code: XferErrorCode): number {
  switch (code) {
    case 'ERR_XFER_NOT_FOUND':
      return 404;
    case 'ERR_XFER_CHANGED':
      return 409;
    case 'ERR_XFER_LIMIT':
    case 'ERR_XFER_SHUTDOWN':
      return 503;
    default:
      return 500;
  }
}

function sha256(text: string): Buffer {
  return createHash('sha256').update(text).digest();
}
