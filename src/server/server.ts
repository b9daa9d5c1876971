import { EventEmitter } from 'node:events';
import { mkdir } from 'node:fs/promises';
import { createServer, type AddressInfo, type Server, type Socket } from 'node:net';
import { join } from 'node:path';
import { TLSSocket, createSecureContext, type SecureContext } from 'node:tls';
import { DEFAULT_PORT, encode, encodePreamble } from '../protocol/index.js';
import { AddressInUseError, ListenPermissionError, toXferError, type XferError } from '../errors.js';
import { Admission, type Dismiss, type Refusal, type Ticket } from './admission.js';
import { Catalog } from './catalog.js';
import { ServerConnection, type ConnectionHost } from './connection.js';
import { HttpFace, type HttpLimits } from './http/face.js';
import { ProxyIntake } from './proxy-intake.js';
import { sniffProtocol } from './http/sniff.js';
import { DEFAULT_LIMITS, fitToDescriptorLimit, openFileLimit, type ServerLimits } from './limits.js';
import { LogLimiter, type ServerLog } from './log-limiter.js';
import { Pacer } from './range-sender.js';
import { TextListWriter } from './text-list.js';

export type { ServerLog } from './log-limiter.js';

export interface ServerOptions {
  /** The folder holding resources/ and text.txt. */
  root: string;
  host?: string;
  /** 0 picks a free port. */
  port?: number;
  token?: string;
  tls?: { cert: Buffer; key: Buffer };
  limits?: Partial<ServerLimits>;
  /** How often resources/ is rescanned in case fs.watch missed a change. */
  rescanIntervalMs?: number;
  /** The HTTP/1.1 face on the same port (default on; off by itself with a token and no TLS). */
  http?: boolean;
  httpLimits?: Partial<HttpLimits>;
  /**
   * Every connection starts with a PROXY protocol v2 header (a load balancer's
   * `send-proxy-v2`); the address it names is the one admission counts and the
   * log shows. Connections without one are closed.
   */
  proxyProtocol?: boolean;
}

/** Why the HTTP face is off, when it is. */
export type HttpFaceState = 'on' | 'off' | 'off-token-without-tls';

/** A connection the server can ask to finish (drain), cut (destroy) or hand back to admission (dismiss). */
interface LiveConnection {
  drain(): void;
  destroy(): void;
  dismiss(refusal: Refusal): void;
}

export const DEFAULT_RESCAN_INTERVAL_MS = 2_000;

export interface ServerEvents {
  log: [ServerLog];
  catalog: [number];
}

/** `xfer serve`: publishes <root>/resources/ and keeps <root>/text.txt current. */
export class XferServer extends EventEmitter<ServerEvents> implements ConnectionHost {
  readonly catalog: Catalog;
  readonly limits: ServerLimits;
  readonly token: string | undefined;
  readonly admission: Admission;
  readonly totalPacer: Pacer | undefined;
  private readonly server: Server;
  private readonly tlsContext: SecureContext | undefined;
  readonly httpFace: HttpFaceState;
  private readonly connections = new Set<LiveConnection>();
  /** With `proxyProtocol`: connections from the load balancer wait here for their header. */
  private readonly proxyIntake: ProxyIntake | undefined;
  private readonly http: HttpFace | undefined;
  private readonly fileSlots = new Map<string, number>();
  private readonly textList: TextListWriter;
  private readonly repeats = new LogLimiter((entry) => this.emit('log', entry));
  private closing: Promise<void> | undefined;

  private constructor(private readonly options: ServerOptions) {
    super();
    const limits = { ...DEFAULT_LIMITS, ...options.limits };
    this.limits = { ...limits, maxConnections: fitToDescriptorLimit(limits.maxConnections, openFileLimit()) };
    this.token = options.token;
    const total = this.limits.bytesPerSecondTotal;
    this.totalPacer = total > 0 ? new Pacer(total) : undefined;
    this.admission = new Admission(this.limits);
    this.catalog = new Catalog(join(options.root, 'resources'));
    this.textList = new TextListWriter(join(options.root, 'text.txt'));
    this.proxyIntake = options.proxyProtocol
      ? new ProxyIntake(this.limits.maxConnections, this.limits.handshakeTimeoutMs)
      : undefined;
    // A bearer token must never cross the wire in clear: with a token, HTTP only over TLS.
    this.httpFace =
      options.http === false
        ? 'off'
        : options.token !== undefined && !options.tls
          ? 'off-token-without-tls'
          : 'on';
    this.http =
      this.httpFace === 'on'
        ? new HttpFace(this, {
            tls: options.tls !== undefined,
            ...(options.token !== undefined ? { token: options.token } : {}),
            ...(options.httpLimits ? { limits: options.httpLimits } : {}),
          })
        : undefined;
    this.tlsContext = options.tls
      ? createSecureContext({ cert: options.tls.cert, key: options.tls.key })
      : undefined;
    // A plain TCP server even for TLS: admission must come before the (costly) TLS handshake.
    this.server = createServer((socket) => this.accept(socket));
  }

