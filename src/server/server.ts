import { EventEmitter } from 'node:events';
import { mkdir } from 'node:fs/promises';
import { createServer as createTcpServer, type AddressInfo, type Server, type Socket } from 'node:net';
import { join } from 'node:path';
import { createServer as createTlsServer } from 'node:tls';
import { DEFAULT_PORT, encode, encodePreamble } from '../protocol/index.js';
import {
  AddressInUseError,
  ListenPermissionError,
  toXferError,
  type XferError,
  type XferErrorCode,
} from '../errors.js';
import { Catalog } from './catalog.js';
import { ServerConnection, type ConnectionHost, type ServerLog } from './connection.js';
import { DEFAULT_LIMITS, type ServerLimits } from './limits.js';
import { TextListWriter } from './text-list.js';

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
}

export interface ServerEvents {
  log: [ServerLog];
  catalog: [number];
}

/** `xfer serve`: publishes <root>/resources/ and keeps <root>/text.txt current. */
export class XferServer extends EventEmitter<ServerEvents> implements ConnectionHost {
  readonly catalog: Catalog;
  readonly limits: ServerLimits;
  readonly token: string | undefined;
  private readonly server: Server;
  private readonly connections = new Set<ServerConnection>();
  private readonly perIp = new Map<string, number>();
  private readonly fileSlots = new Map<string, number>();
  private readonly authFailures = new Map<string, number[]>();
  private readonly textList: TextListWriter;
  private closing: Promise<void> | undefined;

  private constructor(private readonly options: ServerOptions) {
    super();
    this.limits = { ...DEFAULT_LIMITS, ...options.limits };
    this.token = options.token;
    this.catalog = new Catalog(join(options.root, 'resources'));
    this.textList = new TextListWriter(join(options.root, 'text.txt'));
    const onSocket = (socket: Socket) => this.accept(socket);
    this.server = options.tls
      ? createTlsServer(
          { cert: options.tls.cert, key: options.tls.key, handshakeTimeout: this.limits.handshakeTimeoutMs },
          onSocket,
        )
      : createTcpServer(onSocket);
    this.server.on('tlsClientError', (err: Error) =>
      this.log({ level: 'debug', message: `TLS handshake failed: ${err.message}` }),
    );
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

  log(entry: ServerLog): void {
    this.emit('log', entry);
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

  authFailed(ip: string): void {
    const now = Date.now();
    const recent = (this.authFailures.get(ip) ?? []).filter((t) => now - t < 60_000);
    recent.push(now);
    this.authFailures.set(ip, recent);
    this.log({ level: 'warn', message: `authentication failed from ${ip}` });
  }

  /**
   * Stops accepting, lets ranges in flight finish for up to the grace period,
   * then cuts what is left. Resolves when every connection is closed.
   */
  close(): Promise<void> {
    this.closing ??= (async () => {
      this.catalog.stop();
      const closed = new Promise<void>((resolve) => this.server.close(() => resolve()));
      for (const conn of this.connections) conn.drain();
      const grace = setTimeout(() => {
        for (const conn of this.connections) conn.destroy();
      }, this.limits.shutdownGraceMs);
      await closed;
      clearTimeout(grace);
    })();
    return this.closing;
  }

  private async init(): Promise<void> {
    await mkdir(join(this.options.root, 'resources'), { recursive: true });
    const publish = () =>
      this.textList
        .write(this.catalog.entries())
        .catch((err: Error) =>
          this.log({ level: 'error', message: `Could not write text.txt: ${err.message}` }),
        );
    this.catalog.on('change', () => {
      void publish();
      this.emit('catalog', this.catalog.size);
    });
    this.catalog.on('warning', (message) => this.log({ level: 'warn', message }));
    await this.catalog.rescan();
    await publish();
    this.catalog.watch(this.options.rescanIntervalMs ?? 2_000);
    try {
      await this.listen(this.options.host);
    } catch (err) {
      this.catalog.stop(); // nothing of a server that never listened may keep the process alive
      throw err;
    }
    this.server.on('error', (err) => this.log({ level: 'error', message: `Server error: ${err.message}` }));
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

  private accept(socket: Socket): void {
    const ip = socket.remoteAddress ?? '';
    const refusal = this.refusalFor(ip);
    if (refusal) {
      this.log({ level: 'warn', message: `refused ${ip}: ${refusal.message}` });
      socket.on('error', () => undefined);
      socket.end(Buffer.concat([encodePreamble(0), encode({ type: 'error', requestId: 0, ...refusal })]));
      setTimeout(() => socket.destroy(), 1000).unref();
      return;
    }
    this.perIp.set(ip, (this.perIp.get(ip) ?? 0) + 1);
    const conn = new ServerConnection(socket, this);
    this.connections.add(conn);
    socket.on('close', () => {
      this.connections.delete(conn);
      const left = (this.perIp.get(ip) ?? 1) - 1;
      if (left <= 0) this.perIp.delete(ip);
      else this.perIp.set(ip, left);
    });
  }

  private refusalFor(ip: string): { code: XferErrorCode; message: string } | undefined {
    if (this.closing) return { code: 'ERR_XFER_SHUTDOWN', message: 'The server is shutting down.' };
    if (this.connections.size >= this.limits.maxConnections) {
      return {
        code: 'ERR_XFER_LIMIT',
        message: `The server is at its limit of ${this.limits.maxConnections} connections.`,
      };
    }
    if ((this.perIp.get(ip) ?? 0) >= this.limits.maxConnectionsPerIp) {
      return {
        code: 'ERR_XFER_LIMIT',
        message: `Too many connections from ${ip} (limit ${this.limits.maxConnectionsPerIp}).`,
      };
    }
    const failures = (this.authFailures.get(ip) ?? []).filter((t) => Date.now() - t < 60_000);
    if (failures.length >= this.limits.authFailuresPerMinute) {
      return {
        code: 'ERR_XFER_AUTH',
        message: 'Too many failed authentications from this address; wait a minute.',
      };
    }
    return undefined;
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
