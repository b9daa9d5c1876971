import { readFileSync } from 'node:fs';
import { createSecureContext, rootCertificates, type SecureContext } from 'node:tls';
import type { Agent, Dispatcher } from 'undici';
import { ConnectionClosedError, UsageError } from '../../errors.js';
import { printableName } from '../../protocol/index.js';
import { RangeSockets } from './range-socket.js';
import { RateLimit } from './rate-limit.js';
import { undici } from './undici.js';

/** Where Debian, Ubuntu, Fedora and Alpine keep the system's CA bundle. */
const SYSTEM_CA_BUNDLES = [
  '/etc/ssl/certs/ca-certificates.crt',
  '/etc/pki/tls/certs/ca-bundle.crt',
  '/etc/ssl/cert.pem',
];
/** The most connections one file may use on one web server (the same rule as for xfer servers). */
export const MAX_WEB_CONNECTIONS = 4;
/** The most keep-alive connections to one web server for first requests (one per file in flight, as `aria2c -j16`). */
export const MAX_PROBE_CONNECTIONS = 16;
/** A probe connection's read buffer: a small file's answer in one read, 16 of them in 1 MiB. */
const PROBE_READ_BUFFER_BYTES = 64 * 1024;

export interface WebClientOptions {
  /** Keep-alive connections per web server (origin) for a file's range requests, 1 to 4. */
  connections: number;
  /**
   * Keep-alive connections per web server for first requests (probes, which
   * fetch a small file whole): one per file in flight, 1 to
   * MAX_PROBE_CONNECTIONS (default: `connections`).
   */
  probeConnections?: number;
  /** Extra request headers (`Name: value`), sent with every request to the first origin. */
  headers?: [string, string][];
  /** An extra CA certificate (PEM) trusted on top of the built-in and system CAs. */
  ca?: string;
  /** A connection that delivers no header or body byte for this long fails (and is retried). */
  stallTimeoutMs: number;
  /** Bytes per second for all downloads of the run together; 0 or absent for no cap. */
  limitRate?: number;
}

/**
 * What all web downloads of a run share: xfer's own connections to plain
 * http servers, and undici's keep-alive pools (made on first use) of up to
 * `connections` per origin for range requests and `probeConnections` for
 * first requests, through HTTP_PROXY/HTTPS_PROXY unless
 * NO_PROXY says otherwise (undici's EnvHttpProxyAgent, only built when a
 * proxy variable is set), TLS with the built-in and system CAs plus an extra
 * CA. Redirects are not followed here: `webRequest` follows them with our
 * own rules.
 */
export class WebClient {
  readonly headers: [string, string][];
  readonly stallTimeoutMs: number;
  readonly rateLimit: RateLimit | undefined;
  /** Range GETs over plain http without a proxy take this faster path (undici does the rest). */
  readonly rangeSockets: RangeSockets | undefined;
  /** First requests (probes) over plain http without a proxy take the same path, up to `probeConnections` per origin. */
  readonly probeSockets: RangeSockets | undefined;
  private readonly agentOptions: Agent.Options;
  private readonly proxied: boolean;
  private readonly limits: Record<WebPool, number>;
  private readonly pools = new Map<WebPool, Promise<Dispatcher>>();
  private closed = false;

  constructor(options: WebClientOptions) {
    const connections = Math.max(1, Math.min(MAX_WEB_CONNECTIONS, options.connections));
    const probeConnections = Math.max(
      1,
      Math.min(MAX_PROBE_CONNECTIONS, options.probeConnections ?? options.connections),
    );
    this.limits = { range: connections, probe: probeConnections };
    const secureContext = options.ca === undefined ? undefined : trustWith(options.ca);
    this.agentOptions = {
      pipelining: 1,
      headersTimeout: options.stallTimeoutMs,
      bodyTimeout: options.stallTimeoutMs,
      connectTimeout: options.stallTimeoutMs,
      ...(secureContext ? { connect: { secureContext } } : {}),
    };
    this.proxied = proxyConfigured();
    const { stallTimeoutMs } = options;
    this.rangeSockets = this.proxied
      ? undefined
      : new RangeSockets({ maxPerOrigin: connections, stallTimeoutMs });
    // A probe judges any final answer itself (a small file's body fits one read);
    // a redirect is left to undici, which follows it by webRequest's rules.
    this.probeSockets = this.proxied
      ? undefined
      : new RangeSockets({
          maxPerOrigin: probeConnections,
          stallTimeoutMs,
          readBufferBytes: PROBE_READ_BUFFER_BYTES,
          takes: (status) => status >= 200 && (status < 300 || status >= 400),
        });
    this.headers = options.headers ?? [];
    this.stallTimeoutMs = options.stallTimeoutMs;
    this.rateLimit = options.limitRate ? new RateLimit(options.limitRate) : undefined;
  }

