import type { IncomingMessage, ServerResponse } from 'node:http';
import { extname, posix } from 'node:path';
import { ConnectionClosedError, FileChangedError, RangeOutsideFileError } from '../../errors.js';
import { printableName } from '../../protocol/index.js';
import type { Catalog, FileRecord, OpenedFile } from '../catalog.js';
import type { FileHashes } from '../hasher.js';
import { Pacer, READ_SIZE, ReadBuffers } from '../range-sender.js';
import { parseRange } from './ranges.js';
import { pathOf } from './target.js';
import { etagOf, headerOf, ifRangeHolds, lastModifiedOf, notModified } from './validators.js';

/** What one file response did, for the access log. */
export interface Sent {
  status: number;
  bytes: number;
}

/**
 * Answers GET or HEAD for one listed file: validators and digests, 304, 416,
 * one range as 206, else the whole file; the body streamed with backpressure.
 * A file that changes while it is sent is cut (the socket is destroyed before
 * its last bytes), never finished with mixed bytes.
 */
export async function sendFile(
  req: IncomingMessage,
  res: ServerResponse,
  catalog: Catalog,
  record: FileRecord,
  bytesPerSecond: number,
): Promise<Sent> {
  const file = await catalog.open(record);
  try {
    // A file still being hashed is served at once, without digests: never with a wrong one.
    const hashes = catalog.hashesIfReady(file);
    const etag = etagOf(file, hashes);
    res.setHeader('ETag', etag);
    res.setHeader('Last-Modified', lastModifiedOf(file));
    res.setHeader('Accept-Ranges', 'bytes');
    res.setHeader('Cache-Control', 'no-cache');
    if (hashes) setDigests(req, res, record.name, hashes);
    if (notModified(req.headers, etag, file)) {
      res.writeHead(304).end();
      return { status: 304, bytes: 0 };
    }
    res.setHeader('Content-Type', contentTypeOf(record.name));
    res.setHeader('Content-Disposition', dispositionOf(record.name));
    res.setHeader('X-Content-Type-Options', 'nosniff');
    // A served HTML file runs nothing and reaches nothing of this origin.
    res.setHeader('Content-Security-Policy', 'sandbox');
    const range = ifRangeHolds(req.headers, etag, file)
      ? parseRange(req.headers.range, file.size)
      : ({ kind: 'whole' } as const);
    if (range.kind === 'unsatisfiable') {
      const error = new RangeOutsideFileError(
        `The range lies outside "${printableName(record.name)}" (${file.size} bytes).`,
      );
      const body = Buffer.from(`${error.code}: ${error.message}\n`);
      res.writeHead(416, {
        'Content-Range': `bytes */${file.size}`,
        'Content-Type': 'text/plain; charset=utf-8',
        'Content-Length': body.length,
        'X-Xfer-Error': error.code,
      });
      const head = req.method === 'HEAD';
      res.end(head ? undefined : body);
      return { status: 416, bytes: head ? 0 : body.length };
    }
    const [start, end] = range.kind === 'one' ? [range.start, range.end] : [0, file.size - 1];
    const length = end - start + 1;
    if (range.kind === 'one') res.setHeader('Content-Range', `bytes ${start}-${end}/${file.size}`);
    const status = range.kind === 'one' ? 206 : 200;
    res.writeHead(status, { 'Content-Length': length });
    if (req.method === 'HEAD' || length === 0) {
      res.end();
      return { status, bytes: 0 };
    }
    await streamBody(res, file, start, length, bytesPerSecond > 0 ? new Pacer(bytesPerSecond) : undefined);
    res.end();
    return { status, bytes: length };
  } finally {
    await file.fh.close();
  }
}

/**
 * `Repr-Digest` (RFC 9530) always; the legacy `Digest` (RFC 3230) when asked
 * for with `Want-Digest` (aria2c asks, then checks the download against it);
 * and a `Link` to the Metalink with the piece hashes.
 */
function setDigests(req: IncomingMessage, res: ServerResponse, name: string, hashes: FileHashes): void {
  const b64 = hashes.sha256.toString('base64');
  res.setHeader('Repr-Digest', `sha-256=:${b64}:`);
  if (wantsSha256(headerOf(req.headers, 'want-digest'))) res.setHeader('Digest', `SHA-256=${b64}`);
  res.setHeader('Link', `<${pathOf(`${name}.meta4`)}>; rel=describedby; type="application/metalink4+xml"`);
}

