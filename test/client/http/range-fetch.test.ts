import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, test, type TestContext } from 'node:test';
import { statusError } from '../../../src/client/http/http-errors.js';
import { probe } from '../../../src/client/http/probe.js';
import { fetchRange } from '../../../src/client/http/range-fetch.js';
import { validatorOf } from '../../../src/client/http/validator.js';
import { WebClient } from '../../../src/client/http/web-client.js';
import { BadRangeAnswerError, HttpUnavailableError } from '../../../src/errors.js';
import { startNginx } from '../../helpers/nginx.js';
import { patternBytes } from '../../helpers/tmp.js';
import { askedRange, sendFile, startWebServer, type Handler } from '../../helpers/web-server.js';

const data = patternBytes(10_000, 5);
const validator = { size: data.length, etag: '"v1"', lastModified: undefined };

/** Fetches [offset, offset+length) from a server answering with `handler`; returns what reached the sink. */
async function fetchFrom(
  t: TestContext,
  handler: Handler,
  offset = 1000,
  length = 2000,
  stallTimeoutMs = 5000,
) {
  const web = await startWebServer(t, handler);
  const client = new WebClient({ connections: 4, stallTimeoutMs });
  t.after(() => client.close());
  const got = Buffer.alloc(data.length);
  let delivered = 0;
  let outside = false;
  await fetchRange(client, {
    target: { url: new URL(`${web.origin}/f`), authorization: undefined },
    name: 'f',
    validator,
    offset,
    length,
    signal: AbortSignal.timeout(20_000),
    onChunk: (chunk, at) => {
      if (at < offset || at + chunk.length > offset + length) outside = true;
      chunk.copy(got, at);
      delivered += chunk.length;
    },
  });
  assert.equal(outside, false);
  return { got, delivered, web };
}

const partial = (start: number, end: number, total: number, extra: Record<string, string | number> = {}) => ({
  etag: '"v1"',
  'content-range': `bytes ${start}-${end}/${total}`,
  ...extra,
});