  static async start(options: ServerOptions): Promise<XferServer> {
    const server = new XferServer(options);
    await server.init();
    return server;
  }

  get address(): { host: string; port: number } {
    const a = this.server.address() as AddressInfo;
    return { host: a.address, port: a.port };
  }

  log(entry: ServerLog, repeats?: string): void {
    if (repeats) this.repeats.log(repeats, entry);
    else this.emit('log', entry);
  }

  claimFileSlot(key: string): boolean {
    const used = this.fileSlots.get(key) ?? 0;
    if (used >= this.limits.maxDataConnectionsPerClientFile) return false;
    this.fileSlots.set(key, used + 1);
    return true;
  }

  releaseFileSlot(key: string): void {
    const used = (this.fileSlots.get(key) ?? 1) - 1;
    if (used <= 0) this.fileSlots.delete(key);
    else this.fileSlots.set(key, used);
  }

  /**
   * Stops accepting, lets ranges in flight finish for up to the grace period,
   * then cuts what is left. Resolves when every connection is closed.
   */
  close(): Promise<void> {
    this.closing ??= (async () => {
      this.admission.close({ code: 'ERR_XFER_SHUTDOWN', message: 'The server is shutting down.' });
      const catalogStopped = this.catalog.stop();
      this.proxyIntake?.close();
      this.http?.drain();
      const closed = new Promise<void>((resolve) => this.server.close(() => resolve()));
      for (const conn of this.connections) conn.drain();
      const grace = setTimeout(() => {
        for (const conn of this.connections) conn.destroy();
      }, this.limits.shutdownGraceMs);
      await closed;
      clearTimeout(grace);
      this.http?.stop();
      this.repeats.flush();
      // After this, nothing of the server writes under the root (text.txt included).
      await catalogStopped;
      await this.textList.idle();
    })();
    return this.closing;
  }

  private async init(): Promise<void> {
    await mkdir(join(this.options.root, 'resources'), { recursive: true });
    const publish = () =>
      this.textList
        .write(this.catalog.entries())
        .catch((err: Error) =>
          this.log({ level: 'error', message: `Could not write text.txt: ${err.message}` }, 'text-list'),
        );
    this.catalog.on('change', () => {
      void publish();
      this.emit('catalog', this.catalog.size);
    });
    this.catalog.on('warning', (message) => this.log({ level: 'warn', message }));
    this.catalog.on('scan-failed', (message) => this.log({ level: 'warn', message }, 'scan-failed'));
    await this.catalog.rescan();
    await publish();
    this.catalog.watch(this.options.rescanIntervalMs ?? DEFAULT_RESCAN_INTERVAL_MS);
    try {
      await this.listen(this.options.host);
    } catch (err) {
      await this.catalog.stop(); // nothing of a server that never listened may keep the process alive
      throw err;
    }
    const configured = this.options.limits?.maxConnections ?? DEFAULT_LIMITS.maxConnections;
    if (this.limits.maxConnections < configured) {
      // On the next turn, once start() has resolved and its caller listens to 'log'.
      setImmediate(() =>
        this.log({
          level: 'info',
          message: `At most ${this.limits.maxConnections} connections: the process may open only ${openFileLimit()} files.`,
        }),
      );
    }
    // Out of descriptors (EMFILE/ENFILE), libuv accepts and closes the waiting
    // connections itself and accepting resumes when descriptors free up; what
    // does reach this handler is reported, without a line per connection.
    this.server.on('error', (err) =>
      this.log({ level: 'error', message: `Server error: ${err.message}` }, 'server-error'),
    );
  }

  /** Without a host: every IPv6 and IPv4 address (dual-stack `::`), or IPv4 alone where IPv6 is missing. */
  private async listen(host: string | undefined): Promise<void> {
    const port = this.options.port ?? DEFAULT_PORT;
    try {
      await new Promise<void>((resolve, reject) => {
        this.server.once('error', reject);
        this.server.listen(port, host ?? '::', () => {
          this.server.off('error', reject);
          resolve();
        });
      });
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (host === undefined && (code === 'EAFNOSUPPORT' || code === 'EADDRNOTAVAIL')) {
        return this.listen('0.0.0.0');
      }
      throw listenError(err, host ?? '::', port);
    }
  }