/** `Want-Digest: SHA-256;q=1, MD5;q=0.3`: SHA-256 listed with a q other than 0. */
function wantsSha256(header: string | undefined): boolean {
  if (!header) return false;
  return header
    .split(',')
    .slice(0, 20)
    .some((item) => {
      const [alg = '', ...params] = item.split(';').map((s) => s.trim().toLowerCase());
      const q = params.find((p) => p.startsWith('q='));
      return alg === 'sha-256' && (q === undefined || Number(q.slice(2)) > 0);
    });
}

async function streamBody(
  res: ServerResponse,
  file: OpenedFile,
  offset: number,
  length: number,
  pace: Pacer | undefined,
): Promise<void> {
  const buffers = new ReadBuffers(Math.min(READ_SIZE, length));
  // Once the socket is gone Node may never call the callbacks of writes in
  // flight: waiting for a buffer or a drain also ends when the response closes.
  let onClose = (): void => undefined;
  const closed = new Promise<never>((_, reject) => {
    onClose = () => reject(new ConnectionClosedError('The client closed the connection.'));
    res.once('close', onClose);
  });
  closed.catch(() => undefined);
  const end = offset + length;
  // The next chunk is read while the last one drains (the two buffers bound it), not after.
  let flushed: Promise<unknown> | undefined;
  try {
    for (let pos = offset; pos < end;) {
      if (res.destroyed) throw new ConnectionClosedError('The client closed the connection.');
      const buf = await Promise.race([buffers.take(), closed]);
      const want = Math.min(pace ? pace.chunkSize : buf.length, buf.length, end - pos);
      if (pace) await pace.wait(want);
      const { bytesRead } = await file.fh.read(buf, 0, want, pos).catch((err: unknown) => {
        buffers.give(buf);
        throw err;
      });
      pos += bytesRead;
      // The last bytes go out only if every byte read came from one version of the file.
      if (bytesRead === 0 || (pos >= end && (await changedSinceOpen(file)))) {
        buffers.give(buf);
        throw new FileChangedError('The file changed while being sent; the response was cut.');
      }
      if (flushed) await Promise.race([flushed, closed]);
      flushed = res.write(buf.subarray(0, bytesRead), () => buffers.give(buf))
        ? undefined
        : new Promise((resolve) => res.once('drain', resolve));
    }
  } finally {
    res.off('close', onClose);
  }
}

async function changedSinceOpen(file: OpenedFile): Promise<boolean> {
  const now = await file.fh.stat({ bigint: true });
  return Number(now.size) !== file.size || Number(now.mtimeNs / 1000n) !== file.mtimeUs;
}

const CONTENT_TYPES: Record<string, string> = {
  '.txt': 'text/plain; charset=utf-8',
  '.md': 'text/markdown; charset=utf-8',
  '.csv': 'text/csv; charset=utf-8',
  '.html': 'text/html; charset=utf-8',
  '.htm': 'text/html; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.json': 'application/json',
  '.xml': 'application/xml',
  '.pdf': 'application/pdf',
  '.zip': 'application/zip',
  '.gz': 'application/gzip',
  '.tar': 'application/x-tar',
  '.iso': 'application/x-iso9660-image',
  '.png': 'image/png',
  '.jpg': 'image/jpeg',
  '.jpeg': 'image/jpeg',
  '.gif': 'image/gif',
  '.webp': 'image/webp',
  '.svg': 'image/svg+xml',
  '.mp3': 'audio/mpeg',
  '.mp4': 'video/mp4',
  '.mkv': 'video/x-matroska',
  '.webm': 'video/webm',
  '.meta4': 'application/metalink4+xml',
};

export function contentTypeOf(name: string): string {
  return CONTENT_TYPES[extname(name).toLowerCase()] ?? 'application/octet-stream';
}

/** `attachment` with an ASCII fallback and the exact UTF-8 name (RFC 6266). */
function dispositionOf(name: string): string {
  const base = posix.basename(name);
  const ascii = base.replace(/[^\x20-\x7e]|["\\%]/g, '_');
  return `attachment; filename="${ascii}"; filename*=UTF-8''${encodeURIComponent(base).replace(/['()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`)}`;
}