describe('range requests', () => {
  test('an honest 206 delivers exactly the bytes asked for; Range and If-Range are sent', async (t) => {
    const { got, delivered, web } = await fetchFrom(t, (req, res) =>
      sendFile(req, res, { data, etag: '"v1"' }),
    );
    assert.equal(delivered, 2000);
    assert.ok(got.subarray(1000, 3000).equals(data.subarray(1000, 3000)));
    assert.equal(web.requests[0]?.headers.range, 'bytes=1000-2999');
    assert.equal(web.requests[0]?.headers['if-range'], '"v1"');
  });

  test('a server that ignores Range (200 of the same version) is refused as ranges ignored', async (t) => {
    await assert.rejects(
      fetchFrom(t, (_req, res) =>
        res.writeHead(200, { etag: '"v1"', 'content-length': data.length }).end(data),
      ),
      (err) => err instanceof BadRangeAnswerError && err.rangesIgnored,
    );
  });

  test('a wrong Content-Range is refused before a byte is used', async (t) => {
    for (const headers of [
      partial(0, 1999, data.length),
      partial(1000, 2999, 20_000),
      { 'content-range': 'bytes 1000-2999/*' },
    ]) {
      await assert.rejects(
        fetchFrom(t, (_req, res) => res.writeHead(206, headers).end(data.subarray(0, 2000))),
        (err: Error & { code?: string }) =>
          err.code === 'ERR_XFER_HTTP_RANGE' || err.code === 'ERR_XFER_CHANGED',
        JSON.stringify(headers),
      );
    }
  });

  test('Content-Length lying either way is refused', async (t) => {
    for (const length of [1999, 2001]) {
      await assert.rejects(
        fetchFrom(t, (_req, res) =>
          res
            .writeHead(206, partial(1000, 2999, data.length, { 'content-length': length }))
            .end(data.subarray(1000, 1000 + length)),
        ),
        { code: 'ERR_XFER_HTTP_RANGE' },
        String(length),
      );
    }
  });

  test('more bytes than promised: cut at the promised length and refused; fewer: a closed connection', async (t) => {
    await assert.rejects(
      fetchFrom(t, (_req, res) => {
        res.writeHead(206, partial(1000, 2999, data.length));
        res.end(Buffer.concat([data.subarray(1000, 3000), Buffer.alloc(5000, 0xee)]));
      }),
      { code: 'ERR_XFER_HTTP_RANGE', message: /more bytes than it promised/ },
    );
    await assert.rejects(
      fetchFrom(t, (_req, res) => {
        res.writeHead(206, partial(1000, 2999, data.length));
        res.end(data.subarray(1000, 2000));
      }),
      { code: 'ERR_XFER_CLOSED' },
    );
  });

  test('an ETag that changes between ranges is ERR_XFER_CHANGED, whether the server sends 200 or 206', async (t) => {
    await assert.rejects(
      fetchFrom(t, (req, res) => sendFile(req, res, { data: patternBytes(data.length, 9), etag: '"v2"' })),
      { code: 'ERR_XFER_CHANGED', message: /ETag is now "v2"/ },
    );
    await assert.rejects(
      fetchFrom(t, (_req, res) =>
        res
          .writeHead(206, { ...partial(1000, 2999, data.length), etag: '"v2"' })
          .end(data.subarray(1000, 3000)),
      ),
      { code: 'ERR_XFER_CHANGED' },
    );
    await assert.rejects(
      fetchFrom(t, (_req, res) => res.writeHead(416, { 'content-range': 'bytes */500' }).end()),
      {
        code: 'ERR_XFER_CHANGED',
      },
    );
  });

  test('503 and 429 are retryable, with the Retry-After wait; a too long Retry-After is a verdict', async (t) => {
    await assert.rejects(
      fetchFrom(t, (_req, res) => res.writeHead(503).end()),
      (err: Error & { retryable?: boolean; code?: string }) =>
        err.code === 'ERR_XFER_HTTP_UNAVAILABLE' && err.retryable === true,
    );
    await assert.rejects(
      fetchFrom(t, (_req, res) => res.writeHead(429, { 'retry-after': '2' }).end()),
      { retryAfterMs: 2000, code: 'ERR_XFER_HTTP_UNAVAILABLE' },
    );
    const now = Date.parse('2026-01-01T00:00:00Z');
    const dated = statusError(503, { 'retry-after': 'Thu, 01 Jan 2026 00:00:05 GMT' }, 'u', now);
    assert.ok(dated instanceof HttpUnavailableError);
    assert.equal(dated.retryAfterMs, 5000);
    const long = statusError(429, { 'retry-after': '3600' }, 'u', now);
    assert.equal(long.code, 'ERR_XFER_HTTP_STATUS');
    assert.equal(long.retryable, false);
  });

  test('a server that stalls after the headers fails with ERR_XFER_TIMEOUT within the stall timeout', async (t) => {
    const started = Date.now();
    await assert.rejects(
      fetchFrom(
        t,
        (_req, res) => {
          res.writeHead(206, partial(1000, 2999, data.length, { 'content-length': 2000 }));
          res.write(data.subarray(1000, 1100));
        },
        1000,
        2000,
        300,
      ),
      { code: 'ERR_XFER_TIMEOUT' },
    );
    assert.ok(Date.now() - started < 15_000);
  });

  test('a claimed size of 1 TiB: probe says so, a range that stalls ends in a timeout', async (t) => {
    const TiB = 2 ** 40;
    const web = await startWebServer(t, (req, res) => {
      const r = askedRange(req);
      const end = r?.end ?? TiB - 1;
      res.writeHead(206, { etag: '"big"', 'content-range': `bytes ${r?.start ?? 0}-${end}/${TiB}` });
      res.write(Buffer.alloc(1000));
    });
    const client = new WebClient({ connections: 1, stallTimeoutMs: 300 });
    t.after(() => client.close());
    const target = { url: new URL(`${web.origin}/huge`), authorization: undefined };
    const p = await probe(client, target, { signal: AbortSignal.timeout(10_000) });
    assert.equal(p.size, TiB);
    assert.ok(p.validator);
    let delivered = 0;
    await assert.rejects(
      fetchRange(client, {
        target,
        name: 'huge',
        validator: p.validator,
        offset: 0,
        length: 4 << 20,
        signal: AbortSignal.timeout(10_000),
        onChunk: (c) => (delivered += c.length),
      }),
      { code: 'ERR_XFER_TIMEOUT' },
    );
    assert.equal(delivered, 1000);
  });

  test('against nginx: ranges across the file with its ETag as If-Range', async (t) => {
    const nginx = await startNginx(t);
    if (!nginx) return;
    const big = patternBytes(3 * 1024 * 1024 + 7, 11);
    await writeFile(join(nginx.root, 'big.bin'), big);
    const client = new WebClient({ connections: 4, stallTimeoutMs: 5000 });
    t.after(() => client.close());
    const target = { url: new URL('big.bin', nginx.base), authorization: undefined };
    const p = await probe(client, target, { signal: AbortSignal.timeout(10_000) });
    assert.ok(p.split && p.validator);
    const got = Buffer.alloc(big.length);
    const step = 1024 * 1024;
    await Promise.all(
      Array.from({ length: 4 }, (_, i) =>
        fetchRange(client, {
          target,
          name: 'big.bin',
          validator: p.validator ?? validatorOf({}, 0),
          offset: i * step,
          length: Math.min(step, big.length - i * step),
          signal: AbortSignal.timeout(10_000),
          onChunk: (c, at) => c.copy(got, at),
        }),
      ),
    );
    assert.ok(got.equals(big));
    const log = await nginx.requests();
    assert.ok(log.filter((r) => r.status === 206).length >= 4);
  });
});
