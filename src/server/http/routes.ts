import { createHash, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import {
  AuthError,
  InvalidNameError,
  NotFoundError,
  UnexpectedFrameError,
  toXferError,
  type XferError,
} from '../../errors.js';
import { printableName } from '../../protocol/index.js';
import type { Catalog } from '../catalog.js';
import { pacersFor, type Pacer } from '../range-sender.js';
import type { ServerLog } from '../server.js';
import { renderTextList } from '../text-list.js';
import { renderIndexHtml, renderIndexJson, renderMetalink } from './documents.js';
import { sendFile, type Sent } from './file-response.js';
import { parseTarget, pathOf } from './target.js';

/** What answering needs from the server. */
export interface RoutesHost {
  readonly catalog: Catalog;
  /** Bytes per second per response; 0 for no cap (the server's --limit-rate). */
  readonly bytesPerSecond: number;
  /** The server-wide cap every response and xfer connection shares (--limit-rate-total), if any. */
  readonly totalPacer: Pacer | undefined;
  log(entry: ServerLog): void;
}

/**
 * A connection's place in the server's admission: whether it is doing work
 * (a busy connection is not evicted to make room), and its address's standing
 * in the authentication lockout, shared with the xfer protocol.
 */
export interface ConnectionTicket {
  /** The client's address, for the log (a load balancer's PROXY header may have named it). */
  readonly address: string;
  active(): void;
  idle(): void;
  /** One wrong token from this connection's address. */
  authFailed(): void;
  readonly lockedOut: boolean;
}

/** A refusal: the xfer error it stands for, its HTTP status, and any headers it needs. */
export class HttpRefusal extends Error {
  constructor(
    readonly status: number,
    readonly error: XferError,
    readonly headers: Record<string, string> = {},
  ) {
    super(error.message);
  }
}

const INDEX_POLICY = "default-src 'none'; style-src 'unsafe-inline'";

/**
 * Answers one parsed request: the index (HTML, or JSON for `Accept:
 * application/json`), `/text.txt`, a listed file, or `NAME.meta4`; GET and HEAD
 * only. Every failure is a short text answer with its code in `X-Xfer-Error`,
 * or a cut connection once a body has started. One access-log line each.
 */
export class HttpRoutes {
  private readonly tokenDigest: Buffer | undefined;

  constructor(
    private readonly host: RoutesHost,
    private readonly options: { token?: string; tls: boolean },
  ) {
    this.tokenDigest = options.token === undefined ? undefined : sha256(options.token);
  }

  async answer(req: IncomingMessage, res: ServerResponse, ticket: ConnectionTicket): Promise<void> {
    const started = Date.now();
    try {
      const sent = await this.route(req, res, ticket);
      this.logAccess(req, ticket.address, sent.status, sent.bytes, started);
    } catch (err) {
      this.fail(req, res, ticket.address, err, started);
    }
  }

  /** A refusal before any work: the same answer and log line as any other failure. */
  refuse(req: IncomingMessage, res: ServerResponse, client: string, refusal: HttpRefusal): void {
    this.fail(req, res, client, refusal, Date.now());
  }

  private async route(req: IncomingMessage, res: ServerResponse, ticket: ConnectionTicket): Promise<Sent> {
    if (req.httpVersionMajor !== 1) {
      // HTTP/0.9 has no status line or headers to carry a length, a digest or an error.
      throw new HttpRefusal(505, new UnexpectedFrameError('Only HTTP/1.0 and HTTP/1.1 are served.'), {
        Connection: 'close',
      });
    }
    const method = req.method ?? '';
    if (method !== 'GET' && method !== 'HEAD') {
      const message = `${printableName(method)} is not served here; use GET or HEAD.`;
      throw new HttpRefusal(405, new UnexpectedFrameError(message), { Allow: 'GET, HEAD' });
    }
    if (req.headers['content-length'] !== undefined || req.headers['transfer-encoding'] !== undefined) {
      // The body would have to be read and thrown away; a client that sends one is not a downloader.
      throw new HttpRefusal(400, new UnexpectedFrameError('A GET or HEAD request must not carry a body.'), {
        Connection: 'close',
      });
    }
    this.authorize(req, ticket);
    const target = parseTarget(req.url ?? '');
    if (target.kind === 'bad') throw new HttpRefusal(400, new InvalidNameError(target.reason));
    const catalog = this.host.catalog;
    if (target.kind === 'index') {
      const entries = catalog.entries();
      const headers = { Vary: 'Accept', 'Content-Security-Policy': INDEX_POLICY };
      if (/\bapplication\/json\b/i.test(req.headers.accept ?? '')) {
        return document(req, res, renderIndexJson(entries), 'application/json', headers);
      }
      return document(req, res, renderIndexHtml(entries), 'text/html; charset=utf-8', headers);
    }
    // The list file wins over a resources/text.txt, as in the course project's layout.
    if (target.name === 'text.txt') {
      return document(req, res, renderTextList(catalog.entries()), 'text/plain; charset=utf-8');
    }
    const record = catalog.get(target.name);
    if (record)
      return sendFile(req, res, catalog, record, pacersFor(this.host.bytesPerSecond, this.host.totalPacer));
    const described = target.name.endsWith('.meta4') ? catalog.get(target.name.slice(0, -6)) : undefined;
    if (!described) throw new NotFoundError(`The server has no file named "${printableName(target.name)}".`);
    const opened = await catalog.open(described);
    try {
      // The Metalink waits for the hashes: it exists to carry them.
      const hashes = await catalog.hashes(opened);
      const url = `${this.origin(req)}${pathOf(described.name)}`;
      const body = renderMetalink(described.name, opened.size, hashes, url);
      return document(req, res, body, 'application/metalink4+xml');
    } finally {
      await opened.fh.close();
    }
  }

  /**
   * With a token, every request carries `Authorization: Bearer TOKEN`, compared
   * in constant time; a wrong one counts toward the same per-address lockout as
   * a failed xfer handshake and closes the connection; a locked-out address is
   * refused outright. A request without the header is told what to send.
   */
  private authorize(req: IncomingMessage, ticket: ConnectionTicket): void {
    if (!this.tokenDigest) return;
    if (ticket.lockedOut) {
      const error = new AuthError('Too many failed authentications from this address; wait a minute.');
      throw new HttpRefusal(429, error, { 'Retry-After': '60', Connection: 'close' });
    }
    const challenge = { 'WWW-Authenticate': 'Bearer realm="xfer"' };
    const given = /^Bearer +(\S+)\s*$/i.exec(req.headers.authorization ?? '')?.[1];
    if (given === undefined) {
      throw new HttpRefusal(
        401,
        new AuthError('This server requires "Authorization: Bearer TOKEN".'),
        challenge,
      );
    }
    if (!timingSafeEqual(sha256(given), this.tokenDigest)) {
      ticket.authFailed();
      const error = new AuthError('The bearer token does not match the server’s.');
      throw new HttpRefusal(401, error, { ...challenge, Connection: 'close' });
    }
  }

  /** A failure as a short text answer, or a cut connection once the body has started. */
  private fail(
    req: IncomingMessage,
    res: ServerResponse,
    client: string,
    err: unknown,
    started: number,
  ): void {
    const refusal = err instanceof HttpRefusal ? err : undefined;
    const error = refusal ? refusal.error : toXferError(err);
    if (res.headersSent) {
      // A client hanging up mid-body is routine (aria2c does it on every split); a changed file is not.
      this.host.log({
        level: error.code === 'ERR_XFER_CLOSED' ? 'debug' : 'warn',
        message: `${client} HTTP response cut: ${error.message}`,
      });
      this.logAccess(req, client, res.statusCode, -1, started);
      res.destroy();
      return;
    }
    const status = refusal?.status ?? statusOf(error);
    const body = Buffer.from(`${error.code}: ${error.message}\n`);
    for (const name of res.getHeaderNames()) if (name !== 'connection') res.removeHeader(name);
    res.writeHead(status, {
      'Content-Type': 'text/plain; charset=utf-8',
      'Content-Length': body.length,
      'X-Xfer-Error': error.code,
      ...refusal?.headers,
      ...(status === 429 ? { Connection: 'close' } : {}),
    });
    res.end(req.method === 'HEAD' ? undefined : body);
    this.logAccess(req, client, status, req.method === 'HEAD' ? 0 : body.length, started);
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
  private logAccess(
    req: IncomingMessage,
    client: string,
    status: number,
    bytes: number,
    started: number,
  ): void {
    // The target is the peer's text: anything outside printable ASCII is shown as \xNN.
    const target = (req.url ?? '')
      .slice(0, 512)
      .replace(/[^\x21-\x7e]/g, (c) => `\\x${c.charCodeAt(0).toString(16).padStart(2, '0')}`);
    this.host.log({
      level: 'debug',
      message: `${client} "${printableName(req.method ?? '-')} ${target} HTTP/${req.httpVersion}" ${status} ${bytes < 0 ? '-' : bytes} ${Date.now() - started}ms`,
    });
  }
}

function document(
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
  const head = req.method === 'HEAD';
  res.end(head ? undefined : bytes);
  return { status: 200, bytes: head ? 0 : bytes.length };
}

function statusOf(error: XferError): number {
  switch (error.code) {
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
