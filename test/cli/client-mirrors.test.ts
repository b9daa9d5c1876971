import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, test, type TestContext } from 'node:test';
import type { ClientEvent } from '../../src/client/events.js';
import { runCli } from '../helpers/cli.js';
import { freePort } from '../helpers/ports.js';
import { Relay } from '../helpers/relay.js';
import { startServer } from '../helpers/server.js';
import { eventsOf } from '../helpers/session.js';
import { patternBytes, sha256, tempDir } from '../helpers/tmp.js';
import { sendFile, startWebServer } from '../helpers/web-server.js';

const MiB = 1024 * 1024;

/** The NDJSON lines of a --json run. */
function jsonEvents(stdout: string): ClientEvent[] {
  return stdout
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l) as ClientEvent);
}

/** Two servers holding the same file, each behind a pacing relay so both are needed. */
async function twoServers(t: TestContext, content: Buffer) {
  const a = await startServer(t, { big: content });
  const b = await startServer(t, { big: content });
  const ra = await Relay.start(a.port, () => ({ rateBytesPerSec: 24 * MiB }));
  const rb = await Relay.start(b.port, () => ({ rateBytesPerSec: 24 * MiB }));
  t.after(() => Promise.all([ra.close(), rb.close()]));
  return { ra, rb };
}

/** An xfer server holding `big.bin` behind a relay at 8 MiB/s, and the file's Repr-Digest for a web mirror. */
async function pacedServerAndDigest(t: TestContext, content: Buffer) {
  const server = await startServer(t, { 'big.bin': content });
  const relay = await Relay.start(server.port, () => ({ rateBytesPerSec: 8 * MiB }));
  t.after(() => relay.close());
  return { ra: relay, digest: `sha-256=:${createHash('sha256').update(content).digest('base64')}:` };
}

