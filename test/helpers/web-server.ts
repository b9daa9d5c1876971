import {
  createServer as createHttp,
  type IncomingMessage,
  type Server,
  type ServerResponse,
} from 'node:http';
import { createServer as createHttps } from 'node:https';
import type { Socket } from 'node:net';
import type { TestContext } from 'node:test';

export type Handler = (req: IncomingMessage, res: ServerResponse) => unknown;

export interface TestWebServer {
  /** `http://127.0.0.1:PORT` (or https), no trailing slash. */
  origin: string;
  /** Every request seen, in order. */
  requests: { method: string; url: string; headers: IncomingMessage['headers'] }[];
  /** TCP connections accepted so far. */
  connections(): number;
}

/**
 * An HTTP(S) server on 127.0.0.1:0 whose every answer the test writes: the
 * hostile web servers of the HTTP-source tests. Closed (connections
 * included) when the test ends.
 */
export async function startWebServer(
  t: TestContext,
  handler: Handler,
  tls?: { cert: Buffer; key: Buffer },
): Promise<TestWebServer> {
  const requests: TestWebServer['requests'] = [];
  const sockets = new Set<Socket>();
  let accepted = 0;
  const listener = (req: IncomingMessage, res: ServerResponse) => {
    requests.push({ method: req.method ?? '', url: req.url ?? '', headers: req.headers });
    Promise.resolve(handler(req, res)).catch(() => res.destroy());
  };
  const server: Server = tls ? createHttps({ cert: tls.cert, key: tls.key }, listener) : createHttp(listener);
  server.on(tls ? 'secureConnection' : 'connection', (socket: Socket) => {
    accepted++;
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.after(async () => {
    for (const s of sockets) s.destroy();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });
  const { port } = server.address() as { port: number };
  return { origin: `${tls ? 'https' : 'http'}://127.0.0.1:${port}`, requests, connections: () => accepted };
}

export interface WebFile {
  data: Buffer;
  etag?: string;
  lastModified?: string;
  /** Extra headers on every answer (Repr-Digest, Content-Disposition, Link...). */
  headers?: Record<string, string>;
}

/**
 * The honest answer for `file`, as nginx gives it: `Range: bytes=A-B` (or
 * `A-`) → 206 with Content-Range; an If-Range that does not match → 200 with
 * the whole file; a range outside the file → 416 `bytes *\/SIZE`.
 */
export function sendFile(req: IncomingMessage, res: ServerResponse, file: WebFile): void {
  const size = file.data.length;
  const common: Record<string, string> = { 'accept-ranges': 'bytes', ...(file.headers ?? {}) };
  if (file.etag) common['etag'] = file.etag;
  if (file.lastModified) common['last-modified'] = file.lastModified;
  const ifRange = req.headers['if-range'];
  const rangeOk = ifRange === undefined || ifRange === file.etag || ifRange === file.lastModified;
  const m = /^bytes=(\d+)-(\d*)$/.exec(req.headers.range ?? '');
  if (m && rangeOk) {
    const start = Number(m[1]);
    const end = m[2] ? Math.min(Number(m[2]), size - 1) : size - 1;
    if (start >= size || start > end) {
      res.writeHead(416, { ...common, 'content-range': `bytes */${size}` }).end();
      return;
    }
    res.writeHead(206, {
      ...common,
      'content-range': `bytes ${start}-${end}/${size}`,
      'content-length': end - start + 1,
    });
    res.end(req.method === 'HEAD' ? undefined : file.data.subarray(start, end + 1));
    return;
  }
  res.writeHead(200, { ...common, 'content-length': size });
  res.end(req.method === 'HEAD' ? undefined : file.data);
}

/** Parses `bytes=A-B` of a request (B undefined for `A-`). */
export function askedRange(req: IncomingMessage): { start: number; end: number | undefined } | undefined {
  const m = /^bytes=(\d+)-(\d*)$/.exec(req.headers.range ?? '');
  return m ? { start: Number(m[1]), end: m[2] ? Number(m[2]) : undefined } : undefined;
}
