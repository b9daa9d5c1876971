import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, test, type TestContext } from 'node:test';
import type { ClientEvent } from '../../../src/client/events.js';
import { WebSession } from '../../../src/client/http/web-session.js';
import { DEFAULT_RETRY_POLICY } from '../../../src/client/retry.js';
import { WHOLE_FILE_MAX_BYTES } from '../../../src/client/whole-file.js';
import { patternBytes, tempDir } from '../../helpers/tmp.js';
import { askedRange, sendFile, startWebServer } from '../../helpers/web-server.js';

const QUICK = { ...DEFAULT_RETRY_POLICY, baseDelayMs: 20, maxDelayMs: 100, stallTimeoutMs: 2000 };

async function session(t: TestContext) {
  const out = await tempDir(t, 'xfer-web-landing-');
  const events: ClientEvent[] = [];
  const web = new WebSession({
    dataDir: join(out, 'data'),
    connections: 4,
    policy: QUICK,
    signal: AbortSignal.timeout(60_000),
    emit: (e) => events.push(e),
  });
  t.after(() => web.close());
  return {
    web,
    events,
    read: (name: string) => readFile(join(out, 'data', name)),
    own: () => readdir(join(out, 'data', '.xfer')),
  };
}

const reprDigest = (data: Buffer) => `sha-256=:${createHash('sha256').update(data).digest('base64')}:`;

