import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { readdir, readFile, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, test, type TestContext } from 'node:test';
import { gzipSync } from 'node:zlib';
import { WebSession, type WebFetchOptions } from '../../../src/client/http/web-session.js';
import type { ClientEvent } from '../../../src/client/events.js';
import { DEFAULT_RETRY_POLICY, type RetryPolicy } from '../../../src/client/retry.js';
import { peakConcurrentConnections, startNginx } from '../../helpers/nginx.js';
import { patternBytes, sha256, tempDir } from '../../helpers/tmp.js';
import { askedRange, sendFile, startWebServer } from '../../helpers/web-server.js';

type Done = Extract<ClientEvent, { type: 'done' }>;

/** A policy whose windows fit a test: quick retries, a short stall, a short give-up. */
const QUICK: RetryPolicy = {
  ...DEFAULT_RETRY_POLICY,
  baseDelayMs: 20,
  maxDelayMs: 100,
  maxAttempts: 4,
  stallTimeoutMs: 1000,
  noProgressTimeoutMs: 4000,
};

async function fetchUrl(
  t: TestContext,
  url: string,
  options: WebFetchOptions & { policy?: RetryPolicy; connections?: number } = {},
) {
  const out = await tempDir(t, 'xfer-web-');
  const events: ClientEvent[] = [];
  const session = new WebSession({
    dataDir: join(out, 'data'),
    connections: options.connections ?? 4,
    policy: options.policy ?? QUICK,
    signal: AbortSignal.timeout(60_000),
    emit: (e) => events.push(e),
  });
  t.after(() => session.close());
  const outcome = await session.fetch(url, options);
  const done = events.find((e): e is Done => e.type === 'done');
  const error = events.find((e) => e.type === 'error');
  const read = (name: string) => readFile(join(out, 'data', name));
  return {
    outcome,
    events,
    done,
    error,
    out,
    read,
    files: async () => (await readdir(join(out, 'data'))).filter((n) => n !== '.xfer'),
    parts: async () =>
      (await readdir(join(out, 'data', '.xfer')).catch(() => [])).filter((n) => n.endsWith('.part')),
  };
}

