import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { appendFile, writeFile } from 'node:fs/promises';
import { request } from 'node:http';
import { connect } from 'node:net';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import type { ServerLog } from '../../../src/server/server.js';
import { fetchHttp, rawHttp } from '../../helpers/http.js';
import { startServer } from '../../helpers/server.js';
import { HAVE_OPENSSL, makePki } from '../../helpers/tls.js';
import { patternBytes, sha256, waitFor } from '../../helpers/tmp.js';

const big = patternBytes(3 * 1024 * 1024 + 17, 7);
const files = {
  'big.bin': big,
  'sub dir/日本 語.txt': 'konnichiwa\n',
  'page.html': '<script>alert(1)</script>',
};
const b64 = (data: Buffer) => createHash('sha256').update(data).digest('base64');

async function hashedServer(
  t: Parameters<typeof startServer>[0],
  options: Parameters<typeof startServer>[2] = {},
) {
  const s = await startServer(t, files, options);
  await waitFor(() => s.server.catalog.entries().every((e) => e.sha256), 10_000, 'files hashed');
  return s;
}

describe('HTTP face', () => {
  test('one port speaks both: xfer clients list, HTTP clients get the index as HTML and JSON', async (t) => {
    const s = await hashedServer(t);
    const conn = await s.connect();
    assert.equal((await conn.list()).length, 3);

    const html = await fetchHttp(s.port, '/');
    assert.equal(html.status, 200);
    assert.match(String(html.headers['content-type']), /^text\/html/);
    const page = html.body.toString();
    assert.ok(page.includes('href="/sub%20dir/%E6%97%A5%E6%9C%AC%20%E8%AA%9E.txt"'), page);
    assert.ok(page.includes('sub dir/日本 語.txt'));
    assert.ok(page.includes(sha256(big)));
    assert.ok(page.includes('3 MiB'));
    assert.ok(!page.includes('<script>'), 'names are escaped and the page has no script');

    const json = await fetchHttp(s.port, '/', { headers: { Accept: 'application/json' } });
    assert.equal(json.headers['content-type'], 'application/json');
    const listed = (
      JSON.parse(json.body.toString()) as {
        files: { name: string; size: number; sha256: string; url: string }[];
      }
    ).files;
    assert.deepEqual(
      listed.map((f) => [f.name, f.size, f.url]),
      [
        ['big.bin', big.length, '/big.bin'],
        ['page.html', 25, '/page.html'],
        ['sub dir/日本 語.txt', 11, '/sub%20dir/%E6%97%A5%E6%9C%AC%20%E8%AA%9E.txt'],
      ],
    );
    assert.equal(listed[0]?.sha256, sha256(big));

    const list = await fetchHttp(s.port, '/text.txt');
    assert.equal(list.body.toString(), 'big.bin 3 MiB\npage.html 25 B\nsub dir/日本 語.txt 11 B\n');
  });

  test('a file: exact bytes, Content-Length, validators, type, disposition and Repr-Digest; HEAD has no body', async (t) => {
    const s = await hashedServer(t);
    const got = await fetchHttp(s.port, '/big.bin');
    assert.equal(got.status, 200);
    assert.equal(sha256(got.body), sha256(big));
    assert.equal(got.headers['content-length'], String(big.length));
    assert.equal(got.headers['transfer-encoding'], undefined);
    assert.equal(got.headers['accept-ranges'], 'bytes');
    assert.equal(got.headers.etag, `"${sha256(big).slice(0, 32)}-${big.length}"`);
    assert.ok(got.headers['last-modified']);
    assert.equal(got.headers['repr-digest'], `sha-256=:${b64(big)}:`);
    assert.equal(got.headers['digest'], undefined, 'Digest only when asked for');
    assert.equal(got.headers['link'], '</big.bin.meta4>; rel=describedby; type="application/metalink4+xml"');
    assert.equal(got.headers['content-type'], 'application/octet-stream');
    assert.equal(
      got.headers['content-disposition'],
      `attachment; filename="big.bin"; filename*=UTF-8''big.bin`,
    );

    const head = await fetchHttp(s.port, '/big.bin', { method: 'HEAD' });
    assert.equal(head.status, 200);
    assert.equal(head.body.length, 0);
    assert.equal(head.headers['content-length'], String(big.length));
    assert.equal(head.headers['repr-digest'], got.headers['repr-digest']);

    const unicode = await fetchHttp(s.port, '/sub%20dir/%E6%97%A5%E6%9C%AC%20%E8%AA%9E.txt');
    assert.equal(unicode.body.toString(), 'konnichiwa\n');
    assert.equal(unicode.headers['content-type'], 'text/plain; charset=utf-8');
    assert.match(
      String(unicode.headers['content-disposition']),
      /filename\*=UTF-8''%E6%97%A5%E6%9C%AC%20%E8%AA%9E\.txt$/,
    );

    const html = await fetchHttp(s.port, '/page.html');
    assert.equal(html.headers['content-security-policy'], 'sandbox', 'a served HTML file runs nothing');
    assert.equal(html.headers['x-content-type-options'], 'nosniff');

    const missing = await fetchHttp(s.port, '/nope.bin');
    assert.equal(missing.status, 404);
    assert.equal(missing.headers['x-xfer-error'], 'ERR_XFER_NOT_FOUND');
  });

  test('ranges: one range is a 206 with an exact Content-Range; suffix, open, unsatisfiable, several, malformed', async (t) => {
    const s = await hashedServer(t);
    const size = big.length;
    const cases: [string, number, string | undefined, Buffer][] = [
      ['bytes=100-199', 206, `bytes 100-199/${size}`, big.subarray(100, 200)],
      ['bytes=-500', 206, `bytes ${size - 500}-${size - 1}/${size}`, big.subarray(size - 500)],
      ['bytes=1048576-', 206, `bytes 1048576-${size - 1}/${size}`, big.subarray(1048576)],
      [
        `bytes=${size - 1}-${size + 1000}`,
        206,
        `bytes ${size - 1}-${size - 1}/${size}`,
        big.subarray(size - 1),
      ],
      ['bytes=0-1,10-20', 200, undefined, big],
      ['bytes=5-1', 200, undefined, big],
    ];
    for (const [range, status, contentRange, body] of cases) {
      const got = await fetchHttp(s.port, '/big.bin', { headers: { Range: range } });
      assert.equal(got.status, status, range);
      assert.equal(got.headers['content-range'], contentRange, range);
      assert.equal(got.headers['content-length'], String(body.length), range);
      assert.equal(sha256(got.body), sha256(body), range);
      assert.equal(got.headers['repr-digest'], `sha-256=:${b64(big)}:`, 'the digest is of the whole file');
    }
    for (const range of [`bytes=${size}-`, 'bytes=9007199254740993-9007199254740999', 'bytes=-0']) {
      const got = await fetchHttp(s.port, '/big.bin', { headers: { Range: range } });
      assert.equal(got.status, 416, range);
      assert.equal(got.headers['content-range'], `bytes */${size}`);
      assert.equal(got.headers['x-xfer-error'], 'ERR_XFER_RANGE');
    }
  });

  test('conditionals: If-None-Match and If-Modified-Since give 304; If-Range decides between 206 and 200', async (t) => {
    const s = await hashedServer(t);
    const first = await fetchHttp(s.port, '/big.bin', { method: 'HEAD' });
    const etag = String(first.headers.etag);
    const lastModified = String(first.headers['last-modified']);
    const cached = await fetchHttp(s.port, '/big.bin', { headers: { 'If-None-Match': etag } });
    assert.equal(cached.status, 304);
    assert.equal(cached.body.length, 0);
    assert.equal(cached.headers.etag, etag);
    assert.equal(
      (await fetchHttp(s.port, '/big.bin', { headers: { 'If-Modified-Since': lastModified } })).status,
      304,
    );
    assert.equal(
      (await fetchHttp(s.port, '/big.bin', { method: 'HEAD', headers: { 'If-None-Match': '"stale"' } }))
        .status,
      200,
    );

    const resumed = await fetchHttp(s.port, '/big.bin', {
      headers: { Range: 'bytes=10-19', 'If-Range': etag },
    });
    assert.equal(resumed.status, 206);
    assert.deepEqual(resumed.body, big.subarray(10, 20));
    const stale = await fetchHttp(s.port, '/big.bin', {
      headers: { Range: 'bytes=10-19', 'If-Range': '"stale"' },
    });
    assert.equal(stale.status, 200, 'a changed file is sent whole, never mixed with a stale prefix');
    assert.equal(sha256(stale.body), sha256(big));
  });

  test('Want-Digest gets the RFC 3230 Digest; NAME.meta4 holds the SHA-256 and every piece hash', async (t) => {
    const s = await hashedServer(t);
    const asked = await fetchHttp(s.port, '/big.bin', {
      method: 'HEAD',
      headers: { 'Want-Digest': 'SHA-256;q=1, MD5;q=0.3' },
    });
    assert.equal(asked.headers['digest'], `SHA-256=${b64(big)}`);
    const refused = await fetchHttp(s.port, '/big.bin', {
      method: 'HEAD',
      headers: { 'Want-Digest': 'sha-256;q=0' },
    });
    assert.equal(refused.headers['digest'], undefined);

    const meta = await fetchHttp(s.port, '/big.bin.meta4');
    assert.equal(meta.headers['content-type'], 'application/metalink4+xml');
    const xml = meta.body.toString();
    assert.ok(xml.includes(`<size>${big.length}</size>`));
    assert.ok(xml.includes(`<hash type="sha-256">${sha256(big)}</hash>`));
    const pieces = [0, 1, 2, 3].map((i) => sha256(big.subarray(i * 1048576, (i + 1) * 1048576)));
    assert.ok(xml.includes(`<pieces length="1048576" type="sha-256">`));
    assert.deepEqual(
      [...xml.matchAll(/<pieces[^>]*>([\s\S]*)<\/pieces>/g)].flatMap((m) =>
        [...(m[1] ?? '').matchAll(/<hash>([0-9a-f]+)<\/hash>/g)].map((h) => h[1]),
      ),
      pieces,
    );
    assert.ok(xml.includes(`<url>http://127.0.0.1:${s.port}/big.bin</url>`));
    assert.equal((await fetchHttp(s.port, '/nope.meta4')).status, 404);
  });

  test('a file still being hashed is served at once, without any digest', async (t) => {
    const s = await startServer(t, {});
    const content = patternBytes(96 * 1024 * 1024, 3);
    for (let attempt = 0; ; attempt++) {
      const name = `fresh-${attempt}.bin`;
      await writeFile(join(s.resources, name), content);
      await s.server.catalog.rescan();
      const record = s.server.catalog.get(name);
      assert.ok(record);
      const got = await fetchHttp(s.port, `/${name}`, { method: 'HEAD' });
      if (got.headers['repr-digest'] !== undefined) {
        // Hashing won the race this time; a digest, when there is one, must be the right one.
        assert.ok(attempt < 3, 'hashing always finished before the answer; cannot observe the early state');
        assert.equal(got.headers['repr-digest'], `sha-256=:${b64(content)}:`);
        continue;
      }
      assert.equal(got.status, 200);
      assert.equal(got.headers['repr-digest'], undefined);
      assert.equal(got.headers['link'], undefined);
      assert.match(String(got.headers.etag), /^"v-[0-9a-f]{24}"$/);
      break;
    }
  });

  test('a file that changes while it is sent is cut before its last bytes', async (t) => {
    const logs: ServerLog[] = [];
    const s = await hashedServer(t, { limits: { bytesPerSecondPerConnection: 2 * 1024 * 1024 } });
    s.server.on('log', (l) => logs.push(l));
    const outcome = await new Promise<{ received: number; error: string }>((resolve) => {
      let received = 0;
      const req = request({ host: '127.0.0.1', port: s.port, path: '/big.bin', agent: false }, (res) => {
        res.on('data', (c: Buffer) => {
          if (received === 0) void appendFile(join(s.resources, 'big.bin'), 'more');
          received += c.length;
        });
        res.on('error', (err) => resolve({ received, error: err.message }));
        res.on('end', () => resolve({ received, error: res.complete ? '' : 'incomplete' }));
      });
      req.on('error', (err) => resolve({ received, error: err.message }));
      req.end();
    });
    assert.ok(outcome.error !== '', 'the response did not complete');
    assert.ok(outcome.received < big.length, `received ${outcome.received} of ${big.length}`);
    assert.ok(logs.some((l) => l.level === 'warn' && /changed while being sent/.test(l.message)));
  });

  test('--limit-rate applies to HTTP responses', async (t) => {
    const s = await hashedServer(t, { limits: { bytesPerSecondPerConnection: 4 * 1024 * 1024 } });
    const started = Date.now();
    const got = await fetchHttp(s.port, '/big.bin');
    assert.equal(sha256(got.body), sha256(big));
    // 3 MiB at 4 MiB/s cannot take less than about 0.75 s (a floor; load only makes it slower).
    assert.ok(Date.now() - started >= 600, `took ${Date.now() - started} ms`);
  });

  test('--verbose access log: one line per request with method, path, status, bytes and time', async (t) => {
    const logs: ServerLog[] = [];
    const s = await hashedServer(t);
    s.server.on('log', (l) => logs.push(l));
    await fetchHttp(s.port, '/big.bin', { headers: { Range: 'bytes=0-9' } });
    await fetchHttp(s.port, '/nope%0A%1B[31m');
    // One line each; the order between them is not fixed (a line is written once its answer is done).
    const lines = logs.filter((l) => l.level === 'debug' && l.message.includes('" ')).map((l) => l.message);
    assert.equal(lines.length, 2, lines.join('\n'));
    assert.ok(
      lines.some((l) => /^127\.0\.0\.1 "GET \/big\.bin HTTP\/1\.1" 206 10 \d+ms$/.test(l)),
      lines.join('\n'),
    );
    assert.ok(
      lines.some((l) => /^127\.0\.0\.1 "GET \/nope%0A%1B\[31m HTTP\/1\.1" 400 \d+ \d+ms$/.test(l)),
      lines.join('\n'),
    );
  });

  test('shutdown closes idle keep-alive HTTP connections at once', async (t) => {
    const s = await hashedServer(t);
    const socket = connect({ host: '127.0.0.1', port: s.port });
    const closed = new Promise<void>((resolve) => socket.on('close', () => resolve()));
    let answered = '';
    const first = new Promise<void>((resolve) =>
      socket.on('data', (c: Buffer) => {
        answered += c.toString('latin1');
        if (answered.includes('page.html 25 B')) resolve();
      }),
    );
    socket.on('error', () => undefined);
    socket.write('GET /text.txt HTTP/1.1\r\nHost: x\r\n\r\n');
    await first;
    assert.match(answered, /Connection: keep-alive/i);
    const started = Date.now();
    await s.server.close();
    await closed;
    // Well inside the 5 s grace that cuts connections still busy.
    assert.ok(Date.now() - started < 3_000, `close took ${Date.now() - started} ms`);
  });

  test('--no-http and a token without TLS keep the face off: HTTP bytes get the xfer refusal', async (t) => {
    const off = await startServer(t, files, { http: false });
    assert.equal(off.server.httpFace, 'off');
    const offAnswer = await rawHttp(off.port, 'GET / HTTP/1.1\r\nHost: x\r\n\r\n');
    assert.ok(offAnswer.received.subarray(0, 4).equals(Buffer.from('XFER')));
    assert.ok(!offAnswer.received.toString('latin1').includes('HTTP/1.1'));

    const clear = await startServer(t, files, { token: 'secret' });
    assert.equal(clear.server.httpFace, 'off-token-without-tls');
    const clearAnswer = await rawHttp(
      clear.port,
      'GET / HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer secret\r\n\r\n',
    );
    assert.ok(!clearAnswer.received.toString('latin1').includes('HTTP/1.1'));
    assert.ok(clearAnswer.closedByServer);
  });

  test(
    'a token over TLS: Bearer required, compared exactly, wrong guesses lock the address out',
    { skip: !HAVE_OPENSSL && 'openssl missing' },
    async (t) => {
      const pki = await makePki(t);
      const s = await startServer(t, files, {
        token: 'right-token',
        tls: { cert: pki.cert, key: pki.key },
        limits: { authFailuresPerMinute: 3 },
      });
      assert.equal(s.server.httpFace, 'on');
      const tls = { tls: true, ca: pki.caCert };
      const none = await fetchHttp(s.port, '/', tls);
      assert.equal(none.status, 401);
      assert.equal(none.headers['www-authenticate'], 'Bearer realm="xfer"');
      const ok = await fetchHttp(s.port, '/text.txt', {
        ...tls,
        headers: { Authorization: 'Bearer right-token' },
      });
      assert.equal(ok.status, 200);
      assert.ok(ok.body.toString().includes('big.bin'));
      // The xfer protocol shares the port over TLS.
      const xfer = await s.connect({ tls: { ca: pki.caCert }, token: 'right-token' });
      assert.equal((await xfer.list()).length, 3);
      for (const guess of ['wrong', 'right-toke']) {
        const got = await fetchHttp(s.port, '/', { ...tls, headers: { Authorization: `Bearer ${guess}` } });
        assert.equal(got.status, 401);
        assert.equal(got.headers['x-xfer-error'], 'ERR_XFER_AUTH');
      }
      // The guess that reaches the limit gets its 401, or its connection is cut with the lockout.
      const last = await fetchHttp(s.port, '/', {
        ...tls,
        headers: { Authorization: 'Bearer right-token2' },
      }).then(
        (got) => got.status,
        (err: Error) => err.message,
      );
      assert.ok(last === 401 || last === 'socket hang up', String(last));
      // Locked out now: the right token no longer helps, on HTTP or on the xfer protocol.
      await assert.rejects(
        fetchHttp(s.port, '/', { ...tls, headers: { Authorization: 'Bearer right-token' } }),
      );
      await assert.rejects(s.connect({ tls: { ca: pki.caCert }, token: 'right-token' }));
    },
  );
});
