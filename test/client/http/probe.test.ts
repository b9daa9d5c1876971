import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { gzipSync } from 'node:zlib';
import { fileNameFor } from '../../../src/client/http/file-name.js';
import { probe } from '../../../src/client/http/probe.js';
import { readBody } from '../../../src/client/http/range-fetch.js';
import { WebClient } from '../../../src/client/http/web-client.js';
import { WHOLE_FILE_MAX_BYTES } from '../../../src/client/whole-file.js';
import { startNginx } from '../../helpers/nginx.js';
import { patternBytes } from '../../helpers/tmp.js';
import { sendFile, startWebServer, type Handler } from '../../helpers/web-server.js';

const data = patternBytes(100_000, 7);
const sha = createHash('sha256').update(data).digest();

async function probeWith(
  t: { after(fn: () => unknown): void },
  handler: Handler,
  path = '/f.bin',
  head = false,
) {
  const web = await startWebServer(t as never, handler);
  const client = new WebClient({ connections: 4, stallTimeoutMs: 5000 });
  t.after(() => client.close());
  const p = await probe(
    client,
    { url: new URL(`${web.origin}${path}`), authorization: undefined },
    { head, signal: AbortSignal.timeout(20_000) },
  );
  return { p, web };
}

describe('probe', () => {
  test('a 206 with bytes 0-N/SIZE splits; identity, digest and Metalink link are read', async (t) => {
    const { p, web } = await probeWith(t, (req, res) =>
      sendFile(req, res, {
        data,
        etag: '"v1"',
        headers: {
          'repr-digest': `sha-256=:${sha.toString('base64')}:`,
          link: '</f.meta4>; rel=describedby; type="application/metalink4+xml"',
        },
      }),
    );
    assert.equal(p.split, true);
    assert.equal(p.size, data.length);
    assert.equal(p.note, undefined);
    assert.equal(fileNameFor(p.target.url, p.headers), 'f.bin');
    assert.equal(p.validator?.etag, '"v1"');
    assert.equal(p.digest?.source, 'Repr-Digest');
    assert.equal(p.metalink?.href, `${web.origin}/f.meta4`);
    assert.equal(web.requests[0]?.headers.range, 'bytes=0-');
    assert.equal(web.requests[0]?.headers['want-repr-digest'], 'sha-256=10');
    assert.equal(web.requests[0]?.headers['want-digest'], 'SHA-256');
  });

  test('a server that ignores Range (200), large file: one connection, whole body kept for reading, a note', async (t) => {
    const large = patternBytes(WHOLE_FILE_MAX_BYTES + 1, 8);
    const { p, web } = await probeWith(t, (_req, res) =>
      res.writeHead(200, { 'content-length': large.length }).end(large),
    );
    assert.equal(p.split, false);
    assert.equal(p.size, large.length);
    assert.match(p.note ?? '', /one connection, whole body: the server ignores Range/);
    const got = Buffer.alloc(large.length);
    assert.ok(p.whole);
    assert.equal(p.body, undefined);
    assert.equal(await readBody(p.whole, 0, p.size, (c, at) => c.copy(got, at)), large.length);
    assert.ok(got.equals(large));
    // Too large to hold: the first answer was left after its head, the body asked for again without Range.
    assert.deepEqual(
      web.requests.map((r) => r.headers.range),
      ['bytes=0-', undefined],
    );
  });

  test('a small file comes whole in the first answer, a 206 or a 200: one request', async (t) => {
    for (const ignoresRange of [false, true]) {
      const { p, web } = await probeWith(t, (req, res) =>
        ignoresRange
          ? res.writeHead(200, { 'content-length': data.length }).end(data)
          : sendFile(req, res, { data, etag: '"s"' }),
      );
      assert.ok(p.body?.equals(data));
      assert.equal(p.whole, undefined);
      assert.equal(p.split, !ignoresRange);
      assert.equal(web.requests.length, 1);
    }
  });

  test('a small answer longer or shorter than it says fails the probe (it is retried, never used)', async (t) => {
    for (const [sent, code] of [
      [data.length + 10, 'ERR_XFER_HTTP_RANGE'],
      [data.length - 10, 'ERR_XFER_CLOSED'],
    ] as const) {
      await assert.rejects(
        probeWith(t, (_req, res) => {
          const body = patternBytes(sent, 9);
          res.writeHead(206, {
            'content-range': `bytes 0-${data.length - 1}/${data.length}`,
            'transfer-encoding': 'chunked',
          });
          res.end(body);
        }),
        { code },
      );
    }
  });

  test('a Content-Length that disagrees with Content-Range fails the probe, read by xfer itself: one request', async (t) => {
    for (const [sent, code] of [
      [data.length + 10, 'ERR_XFER_HTTP_RANGE'],
      [data.length - 10, 'ERR_XFER_CLOSED'],
    ] as const) {
      const web = await startWebServer(t, (_req, res) =>
        res
          .writeHead(206, {
            'content-range': `bytes 0-${data.length - 1}/${data.length}`,
            'content-length': sent,
          })
          .end(patternBytes(sent, 9)),
      );
      const client = new WebClient({ connections: 4, stallTimeoutMs: 5000 });
      t.after(() => client.close());
      const target = { url: new URL(`${web.origin}/f.bin`), authorization: undefined };
      await assert.rejects(probe(client, target, { signal: AbortSignal.timeout(20_000) }), { code });
      assert.equal(web.requests.length, 1, String(sent));
    }
  });

  test('an error status is judged from the first answer, a redirect is followed: no request is sent twice', async (t) => {
    const web = await startWebServer(t, (req, res) => {
      if (req.url === '/moved') res.writeHead(302, { location: '/f.bin' }).end();
      else if (req.url === '/f.bin') sendFile(req, res, { data });
      else res.writeHead(404, { 'content-length': 4 }).end('gone');
    });
    const client = new WebClient({ connections: 4, stallTimeoutMs: 5000 });
    t.after(() => client.close());
    const at = (path: string) => ({ url: new URL(`${web.origin}${path}`), authorization: undefined });
    const signal = AbortSignal.timeout(20_000);
    await assert.rejects(probe(client, at('/missing'), { signal }), { code: 'ERR_XFER_NOT_FOUND' });
    assert.deepEqual(
      web.requests.map((r) => r.url),
      ['/missing'],
    );
    const p = await probe(client, at('/moved'), { signal });
    assert.ok(p.body?.equals(data));
    assert.equal(p.target.url.pathname, '/f.bin');
    // The redirect is not read by xfer's own connections: undici asks again and follows it.
    assert.deepEqual(
      web.requests.map((r) => r.url),
      ['/missing', '/moved', '/moved', '/f.bin'],
    );
  });

  test('a gzip-encoded body is never split and is saved as sent', async (t) => {
    const gz = gzipSync(data);
    const { p } = await probeWith(t, (req, res) => {
      res.writeHead(req.headers.range ? 206 : 200, {
        'content-encoding': 'gzip',
        ...(req.headers.range ? { 'content-range': `bytes 0-${gz.length - 1}/${gz.length}` } : {}),
        'content-length': gz.length,
      });
      res.end(gz);
    });
    assert.equal(p.split, false);
    assert.match(p.note ?? '', /Content-Encoding: gzip/);
    assert.equal(p.size, gz.length);
  });

  test('an unknown length (chunked 200) is one connection with a note', async (t) => {
    const { p } = await probeWith(t, (_req, res) => {
      res.writeHead(200);
      res.write(data.subarray(0, 10));
      res.end(data.subarray(10));
    });
    assert.equal(p.split, false);
    assert.equal(p.size, undefined);
    assert.match(p.note ?? '', /does not say its size/);
  });

  test('a 206 with a wrong Content-Range is not trusted: the file is asked again without Range', async (t) => {
    const { p, web } = await probeWith(t, (req, res) => {
      if (req.headers.range)
        res.writeHead(206, { 'content-range': `bytes 5-99/${data.length}` }).end(data.subarray(0, 95));
      else sendFile(req, res, { data });
    });
    assert.equal(p.split, false);
    assert.match(p.note ?? '', /unusable/);
    // The chunked 206 is not one xfer's own sockets read: undici is asked the same, then the whole file.
    assert.deepEqual(
      web.requests.map((r) => r.headers.range),
      ['bytes=0-', 'bytes=0-', undefined],
    );
  });

  test('HEAD when asked: Accept-Ranges and Content-Length decide', async (t) => {
    const { p, web } = await probeWith(
      t,
      (req, res) => sendFile(req, res, { data, etag: '"h"' }),
      '/f.bin',
      true,
    );
    assert.equal(web.requests[0]?.method, 'HEAD');
    assert.equal(p.split, true);
    assert.equal(p.size, data.length);
    assert.equal(p.validator?.etag, '"h"');
  });

  test('Content-Disposition traversal names become a base name', async (t) => {
    const { p } = await probeWith(t, (req, res) =>
      sendFile(req, res, {
        data,
        headers: { 'content-disposition': 'attachment; filename="../../../etc/cron.d/evil"' },
      }),
    );
    assert.equal(fileNameFor(p.target.url, p.headers), 'evil');
  });

  test('404, 401 and 500 are coded errors', async (t) => {
    for (const [status, code] of [
      [404, 'ERR_XFER_NOT_FOUND'],
      [401, 'ERR_XFER_AUTH'],
      [500, 'ERR_XFER_HTTP_UNAVAILABLE'],
      [418, 'ERR_XFER_HTTP_STATUS'],
    ] as const) {
      await assert.rejects(
        probeWith(t, (_req, res) => res.writeHead(status).end()),
        { code },
        String(status),
      );
    }
  });

  test('against nginx: sizes 0, 1 and 1 MiB + 7, unicode and spaces in the name', async (t) => {
    const nginx = await startNginx(t);
    if (!nginx) return;
    const client = new WebClient({ connections: 4, stallTimeoutMs: 5000 });
    t.after(() => client.close());
    for (const [name, size] of [
      ['empty', 0],
      ['one', 1],
      ['big one.bin', 1024 * 1024 + 7],
      ['日本語 ü.txt', 10],
    ] as const) {
      await writeFile(join(nginx.root, name), patternBytes(size, 3));
      const p = await probe(
        client,
        { url: new URL(encodeURIComponent(name), nginx.base), authorization: undefined },
        { signal: AbortSignal.timeout(20_000) },
      );
      assert.equal(fileNameFor(p.target.url, p.headers), name);
      assert.equal(p.size, size, name);
      assert.equal(p.split, size > 0, name);
      assert.equal(p.note, undefined, name);
      assert.ok(p.validator?.etag, `${name}: nginx sends a strong ETag`);
      if (p.whole) await p.whole.body.dump();
    }
  });
});
