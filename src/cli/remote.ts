import { randomBytes } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { parseServerAddress } from '../client/address.js';
import type { ConnectOptions } from '../client/connection.js';
import type { Mirror } from '../client/mirrors.js';
import { UsageError, XferError, errorFromCode } from '../errors.js';
import { intOption } from './args.js';
import { readToken, tokenOptions } from './token.js';
import { DEFAULT_PORT, SESSION_ID_SIZE, printableName } from '../protocol/index.js';

/** Flags shared by every command that talks to a server. */
export const remoteOptions = {
  ...tokenOptions,
  port: { type: 'string', short: 'p' },
  tls: { type: 'boolean', default: false },
  ca: { type: 'string' },
  json: { type: 'boolean', default: false },
} as const;

export const REMOTE_HELP = `  -p, --port N        the server's port when SERVER names none    (default: ${DEFAULT_PORT})
  --token T           token the server requires                   (default: none; or XFER_TOKEN)
  --token-file F      read the token from a file (keeps it out of ps)
  --tls               connect over TLS, checking the server certificate
  --ca F              trust this CA certificate (PEM) for --tls
  --json              print NDJSON events on stdout, every failure included`;

export async function connectOptions(
  server: string,
  values: {
    token?: string | undefined;
    'token-file'?: string | undefined;
    port?: string | undefined;
    tls?: boolean | undefined;
    ca?: string | undefined;
  },
): Promise<ConnectOptions> {
  const address = parseServerAddress(server);
  if (values.port !== undefined) {
    if (/\]:[^\]]*$|^[^:]*:[^:]*$/.test(server.trim()))
      throw new UsageError(`"${server}" already names a port: give it there or with --port, not both.`);
    address.port = intOption(values.port, 'port', 1, 65535, address.port);
  }
  if (values.ca && !values.tls) throw new UsageError('--ca goes with --tls.');
  let ca: Buffer | undefined;
  if (values.ca) {
    try {
      ca = await readFile(values.ca);
    } catch (err) {
      throw new UsageError(`Cannot read the CA file: ${(err as Error).message}`);
    }
  }
  return {
    ...address,
    token: await readToken(values),
    tls: values.tls ? { ca } : undefined,
    sessionId: randomBytes(SESSION_ID_SIZE),
  };
}

/**
 * The library names no flags; for a failure to connect the CLI adds the one
 * a person should try, knowing which were given.
 */
export function withFlagHint(err: unknown, connect: ConnectOptions): unknown {
  if (!(err instanceof XferError)) return err;
  let hint: string | undefined;
  if (err.code === 'ERR_XFER_TLS') {
    hint = connect.tls
      ? 'If the server speaks plain TCP, drop --tls; if its certificate is not publicly trusted, pass its CA with --ca.'
      : 'Connect with --tls.';
  } else if (err.code === 'ERR_XFER_AUTH') {
    hint = connect.token
      ? 'Check that this is the server you meant and that it uses the same token (--token, --token-file or XFER_TOKEN).'
      : 'Pass its token with --token, --token-file or XFER_TOKEN.';
  }
  return hint ? errorFromCode(err.code, `${err.message} ${hint}`, { cause: err }) : err;
}

/** Sources for one file at most (the primary and its mirrors): each adds up to 4 connections. */
export const MAX_SOURCES = 8;

/** `--mirror` SOURCEs sorted out: xfer servers (`HOST[:PORT]`) and web mirrors (http/https URLs). */
export interface MirrorSources {
  hosts: string[];
  urls: string[];
}

/**
 * Sorts SOURCEs into xfer servers and web URLs; a URL of another scheme, or
 * one that does not parse, is a usage error. `severalFiles`: the mirrors
 * serve many names (`xfer client`, several NAMEs or URLs), so a web mirror
 * must be a folder (its URL ends in `/`), where each file is found by name.
 */
export function splitMirrors(sources: string[], severalFiles: boolean): MirrorSources {
  if (sources.length > MAX_SOURCES - 1)
    throw new UsageError(`At most ${MAX_SOURCES - 1} mirrors, not ${sources.length}.`);
  const hosts: string[] = [];
  const urls: string[] = [];
  for (const source of sources) {
    if (!/^[a-z][a-z0-9+.-]*:\/\//i.test(source.trim())) {
      hosts.push(source);
      continue;
    }
    let url: URL | undefined;
    try {
      url = new URL(source);
    } catch {
      url = undefined;
    }
    if (!url || (url.protocol !== 'http:' && url.protocol !== 'https:') || url.hostname === '') {
      throw new UsageError(
        `"${printableName(source)}" is not a mirror: a SOURCE is HOST[:PORT] (an xfer server) or an http:// or https:// URL.`,
      );
    }
    if (severalFiles && !url.pathname.endsWith('/')) {
      throw new UsageError(
        `The web mirror "${printableName(source)}" names one file, but several are fetched: give a folder URL ending in "/", where each file is found by its name.`,
      );
    }
    urls.push(source);
  }
  return { hosts, urls };
}

/** A run's web mirrors over one web client (loaded only when a URL mirror is given), and how to close it. */
export async function webMirrors(
  urls: string[],
  options: { connections: number; stallTimeoutMs: number; signal: AbortSignal },
): Promise<{ mirrors: Mirror[]; close(): Promise<void> }> {
  if (urls.length === 0) return { mirrors: [], close: () => Promise.resolve() };
  const [{ WebClient }, { WebMirror }] = await Promise.all([
    import('../client/http/web-client.js'),
    import('../client/http/web-mirror.js'),
  ]);
  const client = new WebClient({ connections: options.connections, stallTimeoutMs: options.stallTimeoutMs });
  const mirrorOptions = { connections: options.connections, signal: options.signal };
  return {
    mirrors: urls.map((url) => WebMirror.fromUrl(client, url, mirrorOptions)),
    close: () => client.close(),
  };
}
