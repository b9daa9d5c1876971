import { UsageError } from '../errors.js';
import { DEFAULT_PORT } from '../protocol/index.js';

export interface ServerAddress {
  host: string;
  port: number;
}

/** `host`, `host:port`, `[v6]`, `[v6]:port` or a bare IPv6 address; the port defaults to 9876. */
export function parseServerAddress(text: string): ServerAddress {
  const s = text.trim();
  let host = s;
  let portText: string | undefined;
  const bracketed = /^\[([^\]]+)\](?::(.*))?$/.exec(s);
  if (bracketed) {
    host = bracketed[1] ?? '';
    portText = bracketed[2];
  } else if ((s.match(/:/g) ?? []).length === 1) {
    [host = '', portText] = s.split(':');
  }
  if (!host || /[\s/\\@]/.test(host))
    throw new UsageError(`"${text}" is not a server address (expected HOST[:PORT]).`);
  if (portText === undefined) return { host, port: DEFAULT_PORT };
  const port = Number(portText);
  if (!/^\d+$/.test(portText) || port < 1 || port > 65535) {
    throw new UsageError(`"${portText}" is not a port number (1 to 65535).`);
  }
  return { host, port };
}

export function formatAddress({ host, port }: ServerAddress): string {
  return host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`;
}
