import assert from 'node:assert/strict';
import { symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { fetchHttp, rawHttp, statusesOf } from '../../helpers/http.js';
import { startServer } from '../../helpers/server.js';
import { waitFor } from '../../helpers/tmp.js';

const SECRET = 'TOP-SECRET-outside-resources';
const files: Record<string, string> = { 'ok.txt': 'honest bytes\n' };
for (let i = 0; i < 10; i++) files[`f${i}.txt`] = `file ${i}\n`;

/** Each hostile request, its status, and whether the server then closes the connection. */
const cases: [string, string | Buffer, number, 'close' | 'keep'][] = [
  ['dot-dot', 'GET /../secret.txt HTTP/1.1\r\nHost: x\r\n\r\n', 400, 'keep'],
  ['dot-dot deeper', 'GET /ok.txt/../../secret.txt HTTP/1.1\r\nHost: x\r\n\r\n', 400, 'keep'],
  ['%2e%2e', 'GET /%2e%2e/secret.txt HTTP/1.1\r\nHost: x\r\n\r\n', 400, 'keep'],
  ['%2E%2e mixed case', 'GET /%2E%2e/secret.txt HTTP/1.1\r\nHost: x\r\n\r\n', 400, 'keep'],
  ['.%2e', 'GET /.%2e/secret.txt HTTP/1.1\r\nHost: x\r\n\r\n', 400, 'keep'],
  ['%2f', 'GET /..%2fsecret.txt HTTP/1.1\r\nHost: x\r\n\r\n', 400, 'keep'],
  ['%5c', 'GET /..%5csecret.txt HTTP/1.1\r\nHost: x\r\n\r\n', 400, 'keep'],
  ['backslash', 'GET /..\\secret.txt HTTP/1.1\r\nHost: x\r\n\r\n', 400, 'keep'],
  ['%00', 'GET /ok.txt%00.png HTTP/1.1\r\nHost: x\r\n\r\n', 400, 'keep'],
  ['double encoding', 'GET /%252e%252e/secret.txt HTTP/1.1\r\nHost: x\r\n\r\n', 404, 'keep'],
  ['overlong UTF-8 dots', 'GET /%c0%ae%c0%ae/secret.txt HTTP/1.1\r\nHost: x\r\n\r\n', 400, 'keep'],
  ['absolute URL', 'GET http://127.0.0.1/secret.txt HTTP/1.1\r\nHost: x\r\n\r\n', 400, 'keep'],
  ['absolute path', 'GET //etc/passwd HTTP/1.1\r\nHost: x\r\n\r\n', 400, 'keep'],
  ['symlink out', 'GET /link.txt HTTP/1.1\r\nHost: x\r\n\r\n', 404, 'keep'],
  [
    'a 20 KiB header',
    `GET /ok.txt HTTP/1.1\r\nHost: x\r\nX-Big: ${'a'.repeat(20_000)}\r\n\r\n`,
    431,
    'close',
  ],
  ['10,000 headers', `GET /ok.txt HTTP/1.1\r\nHost: x\r\n${'X-A: b\r\n'.repeat(10_000)}\r\n`, 431, 'close'],
  ['a 1 MiB request line', `GET /${'a'.repeat(1024 * 1024)} HTTP/1.1\r\nHost: x\r\n\r\n`, 431, 'close'],
  [
    'a range past 2^53',
    'GET /ok.txt HTTP/1.1\r\nHost: x\r\nRange: bytes=9007199254740993-\r\n\r\n',
    416,
    'keep',
  ],
  ['Range: bytes=5-1', 'GET /ok.txt HTTP/1.1\r\nHost: x\r\nRange: bytes=5-1\r\n\r\n', 200, 'keep'],
  ['a negative range', 'GET /ok.txt HTTP/1.1\r\nHost: x\r\nRange: bytes=--5\r\n\r\n', 200, 'keep'],
  ['a garbage range', 'GET /ok.txt HTTP/1.1\r\nHost: x\r\nRange: \u00ff\u00fe garbage\r\n\r\n', 200, 'keep'],
  [
    'absurd Content-Length on a GET',
    'GET /ok.txt HTTP/1.1\r\nHost: x\r\nContent-Length: 99999999999999999999999\r\n\r\n',
    400,
    'close',
  ],
  [
    'a large Content-Length on a GET',
    'GET /ok.txt HTTP/1.1\r\nHost: x\r\nContent-Length: 1000000000\r\n\r\n',
    400,
    'close',
  ],
  [
    'chunked body on a GET',
    'GET /ok.txt HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n',
    400,
    'close',
  ],
  ['POST', 'POST /ok.txt HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n', 405, 'keep'],
  ['HTTP/0.9', 'GET /ok.txt\r\n\r\n', 505, 'close'],
  [
    'HTTP/2 prior knowledge',
    'PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n\x00\x00\x00\x04\x00\x00\x00\x00\x00',
    400,
    'close',
  ],
  [
    'garbage after a method',
    Buffer.concat([Buffer.from('GET '), Buffer.from([0, 0xff, 0xfe, 0x0d, 0x0a, 0x0d, 0x0a])]),
    400,
    'close',
  ],
  ['no Host on HTTP/1.1', 'GET /ok.txt HTTP/1.1\r\n\r\n', 400, 'close'],
  [
    'request smuggling: two Content-Lengths',
    'GET /ok.txt HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\nContent-Length: 5\r\n\r\n',
    400,
    'close',
  ],
];

describe('HTTP face under hostile requests', () => {
  test('each gets a clear status or a closed connection, never a byte from outside, and an honest request succeeds after', async (t) => {
    const s = await startServer(t, files, { httpLimits: { headersTimeoutMs: 1_000 } });
    await writeFile(join(s.root, 'secret.txt'), SECRET);
    await symlink(join(s.root, 'secret.txt'), join(s.resources, 'link.txt'));
    await s.server.catalog.rescan();
    for (const [what, bytes, status, then] of cases) {
      // A kept connection is read up to its first headers; a closing one until the server closes it.
      const { received, closedByServer } = await rawHttp(s.port, bytes, { untilHeaders: then === 'keep' });
      const text = received.toString('latin1');
      assert.ok(!text.includes(SECRET), `${what}: leaked the secret`);
      assert.equal(statusesOf(received)[0], status, `${what}: ${text.slice(0, 200)}`);
      if (then === 'close') assert.ok(closedByServer, `${what}: the server closed the connection`);
      const honest = await fetchHttp(s.port, '/ok.txt');
      assert.equal(honest.body.toString(), 'honest bytes\n', `after ${what}`);
    }
    const conn = await s.connect();
    assert.equal((await conn.list()).length, 11, 'the xfer protocol still serves too');
  });

  test('a header that never ends is cut at the header deadline, however slowly it drips', async (t) => {
    const s = await startServer(t, files, { httpLimits: { headersTimeoutMs: 1_000 } });
    const baseline = Date.now();
    const { received, closedByServer } = await new Promise<{ received: Buffer; closedByServer: boolean }>(
      (resolve) => {
        void import('node:net').then(({ connect }) => {
          const socket = connect({ host: '127.0.0.1', port: s.port });
          const chunks: Buffer[] = [];
          socket.write('GET /ok.txt HTTP/1.1\r\nHost: x\r\nX-Drip: ');
          const drip = setInterval(() => socket.write('a'), 100);
          const give = setTimeout(() => socket.destroy(), 15_000);
          socket.on('data', (c: Buffer) => chunks.push(c));
          socket.on('error', () => undefined);
          socket.on('close', () => {
            clearInterval(drip);
            clearTimeout(give);
            resolve({ received: Buffer.concat(chunks), closedByServer: Date.now() - baseline < 15_000 });
          });
        });
      },
    );
    assert.ok(closedByServer, 'the server closed the dripping connection');
    assert.deepEqual(statusesOf(received), [408]);
    assert.equal((await fetchHttp(s.port, '/ok.txt')).status, 200);
  });

  test('a malformed request after an answered one on the same connection still gets its 400', async (t) => {
    const s = await startServer(t, files);
    // Hashing done first: a server closed mid-hash rescans a removed folder (catalog.open's retry).
    await waitFor(() => s.server.catalog.entries().every((e) => e.sha256), 10_000, 'files hashed');
    const { connect } = await import('node:net');
    const socket = connect({ host: '127.0.0.1', port: s.port });
    socket.on('error', () => undefined);
    let received = '';
    const closed = new Promise<void>((resolve) => socket.on('close', () => resolve()));
    socket.on('data', (c: Buffer) => {
      received += c.toString('latin1');
      // Once the first answer is in, send garbage on the same (kept-alive) connection.
      if (received.includes('honest bytes\n') && !socket.writableEnded) socket.end('GET /a b c\r\n\r\n');
    });
    socket.write('GET /ok.txt HTTP/1.1\r\nHost: x\r\n\r\n');
    await closed;
    assert.deepEqual(statusesOf(Buffer.from(received, 'latin1')), [200, 400]);
  });

  test('1000 pipelined requests are all answered, in order, on one connection', async (t) => {
    const s = await startServer(t, files);
    let requests = '';
    for (let i = 0; i < 1000; i++) requests += `GET /f${i % 10}.txt HTTP/1.1\r\nHost: x\r\n\r\n`;
    requests += 'GET /ok.txt HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n';
    const { received, closedByServer } = await rawHttp(s.port, requests, { waitMs: 60_000 });
    assert.ok(closedByServer);
    const bodies = [...received.toString('latin1').matchAll(/\r\n\r\n(file \d|honest bytes)\n/g)].map(
      (m) => m[1],
    );
    assert.equal(bodies.length, 1001);
    bodies.slice(0, 1000).forEach((body, i) => assert.equal(body, `file ${i % 10}`, `answer ${i}`));
    assert.equal(bodies[1000], 'honest bytes');
  });

  test('a connection that sends requests faster than the rate limit gets a 429 and is closed', async (t) => {
    const s = await startServer(t, files, { limits: { requestBurst: 20, requestsPerSecond: 1 } });
    let requests = '';
    for (let i = 0; i < 50; i++) requests += `HEAD /ok.txt HTTP/1.1\r\nHost: x\r\n\r\n`;
    const { received, closedByServer } = await rawHttp(s.port, requests, { waitMs: 10_000 });
    const statuses = statusesOf(received);
    assert.ok(closedByServer);
    assert.deepEqual(statuses.slice(0, 20), Array(20).fill(200));
    assert.equal(statuses[20], 429);
    await waitFor(
      async () => (await fetchHttp(s.port, '/ok.txt')).status === 200,
      5_000,
      'a new connection is served',
    );
  });
});