describe('web downloads (WebSession over the engine)', () => {
  test('nginx: sizes 0, 1, 1 MiB + 7 and 24 MiB, unicode and spaces; exact SHA-256, verified by size only', async (t) => {
    const nginx = await startNginx(t);
    if (!nginx) return;
    for (const [name, size] of [
      ['empty', 0],
      ['one', 1],
      ['odd size.bin', 1024 * 1024 + 7],
      ['日本語 ü.bin', 24 * 1024 * 1024],
    ] as const) {
      const data = patternBytes(size, size + 1);
      await writeFile(join(nginx.root, name), data);
      const r = await fetchUrl(t, new URL(encodeURIComponent(name), nginx.base).href);
      assert.equal(r.error, undefined, JSON.stringify(r.error));
      assert.ok((await r.read(name)).equals(data), name);
      assert.equal(r.done?.sha256, sha256(data), name);
      assert.equal(r.done?.verified, 'size only', name);
      assert.deepEqual(await r.files(), [name]);
    }
  });

  test('nginx: 4 connections are really used at once', async (t) => {
    const nginx = await startNginx(t, { config: 'limit_rate 8m;' });
    if (!nginx) return;
    const data = patternBytes(24 * 1024 * 1024, 4);
    await writeFile(join(nginx.root, 'big.bin'), data);
    const r = await fetchUrl(t, `${nginx.base}big.bin`);
    assert.ok((await r.read('big.bin')).equals(data));
    const log = await nginx.requests();
    assert.equal(
      new Set(log.filter((l) => l.status === 206 && l.range !== 'bytes=0-').map((l) => l.connection)).size,
      4,
    );
    assert.equal(peakConcurrentConnections(log.filter((l) => l.range !== 'bytes=0-')), 4);
  });

  test('nginx: --checksum right is verified by it; wrong is ERR_XFER_CORRUPT and nothing is kept', async (t) => {
    const nginx = await startNginx(t);
    if (!nginx) return;
    const data = patternBytes(3 * 1024 * 1024, 8);
    await writeFile(join(nginx.root, 'c.bin'), data);
    const right = await fetchUrl(t, `${nginx.base}c.bin`, {
      checksum: createHash('sha256').update(data).digest(),
    });
    assert.equal(right.done?.verified, 'sha256 (checksum)');
    assert.ok((await right.read('c.bin')).equals(data));
    const wrong = await fetchUrl(t, `${nginx.base}c.bin`, { checksum: Buffer.alloc(32, 1) });
    assert.equal(wrong.done, undefined);
    assert.equal(wrong.error?.type === 'error' && wrong.error.code, 'ERR_XFER_CORRUPT');
    assert.deepEqual(await wrong.files(), []);
  });

  test('a server that ignores Range: one connection, a note, the right file', async (t) => {
    const data = patternBytes(2 * 1024 * 1024 + 3, 2);
    const web = await startWebServer(t, (_req, res) =>
      res.writeHead(200, { 'content-length': data.length, etag: '"x"' }).end(data),
    );
    const r = await fetchUrl(t, `${web.origin}/plain.bin`);
    assert.ok((await r.read('plain.bin')).equals(data));
    assert.ok(r.events.some((e) => e.type === 'note' && /ignores Range/.test(e.message)));
    // The probe's answer, too large to hold, is left after its head; one more request, without Range, for the body.
    assert.deepEqual(
      web.requests.map((q) => q.headers.range),
      ['bytes=0-', undefined],
    );
  });

  test('wrong Content-Range on every range: refused, then the file is fetched whole over one connection', async (t) => {
    const data = patternBytes(3 * 1024 * 1024, 3);
    const web = await startWebServer(t, (req, res) => {
      const r = askedRange(req);
      if (r && r.start > 0) {
        res
          .writeHead(206, { etag: '"v"', 'content-range': `bytes 0-${data.length - 1}/${data.length}` })
          .end(data);
        return;
      }
      sendFile(req, res, { data, etag: '"v"' });
    });
    const r = await fetchUrl(t, `${web.origin}/lies.bin`);
    assert.equal(r.error, undefined, JSON.stringify(r.error));
    assert.ok((await r.read('lies.bin')).equals(data));
    assert.ok(r.events.some((e) => e.type === 'note' && /not trusted/.test(e.message)));
  });

  test('an ETag that changes between ranges restarts the file cleanly: one version, never mixed', async (t) => {
    const v1 = patternBytes(3 * 1024 * 1024, 5);
    const v2 = patternBytes(3 * 1024 * 1024, 6);
    let served = 0;
    const web = await startWebServer(t, (req, res) => {
      served++;
      const version = served <= 1 ? { data: v1, etag: '"1"' } : { data: v2, etag: '"2"' };
      sendFile(req, res, version);
    });
    const r = await fetchUrl(t, `${web.origin}/moving.bin`, { connections: 1 });
    assert.equal(r.error, undefined, JSON.stringify(r.error));
    assert.ok(r.events.some((e) => e.type === 'restart'));
    assert.ok((await r.read('moving.bin')).equals(v2));
  });

  test('503 then 200, and 429 with Retry-After: retried, the wait honoured, the right file', async (t) => {
    const data = patternBytes(200_000, 9);
    let calls = 0;
    const web = await startWebServer(t, (req, res) => {
      calls++;
      if (calls === 1) res.writeHead(503).end();
      else if (calls === 2) res.writeHead(429, { 'retry-after': '1' }).end();
      else sendFile(req, res, { data, etag: '"r"' });
    });
    const started = Date.now();
    const r = await fetchUrl(t, `${web.origin}/busy.bin`);
    assert.equal(r.error, undefined, JSON.stringify(r.error));
    assert.ok((await r.read('busy.bin')).equals(data));
    assert.ok(Date.now() - started >= 1000, 'waited out Retry-After');
  });

  test('a gzip-encoded body is saved as sent, over one connection, with a note', async (t) => {
    const gz = gzipSync(patternBytes(300_000, 1));
    const web = await startWebServer(t, (_req, res) =>
      res.writeHead(200, { 'content-encoding': 'gzip', 'content-length': gz.length }).end(gz),
    );
    const r = await fetchUrl(t, `${web.origin}/data.gz`);
    assert.ok((await r.read('data.gz')).equals(gz));
    assert.ok(r.events.some((e) => e.type === 'note' && /Content-Encoding: gzip/.test(e.message)));
  });

  test('Repr-Digest is checked: a right one is named on the done event, a lying one is ERR_XFER_CORRUPT', async (t) => {
    const data = patternBytes(2 * 1024 * 1024, 12);
    const good = createHash('sha256').update(data).digest('base64');
    const web = await startWebServer(t, (req, res) =>
      sendFile(req, res, {
        data,
        etag: '"d"',
        headers: {
          'repr-digest': `sha-256=:${req.url === '/good.bin' ? good : Buffer.alloc(32).toString('base64')}:`,
        },
      }),
    );
    const ok = await fetchUrl(t, `${web.origin}/good.bin`);
    assert.equal(ok.done?.verified, 'sha256 (Repr-Digest)');
    const bad = await fetchUrl(t, `${web.origin}/bad.bin`);
    assert.equal(bad.error?.type === 'error' && bad.error.code, 'ERR_XFER_CORRUPT');
    assert.deepEqual(await bad.files(), []);
  });

  test('Content-Disposition traversal: saved under its base name inside the folder, nothing outside', async (t) => {
    const data = patternBytes(1000, 3);
    const web = await startWebServer(t, (req, res) =>
      sendFile(req, res, {
        data,
        headers: { 'content-disposition': 'attachment; filename="../../escape.txt"' },
      }),
    );
    const r = await fetchUrl(t, `${web.origin}/x`);
    assert.deepEqual(await r.files(), ['escape.txt']);
    assert.deepEqual((await readdir(r.out)).sort(), ['data']);
  });

  test('a redirect loop and an https-to-http redirect end as errors with their code', async (t) => {
    const web = await startWebServer(t, (_req, res) => res.writeHead(302, { location: '/again' }).end());
    const r = await fetchUrl(t, `${web.origin}/again`);
    assert.equal(r.error?.type === 'error' && r.error.code, 'ERR_XFER_REDIRECT');
    assert.equal(r.outcome.ok, false);
  });

  test('a claimed size of 1 TiB, then a stall: a clear error in bounded time, no disk filled', async (t) => {
    const TiB = 2 ** 40;
    const web = await startWebServer(t, (req, res) => {
      const r = askedRange(req);
      res.writeHead(206, {
        etag: '"big"',
        'content-range': `bytes ${r?.start ?? 0}-${r?.end ?? TiB - 1}/${TiB}`,
      });
      res.write(Buffer.alloc(64 * 1024, 1));
    });
    const r = await fetchUrl(t, `${web.origin}/huge.bin`);
    assert.equal(r.outcome.ok, false);
    assert.match(
      r.error?.type === 'error' ? r.error.code : '',
      /ERR_XFER_(DISK_FULL|STALLED|NO_PROGRESS|TIMEOUT)/,
    );
    for (const name of await r.parts()) {
      const part = await stat(join(r.out, 'data', '.xfer', name));
      assert.ok(part.blocks * 512 < 64 * 1024 * 1024, 'the .part stays sparse');
    }
  });

  test('Metalink piece hashes: the whole-file SHA-256 is checked and only the damaged piece is fetched again', async (t) => {
    const piece = 1024 * 1024;
    const data = patternBytes(3 * piece + 100, 51);
    const hex = (b: Buffer) => createHash('sha256').update(b).digest('hex');
    const hashes = [0, 1, 2, 3]
      .map((p) => `<hash>${hex(data.subarray(p * piece, (p + 1) * piece))}</hash>`)
      .join('');
    const meta4 = `<?xml version="1.0"?><metalink xmlns="urn:ietf:params:xml:ns:metalink"><file name="m.bin"><size>${data.length}</size><hash type="sha-256">${hex(data)}</hash><pieces length="${piece}" type="sha-256">${hashes}</pieces></file></metalink>`;
    let corrupted = false;
    let rangeBytes = 0;
    const web = await startWebServer(t, (req, res) => {
      if (req.url === '/m.meta4')
        return res.writeHead(200, { 'content-type': 'application/metalink4+xml' }).end(meta4);
      const r = askedRange(req);
      if (r?.end !== undefined) rangeBytes += r.end - r.start + 1;
      // The first answer that covers piece 1 arrives with one byte flipped in it.
      let body = data;
      if (!corrupted && r?.end !== undefined && r.start <= piece && r.end > piece + 10) {
        corrupted = true;
        body = Buffer.from(data);
        body[piece + 10] = (body[piece + 10] ?? 0) ^ 0xff;
      }
      sendFile(req, res, {
        data: body,
        etag: '"m"',
        headers: { link: '</m.meta4>; rel=describedby; type="application/metalink4+xml"' },
      });
    });
    const r = await fetchUrl(t, `${web.origin}/m.bin`);
    assert.equal(r.error, undefined, JSON.stringify(r.error));
    assert.ok(corrupted);
    assert.ok((await r.read('m.bin')).equals(data));
    assert.equal(r.done?.verified, 'sha256 (Metalink)');
    const repair = r.events.find((e) => e.type === 'repair');
    assert.equal(repair?.type === 'repair' && repair.pieces, 1);
    assert.ok(rangeBytes < data.length + 2 * piece, `asked for ${rangeBytes} bytes`);
  });

  test('a slow drip (a byte every 100 ms) ends in bounded time with a clear code, the .part kept', async (t) => {
    const size = 16 * 1024 * 1024;
    const timers = new Set<NodeJS.Timeout>();
    t.after(() => timers.forEach((x) => clearInterval(x)));
    const web = await startWebServer(t, (req, res) => {
      const r = askedRange(req);
      const end = r?.end ?? size - 1;
      res.writeHead(206, { etag: '"drip"', 'content-range': `bytes ${r?.start ?? 0}-${end}/${size}` });
      const timer = setInterval(() => res.write(Buffer.alloc(1)), 100);
      timers.add(timer);
      res.on('close', () => clearInterval(timer));
    });
    const started = Date.now();
    const r = await fetchUrl(t, `${web.origin}/drip.bin`);
    assert.equal(r.outcome.ok, false);
    assert.match(r.error?.type === 'error' ? r.error.code : '', /ERR_XFER_(STALLED|NO_PROGRESS)/);
    assert.ok(Date.now() - started < 30_000);
    assert.equal((await r.parts()).length, 1);
  });

  test('a URL that names no file needs --output; with it, the file lands under that name', async (t) => {
    const data = patternBytes(5000, 61);
    const web = await startWebServer(t, (req, res) => sendFile(req, res, { data }));
    const unnamed = await fetchUrl(t, `${web.origin}/dir/`);
    assert.equal(unnamed.error?.type === 'error' && unnamed.error.code, 'ERR_XFER_NAME');
    const named = await fetchUrl(t, `${web.origin}/dir/`, { output: 'index.bin' });
    assert.ok((await named.read('index.bin')).equals(data));
  });
});
