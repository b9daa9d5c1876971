import { randomBytes } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { parseServerAddress } from '../client/address.js';
import type { ConnectOptions } from '../client/connection.js';
import { UsageError, XferError, errorFromCode } from '../errors.js';
import { intOption } from './args.js';
import { readToken, tokenOptions } from './token.js';
import { DEFAULT_PORT, SESSION_ID_SIZE } from '../protocol/index.js';

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