  /**
   * Every accepted socket: admission first, before a byte is read or a TLS
   * handshake is started; behind a load balancer, once its PROXY header has
   * named the client.
   */
  private accept(socket: Socket): void {
    if (!this.proxyIntake) return this.admit(socket, socket.remoteAddress, socket.remotePort);
    this.proxyIntake.take(
      socket,
      (address, port) => this.admit(socket, address, port),
      (balancer, err) =>
        this.log(
          { level: 'warn', message: `${balancer} sent no valid PROXY header: ${err.message}` },
          'proxy-header',
        ),
    );
  }

  private admit(socket: Socket, address: string | undefined, port: number | undefined): void {
    // The connection object exists only once admitted; until then taking the place back is a destroy.
    let dismiss: Dismiss = () => socket.destroy();
    const admitted = this.admission.admit(address, (refusal) => dismiss(refusal), port);
    if (!admitted.ok) return this.refuse(socket, address, admitted.refusal);
    const { ticket } = admitted;
    socket.on('close', () => ticket.release());
    const conn = this.startConnection(this.tlsContext ? this.wrapTls(socket) : socket, ticket);
    dismiss = (refusal) => conn.dismiss(refusal);
  }

  /**
   * Where an admitted socket starts to be served: the xfer protocol, or the
   * HTTP face when its first bytes are an HTTP method. Until they arrive it
   * just closes at shutdown or when dismissed.
   */
  private startConnection(socket: Socket, ticket: Ticket): LiveConnection {
    const cut = () => socket.destroy();
    const live: LiveConnection = { drain: cut, destroy: cut, dismiss: cut };
    this.connections.add(live);
    socket.on('close', () => this.connections.delete(live));
    const http = this.http;
    if (!http) {
      this.speakXfer(socket, ticket, live);
      return live;
    }
    void sniffProtocol(socket, this.limits.handshakeTimeoutMs).then((protocol) => {
      if (protocol === 'xfer') this.speakXfer(socket, ticket, live);
      else if (protocol === 'http') {
        live.drain = () => undefined; // the face closes its idle connections itself
        http.accept(socket, ticket);
      }
    });
    return live;
  }

  private speakXfer(socket: Socket, ticket: Ticket, live: LiveConnection): void {
    const conn = new ServerConnection(socket, this, ticket);
    live.drain = () => conn.drain();
    live.dismiss = (refusal) => conn.dismiss(refusal);
    socket.resume(); // sniffing left it paused, its first bytes put back
  }

  private wrapTls(socket: Socket): TLSSocket {
    const secure = new TLSSocket(socket, {
      isServer: true,
      secureContext: this.tlsContext!,
      ...(this.http ? { ALPNProtocols: ['http/1.1'] } : {}),
    });
    secure.on('error', (err: Error) =>
      this.log({ level: 'debug', message: `TLS with ${socket.remoteAddress ?? '?'} failed: ${err.message}` }),
    );
    return secure;
  }

  /**
   * A refused connection costs one small write at most and is gone at once:
   * no timer, no waiting for the peer, so a storm of reconnects cannot pile
   * up descriptors. Over TLS nothing is written (a TLS peer could not read
   * plaintext, and a handshake is exactly the cost being refused).
   */
  private refuse(socket: Socket, address: string | undefined, refusal: Refusal): void {
    this.log(
      { level: 'warn', message: `refused ${address ?? '?'}: ${refusal.message}` },
      `refused-${refusal.code}`,
    );
    socket.on('error', () => undefined);
    if (!this.tlsContext) {
      socket.write(Buffer.concat([encodePreamble(0), encode({ type: 'error', requestId: 0, ...refusal })]));
    }
    socket.destroy();
  }
}

function listenError(err: unknown, host: string, port: number): XferError {
  const where = `port ${port} on ${host.includes(':') ? `[${host}]` : host}`;
  switch ((err as NodeJS.ErrnoException).code) {
    case 'EADDRINUSE':
      return new AddressInUseError(`Cannot listen on ${where}: another program uses it.`, {
        cause: err,
      });
    case 'EACCES':
    case 'EPERM':
      return new ListenPermissionError(
        `Not allowed to listen on ${where}: ports below 1024 need administrator rights.`,
        { cause: err },
      );
    default:
      return toXferError(err);
  }
}
