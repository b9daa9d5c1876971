import { request as httpRequest, type IncomingHttpHeaders } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { connect } from 'node:net';

export interface HttpAnswer {
  status: number;
  headers: IncomingHttpHeaders;
  body: Buffer;
}

/** One request over a fresh connection (no agent), the whole body read. */
export function fetchHttp(
  port: number,
  path: string,
  options: { method?: string; headers?: Record<string, string>; ca?: Buffer; tls?: boolean } = {},
): Promise<HttpAnswer> {
  const request = options.tls ? httpsRequest : httpRequest;
  return new Promise((resolve, reject) => {
    const req = request(
      {
        host: '127.0.0.1',
        port,
        path,
        method: options.method ?? 'GET',
        headers: options.headers ?? {},
        agent: false,
        ...(options.ca ? { ca: options.ca, servername: 'localhost' } : {}),
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () =>
          resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }),
        );
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    req.end();
  });
}

export interface RawExchange {
  /** Everything the server sent. */
  received: Buffer;
  /** The server closed the connection (rather than the deadline passing). */
  closedByServer: boolean;
}

/**
 * Sends `bytes` on a raw socket and collects the answer until the server
 * closes, `waitMs` passes, or (with `untilHeaders`) a first header block is in. For requests no well-behaved client library would send.
 */
export function rawHttp(
  port: number,
  bytes: Buffer | string,
  options: { waitMs?: number; untilHeaders?: boolean } = {},
): Promise<RawExchange> {
  const { waitMs = 3_000, untilHeaders = false } = options;
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    const socket = connect({ host: '127.0.0.1', port });
    const done = (closedByServer: boolean) => {
      clearTimeout(timer);
      socket.destroy();
      resolve({ received: Buffer.concat(chunks), closedByServer });
    };
    const timer = setTimeout(() => done(false), waitMs);
    socket.on('data', (c: Buffer) => {
      chunks.push(c);
      // A first response's headers are all a status check needs; keep-alive would hold the rest.
      if (untilHeaders && Buffer.concat(chunks).includes('\r\n\r\n')) done(false);
    });
    socket.on('error', () => undefined);
    socket.on('close', () => done(true));
    socket.write(bytes);
  });
}

/** The status codes of every response in a raw answer, in order. */
export function statusesOf(received: Buffer): number[] {
  return [...received.toString('latin1').matchAll(/HTTP\/1\.1 (\d{3}) /g)].map((m) => Number(m[1]));
}