  /**
   * undici's keep-alive pool for a file's range requests (`range`: at most
   * `connections` per origin, so a file never uses more) or for first
   * requests (`probe`: several files in flight at once, each on a connection
   * of its own), made on first use.
   */
  pool(kind: WebPool): Promise<Dispatcher> {
    if (this.closed) return Promise.reject(new ConnectionClosedError('The web client was closed.'));
    let pool = this.pools.get(kind);
    if (!pool) {
      const options = { ...this.agentOptions, connections: this.limits[kind] };
      pool = undici().then((u) => (this.proxied ? new u.EnvHttpProxyAgent(options) : new u.Agent(options)));
      this.pools.set(kind, pool);
    }
    return pool;
  }

  async close(): Promise<void> {
    this.closed = true;
    this.rangeSockets?.close();
    this.probeSockets?.close();
    await Promise.all([...this.pools.values()].map(async (pool) => (await pool).destroy()));
  }
}

/** Which of the client's undici pools a request goes on. */
export type WebPool = 'range' | 'probe';

function proxyConfigured(): boolean {
  return ['http_proxy', 'HTTP_PROXY', 'https_proxy', 'HTTPS_PROXY'].some(
    (v) => (process.env[v] ?? '') !== '',
  );
}

/** One TLS context for every connection: the built-in CAs, the system bundle if there is one, and `ca`. */
function trustWith(ca: string): SecureContext {
  const system = SYSTEM_CA_BUNDLES.map((path) => {
    try {
      return readFileSync(path, 'utf8');
    } catch {
      return undefined;
    }
  }).find((text) => text !== undefined);
  return createSecureContext({ ca: [...rootCertificates, ...(system ? [system] : []), ca] });
}

/**
 * A `Name: value` request header as written on the command line. Names are
 * HTTP tokens; values hold no CR, LF or NUL (no header injection).
 */
export function parseHeaderOption(text: string): [string, string] {
  const m = /^([!#$%&'*+.^_`|~0-9A-Za-z-]+):[ \t]*(.*?)[ \t]*$/.exec(text);
  // eslint-disable-next-line no-control-regex
  if (!m?.[1] || m[2] === undefined || /[\u0000\r\n]/.test(m[2])) {
    throw new UsageError(`"${printableName(text)}" is not a header: write 'Name: value'.`);
  }
  const name = m[1].toLowerCase();
  if (['host', 'range', 'if-range', 'content-length', 'transfer-encoding', 'connection'].includes(name)) {
    throw new UsageError(`The ${m[1]} header is set by xfer itself and cannot be given.`);
  }
  return [m[1], m[2]];
}

/**
 * A URL's `user:pass@` turned into a Basic Authorization header, and the URL
 * without them: credentials never appear in a URL we print, log or follow.
 */
export function splitCredentials(url: URL): { url: URL; authorization: string | undefined } {
  if (url.username === '' && url.password === '') return { url, authorization: undefined };
  const bare = new URL(url.href);
  bare.username = '';
  bare.password = '';
  let user: string;
  let pass: string;
  try {
    user = decodeURIComponent(url.username);
    pass = decodeURIComponent(url.password);
  } catch {
    throw new UsageError(`The credentials in the URL for ${bare.host} are not valid percent-encoding.`);
  }
  return { url: bare, authorization: `Basic ${Buffer.from(`${user}:${pass}`).toString('base64')}` };
}

/** A URL as shown to people: credentials removed, controls escaped. */
export function shownUrl(url: URL): string {
  if (url.username === '' && url.password === '') return printableName(url.href);
  const bare = new URL(url.href);
  bare.username = '';
  bare.password = '';
  return printableName(bare.href);
}

/** A URL as given: http or https only; `user:pass@` becomes an Authorization header. */
export function targetOf(url: string): { url: URL; authorization: string | undefined } {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new UsageError(`"${printableName(url)}" is not a URL.`);
  }
  if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') {
    throw new UsageError(
      `Only http:// and https:// URLs can be fetched, not ${printableName(parsed.protocol)}.`,
    );
  }
  return splitCredentials(parsed);
}