describe('xfer get --mirror and xfer client hostA hostB', () => {
  test("get --mirror fetches from both; --json names each part's source and the mirror left out", async (t) => {
    const content = patternBytes(24 * MiB + 3, 31);
    const { ra, rb } = await twoServers(t, content);
    const dead = await freePort();
    const out = await tempDir(t);
    const r = await runCli([
      'get',
      `127.0.0.1:${ra.port}`,
      'big',
      '--mirror',
      `127.0.0.1:${rb.port}`,
      '--mirror',
      `127.0.0.1:${dead}`,
      '--out',
      out,
      '--json',
    ]);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(sha256(await readFile(join(out, 'big'))), sha256(content));
    assert.ok(ra.bytesToClient > MiB && rb.bytesToClient > MiB, `${ra.bytesToClient} / ${rb.bytesToClient}`);
    const events = jsonEvents(r.stdout);
    const left = eventsOf(events, 'source');
    assert.equal(left.length, 1);
    assert.equal(left[0]?.source, `127.0.0.1:${dead}`);
    assert.equal(left[0]?.status, 'left-out');
    assert.equal(left[0]?.code, 'ERR_XFER_CONNECT');
    const start = eventsOf(events, 'start')[0];
    assert.deepEqual(
      [...new Set(start?.parts.map((p) => p.source))].sort(),
      [`127.0.0.1:${ra.port}`, `127.0.0.1:${rb.port}`].sort(),
    );
    const last = eventsOf(events, 'progress').at(-1);
    assert.equal(
      last?.sources.reduce((n, s) => n + s.bytes, 0),
      content.length,
      'the sources wrote the file between them',
    );
  });

  test('xfer client with two hosts fetches from both; a human gets a line naming a left-out mirror', async (t) => {
    const content = patternBytes(24 * MiB, 32);
    const { ra, rb } = await twoServers(t, content);
    const other = await startServer(t, { big: patternBytes(24 * MiB, 33) });
    const dir = await tempDir(t);
    await writeFile(join(dir, 'input.txt'), 'big\n');
    const r = await runCli([
      'client',
      `127.0.0.1:${ra.port}`,
      `127.0.0.1:${rb.port}`,
      `127.0.0.1:${other.port}`,
      '--dir',
      dir,
      '--once',
    ]);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(sha256(await readFile(join(dir, 'data', 'big'))), sha256(content));
    assert.ok(ra.bytesToClient > MiB && rb.bytesToClient > MiB, `${ra.bytesToClient} / ${rb.bytesToClient}`);
    assert.match(
      r.stderr,
      new RegExp(`Mirror 127\\.0\\.0\\.1:${other.port} left out for "big": it has another version`),
    );
  });

  test("get SERVER NAME --mirror URL/: an xfer server and a web folder share the file; --json names each part's source", async (t) => {
    const content = patternBytes(24 * MiB + 5, 34);
    const { ra, digest } = await pacedServerAndDigest(t, content);
    const web = await startWebServer(t, (req, res) => {
      if (req.url === '/with/big.bin')
        return sendFile(req, res, { data: content, etag: '"w"', headers: { 'repr-digest': digest } });
      if (req.url === '/bare/big.bin') return sendFile(req, res, { data: content, etag: '"b"' });
      res.writeHead(404).end();
    });
    const out = await tempDir(t);
    const r = await runCli([
      'get',
      `127.0.0.1:${ra.port}`,
      'big.bin',
      '--mirror',
      `${web.origin}/with/`,
      '--mirror',
      `${web.origin}/bare/`,
      '--out',
      out,
      '--json',
    ]);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(sha256(await readFile(join(out, 'big.bin'))), sha256(content));
    const events = jsonEvents(r.stdout);
    const left = eventsOf(events, 'source');
    assert.deepEqual(
      left.map((e) => [e.source, e.status, e.code]),
      [[`${web.origin}/bare/`, 'left-out', 'ERR_XFER_NO_DIGEST']],
    );
    const start = eventsOf(events, 'start')[0];
    assert.deepEqual(
      [...new Set(start?.parts.map((p) => p.source))].sort(),
      [`127.0.0.1:${ra.port}`, `${web.origin}/with/`].sort(),
    );
    const last = eventsOf(events, 'progress').at(-1);
    assert.ok(
      last?.sources.every((s) => s.bytes > 0),
      JSON.stringify(last?.sources),
    );
    assert.ok(web.requests.filter((q) => q.url === '/with/big.bin' && q.headers.range).length >= 2);
  });

  test('xfer client HOST --mirror URL/: the web folder serves the files input.txt names, beside the server', async (t) => {
    const content = patternBytes(16 * MiB + 9, 36);
    const { ra, digest } = await pacedServerAndDigest(t, content);
    const web = await startWebServer(t, (req, res) =>
      req.url === '/pub/big.bin'
        ? sendFile(req, res, { data: content, etag: '"c"', headers: { 'repr-digest': digest } })
        : res.writeHead(404).end(),
    );
    const dir = await tempDir(t);
    await writeFile(join(dir, 'input.txt'), 'big.bin\n');
    const r = await runCli([
      'client',
      `127.0.0.1:${ra.port}`,
      '--mirror',
      `${web.origin}/pub/`,
      '--dir',
      dir,
      '--once',
    ]);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(sha256(await readFile(join(dir, 'data', 'big.bin'))), sha256(content));
    assert.ok(web.requests.filter((q) => q.headers.range).length >= 2, 'the web folder served ranges');
    assert.ok(ra.bytesToClient > MiB, 'the server served bytes');
  });

  test('get URL --mirror URL: the file comes from both web servers, checked against --checksum', async (t) => {
    const content = patternBytes(16 * MiB + 1, 35);
    const web = await startWebServer(t, (req, res) => sendFile(req, res, { data: content, etag: '"e"' }));
    const relay = await Relay.start(Number(new URL(web.origin).port), () => ({ rateBytesPerSec: 8 * MiB }));
    const mirror = await startWebServer(t, (req, res) => sendFile(req, res, { data: content, etag: '"m"' }));
    t.after(() => relay.close());
    const out = await tempDir(t);
    const r = await runCli([
      'get',
      `http://127.0.0.1:${relay.port}/big.bin`,
      '--mirror',
      `${mirror.origin}/big.bin`,
      '--checksum',
      `sha256=${sha256(content)}`,
      '--out',
      out,
      '--json',
    ]);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(sha256(await readFile(join(out, 'big.bin'))), sha256(content));
    const events = jsonEvents(r.stdout);
    assert.equal(eventsOf(events, 'done')[0]?.verified, 'sha256 (checksum)');
    const sources = new Set(eventsOf(events, 'start')[0]?.parts.map((p) => p.source));
    assert.ok(sources.has(`${mirror.origin}/big.bin`), [...sources].join(' '));
    assert.ok(mirror.requests.filter((q) => q.headers.range).length >= 2, 'the mirror served ranges');
    assert.ok(relay.bytesToClient > MiB, 'the primary served bytes');
  });

  test('bad SOURCE strings are usage errors (exit 2, ERR_XFER_USAGE under --json), before any connection', async () => {
    const cases: [string[], RegExp][] = [
      [['get', '127.0.0.1:1', 'big', '--mirror', 'ftp://127.0.0.1/big'], /a SOURCE is HOST\[:PORT\]/],
      [['get', '127.0.0.1:1', 'big', '--mirror', 'http://'], /a SOURCE is HOST\[:PORT\]/],
      [['get', '127.0.0.1:1', 'big', '--mirror', 'http://[::1/x'], /a SOURCE is HOST\[:PORT\]/],
      [['get', '127.0.0.1:1', 'big', '--mirror', 'host:99999'], /not a port number/],
      [['get', '127.0.0.1:1', 'a', 'b', '--mirror', 'http://127.0.0.1:1/a'], /folder URL ending in "\/"/],
      [['get', 'http://127.0.0.1:1/a', '--mirror', '127.0.0.1:2'], /each mirror is a URL too/],
      [
        ['get', 'http://127.0.0.1:1/a', 'http://127.0.0.1:1/b', '--mirror', 'http://127.0.0.1:2/a'],
        /folder URL/,
      ],
      [['client', '127.0.0.1:1', 'http://127.0.0.1:2/', '--once'], /give the web mirror .* with --mirror/],
      [['client', '127.0.0.1:1', '--mirror', 'http://127.0.0.1:2/one.bin', '--once'], /folder URL/],
    ];
    for (const [args, message] of cases) {
      const r = await runCli([...args, '--json']);
      assert.equal(r.code, 2, `${args.join(' ')}: ${r.stderr}`);
      assert.match(r.stderr, message, args.join(' '));
      const events = jsonEvents(r.stdout);
      assert.deepEqual(
        events.map((e) => e.type === 'error' && e.code),
        ['ERR_XFER_USAGE'],
      );
    }
  });

  test('a SOURCE with terminal controls is refused with the controls escaped', async () => {
    const r = await runCli(['get', '127.0.0.1:1', 'big', '--mirror', 'gopher://x\u001b[2J/']);
    assert.equal(r.code, 2);
    assert.ok(!r.stderr.includes('\u001b'), r.stderr);
    assert.match(r.stderr, /a SOURCE is HOST/);
  });
});