describe('small web files land from the probe', () => {
  test('a small file is one request; files one after another reuse one keep-alive connection', async (t) => {
    const files = new Map([
      ['/a.bin', patternBytes(16 * 1024, 1)],
      ['/b.bin', patternBytes(1, 2)],
      ['/c.bin', patternBytes(WHOLE_FILE_MAX_BYTES, 3)],
    ]);
    const server = await startWebServer(t, (req, res) => {
      const data = files.get(req.url ?? '');
      if (!data) return res.writeHead(404).end();
      sendFile(req, res, { data, etag: '"v1"' });
    });
    const s = await session(t);
    for (const path of files.keys()) {
      assert.deepEqual(await s.web.fetch(`${server.origin}${path}`), { ok: true });
      // The pool learns that the connection is free again a tick after the body's end.
      await new Promise((resolve) => setImmediate(resolve));
    }
    for (const [path, data] of files) assert.ok((await s.read(path.slice(1))).equals(data));
    assert.deepEqual(
      server.requests.map((r) => `${r.url} ${r.headers.range}`),
      [...files.keys()].map((path) => `${path} bytes=0-`),
    );
    assert.equal(server.connections(), 1);
    assert.deepEqual(await s.own(), []);
    const starts = s.events.filter((e) => e.type === 'start');
    assert.deepEqual(
      starts.map((e) => e.mode),
      ['whole', 'whole', 'whole'],
    );
    assert.equal(s.events.filter((e) => e.type === 'done' && e.verified === 'size only').length, 3);
  });

  test('a small answer that fails its hash: a repair event, fetched again, the right file', async (t) => {
    const data = patternBytes(20_000, 7);
    const damaged = Buffer.from(data);
    damaged[1234] = (damaged[1234] ?? 0) ^ 0xff;
    const server = await startWebServer(t, (req, res) => {
      const file = { data: server.requests.length === 1 ? damaged : data, etag: '"v1"' };
      sendFile(req, res, { ...file, headers: { 'repr-digest': reprDigest(data) } });
    });
    const s = await session(t);
    assert.deepEqual(await s.web.fetch(`${server.origin}/d.bin`), { ok: true });
    assert.ok((await s.read('d.bin')).equals(data));
    assert.ok(s.events.some((e) => e.type === 'repair'));
    const done = s.events.find((e) => e.type === 'done');
    assert.equal(done?.type === 'done' && done.verified, 'sha256 (Repr-Digest)');
    assert.equal(server.requests.length, 2);
    assert.deepEqual(askedRange({ headers: server.requests[1]?.headers } as never), {
      start: 0,
      end: data.length - 1,
    });
  });

  test('a small answer cut short: fetched again, the right file, nothing else kept', async (t) => {
    const data = patternBytes(30_000, 8);
    const server = await startWebServer(t, (req, res) => {
      if (server.requests.length > 1) return sendFile(req, res, { data, etag: '"v1"' });
      res.writeHead(206, {
        etag: '"v1"',
        'content-range': `bytes 0-${data.length - 1}/${data.length}`,
        'content-length': data.length,
      });
      res.write(data.subarray(0, 1000), () => res.destroy());
    });
    const s = await session(t);
    assert.deepEqual(await s.web.fetch(`${server.origin}/cut.bin`), { ok: true });
    assert.ok((await s.read('cut.bin')).equals(data));
    assert.deepEqual(await s.own(), []);
  });

  test('many at once: large files one at a time (never two sending ranges together), small ones beside', async (t) => {
    const files = new Map<string, Buffer>([
      ['/large1.bin', patternBytes(WHOLE_FILE_MAX_BYTES * 2, 11)],
      ['/large2.bin', patternBytes(WHOLE_FILE_MAX_BYTES * 2, 12)],
      ...Array.from({ length: 6 }, (_, i) => [`/small${i}.bin`, patternBytes(3000 + i, 20 + i)] as const),
    ]);
    const ranges: { path: string; start: number; end: number }[] = [];
    const server = await startWebServer(t, (req, res) => {
      const data = files.get(req.url ?? '');
      if (!data) return res.writeHead(404).end();
      if (req.headers.range === 'bytes=0-') return sendFile(req, res, { data, etag: '"v1"' });
      // Range requests of a large file take a while: a chance for the other large file to overlap them.
      // A request ends when its answer is sent or the client drops it (a hedged duplicate, say).
      const entry = { path: req.url ?? '', start: Date.now(), end: Infinity };
      ranges.push(entry);
      res.on('close', () => (entry.end = Math.min(entry.end, Date.now())));
      setTimeout(() => sendFile(req, res, { data, etag: '"v1"' }), 30);
    });
    const s = await session(t);
    const outcomes = await Promise.all(
      [...files.keys()].map((path) => s.web.fetch(`${server.origin}${path}`)),
    );
    assert.ok(outcomes.every((o) => o.ok));
    for (const [path, data] of files) assert.ok((await s.read(path.slice(1))).equals(data));
    const of = (path: string) => ranges.filter((r) => r.path === path);
    assert.ok(of('/large1.bin').length > 0 && of('/large2.bin').length > 0);
    const [first, second] =
      of('/large1.bin')[0]!.start < of('/large2.bin')[0]!.start
        ? ['/large1.bin', '/large2.bin']
        : ['/large2.bin', '/large1.bin'];
    const firstEnds = Math.max(...of(first).map((r) => r.end));
    assert.ok(
      Math.min(...of(second).map((r) => r.start)) >= firstEnds,
      'the second large file waited for the first',
    );
    // The small files did not wait for the large ones: each landed from its probe alone.
    assert.equal(server.requests.filter((r) => r.url.startsWith('/small')).length, 6);
  });

  test('two URLs for one name at once: the second waits, then keeps the first one’s file', async (t) => {
    const one = patternBytes(10_000, 9);
    const other = patternBytes(10_000, 10);
    const server = await startWebServer(t, (req, res) =>
      sendFile(req, res, { data: req.url === '/one/x.bin' ? one : other, etag: '"v1"' }),
    );
    const s = await session(t);
    const outcomes = await Promise.all([
      s.web.fetch(`${server.origin}/one/x.bin`),
      s.web.fetch(`${server.origin}/two/x.bin`),
    ]);
    assert.deepEqual(outcomes, [{ ok: true }, { ok: true }]);
    assert.ok((await s.read('x.bin')).equals(one));
    assert.equal(s.events.filter((e) => e.type === 'done').length, 1);
    assert.ok(s.events.some((e) => e.type === 'skip' && /kept/.test(e.reason)));
  });
});
