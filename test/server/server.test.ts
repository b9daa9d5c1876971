import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, readFile, readdir, rm, symlink, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import type { ClientConnection } from '../../src/client/connection.js';
import { FrameType, encode, type FileIdentity } from '../../src/protocol/index.js';
import { RawPeer, rawFrame } from '../helpers/raw-peer.js';
import { XferServer } from '../../src/server/server.js';
import { startServer } from '../helpers/server.js';
import { patternBytes, sha256, sleep, tempDir, waitFor } from '../helpers/tmp.js';
import { finished, startCli, waitForStderr } from '../helpers/cli.js';

async function identityOf(conn: ClientConnection, name: string): Promise<FileIdentity> {
  return (await conn.stat(name)).identity;
}

/** GETs a range and returns the bytes received. */
async function fetchRange(
  conn: ClientConnection,
  name: string,
  offset: number,
  length: number,
  expect: FileIdentity,
) {
  const parts: Buffer[] = [];
  await conn.get({ name, offset, length, expect, onChunk: (c) => parts.push(Buffer.from(c)) > 0 });
  return Buffer.concat(parts);
}

/** A root with an empty resources/, deleted by the test itself. */
async function tempRoot(): Promise<string> {
  const root = await mkdtemp(join(tmpdir(), 'xfer-close-'));
  await mkdir(join(root, 'resources'));
  return root;
}

describe('xfer server', () => {
  test('text.txt and the catalog list spaces, unicode, empty files and subfolders, and follow changes', async (t) => {
    const s = await startServer(t, {
      'with space.txt': 'hello',
      'ünï/日本.bin': patternBytes(3000),
      empty: '',
    });
    const text = await readFile(join(s.root, 'text.txt'), 'utf8');
    assert.equal(text, 'empty 0 B\nwith space.txt 5 B\nünï/日本.bin 2.9 KiB\n');
    const conn = await s.connect();
    assert.deepEqual(
      (await conn.list()).map((e) => [e.name, e.size]),
      [
        ['empty', 0],
        ['with space.txt', 5],
        ['ünï/日本.bin', 3000],
      ],
    );
    await writeFile(join(s.resources, 'new.txt'), 'new!');
    await rm(join(s.resources, 'empty'));
    await waitFor(
      async () => (await readFile(join(s.root, 'text.txt'), 'utf8')).includes('new.txt 4 B'),
      5000,
      'text.txt update',
    );
    assert.doesNotMatch(await readFile(join(s.root, 'text.txt'), 'utf8'), /^empty /m);
    const names = (await conn.list()).map((e) => e.name);
    assert.ok(names.includes('new.txt') && !names.includes('empty'));
  });

  test('once close() resolves the server writes nothing under its root, even with a rescan under way', async () => {
    // Before, a scan in flight at close() still published text.txt afterwards, so
    // deleting the root right after close() failed now and then with ENOTEMPTY.
    for (let round = 0; round < 30; round++) {
      const root = await tempRoot();
      await writeFile(join(root, 'resources', 'a.bin'), patternBytes(20_000));
      const server = await XferServer.start({ root, host: '127.0.0.1', port: 0, rescanIntervalMs: 2 });
      for (let i = 0; i < 3; i++) {
        await writeFile(join(root, 'resources', `changed-${i}`), 'x');
        await sleep(round % 5);
      }
      await server.close();
      const left = await readdir(root);
      await rm(root, { recursive: true });
      assert.deepEqual(left.sort(), ['resources', 'text.txt'], `round ${round}`);
    }
  });

  test('serves exact ranges: first byte, last byte, empty, whole file; past the end is ERR_XFER_RANGE', async (t) => {
    const content = patternBytes(1_048_583, 3);
    const s = await startServer(t, { f: content });
    const conn = await s.connect();
    const id = await identityOf(conn, 'f');
    assert.equal(id.sha256.toString('hex'), sha256(content));
    assert.deepEqual(await fetchRange(conn, 'f', 0, 1, id), content.subarray(0, 1));
    assert.deepEqual(await fetchRange(conn, 'f', content.length - 1, 1, id), content.subarray(-1));
    assert.equal((await fetchRange(conn, 'f', 500, 0, id)).length, 0);
    assert.ok((await fetchRange(conn, 'f', 0, content.length, id)).equals(content));
    await assert.rejects(fetchRange(conn, 'f', content.length - 1, 2, id), { code: 'ERR_XFER_RANGE' });
    // The connection is still good after a refused request.
    assert.deepEqual(await fetchRange(conn, 'f', 10, 5, id), content.subarray(10, 15));
  });

  test('pipelined requests on one connection are answered in order', async (t) => {
    const content = patternBytes(200_000, 4);
    const s = await startServer(t, { f: content });
    const conn = await s.connect();
    const id = await identityOf(conn, 'f');
    const ranges = Array.from({ length: 50 }, (_, i) => [i * 4000, 4000] as const);
    const got = await Promise.all(ranges.map(([o, l]) => fetchRange(conn, 'f', o, l, id)));
    got.forEach((b, i) => assert.ok(b.equals(content.subarray(i * 4000, i * 4000 + 4000))));
  });

  test('unknown names, traversal names and escaping symlinks are refused', async (t) => {
    const s = await startServer(t, { 'ok.txt': 'ok' });
    const outside = await tempDir(t);
    await writeFile(join(outside, 'secret'), 'secret');
    await symlink(join(outside, 'secret'), join(s.resources, 'link'));
    await s.server.catalog.rescan();
    const conn = await s.connect();
    await assert.rejects(conn.stat('nope'), { code: 'ERR_XFER_NOT_FOUND' });
    await assert.rejects(conn.stat('link'), { code: 'ERR_XFER_NOT_FOUND' });
    assert.deepEqual(
      (await conn.list()).map((e) => e.name),
      ['ok.txt'],
    );
    for (const name of ['../secret', '/etc/passwd', 'a\\b', 'x/../../y', 'nul\0']) {
      const peer = await RawPeer.open(s.port);
      t.after(() => peer.close());
      peer.hello();
      const nameBytes = Buffer.from(name);
      const len = Buffer.alloc(2);
      len.writeUInt16BE(nameBytes.length);
      peer.send(rawFrame(FrameType.STAT, Buffer.concat([Buffer.alloc(4), len, nameBytes])));
      await waitFor(() => peer.closed, 3000, `close after ${JSON.stringify(name)}`);
      assert.deepEqual(peer.errors(), ['ERR_XFER_NAME']);
    }
  });

  test('a GET for a file that changed since it was listed gets ERR_XFER_CHANGED', async (t) => {
    const s = await startServer(t, { f: patternBytes(10_000) });
    const conn = await s.connect();
    const id = await identityOf(conn, 'f');
    await writeFile(join(s.resources, 'f'), patternBytes(10_000, 9));
    await assert.rejects(fetchRange(conn, 'f', 0, 100, id), { code: 'ERR_XFER_CHANGED' });
    const fresh = await identityOf(conn, 'f');
    assert.ok((await fetchRange(conn, 'f', 0, 100, fresh)).equals(patternBytes(10_000, 9).subarray(0, 100)));
  });

  test('a listed file swapped for a FIFO or an escaping symlink is refused, and the server keeps serving', async (t) => {
    const s = await startServer(t, { fifo: 'aaaa', link: 'bbbb', ok: 'cccc' });
    const conn = await s.connect();
    const ids = { fifo: await identityOf(conn, 'fifo'), link: await identityOf(conn, 'link') };
    const outside = await tempDir(t);
    await writeFile(join(outside, 'secret'), 'secret');
    await rm(join(s.resources, 'fifo'));
    execFileSync('mkfifo', [join(s.resources, 'fifo')]);
    await rm(join(s.resources, 'link'));
    await symlink(join(outside, 'secret'), join(s.resources, 'link'));
    // A small GET is read synchronously: opening a FIFO there must not block the whole server.
    await assert.rejects(fetchRange(conn, 'fifo', 0, 4, ids.fifo), { code: 'ERR_XFER_NOT_FOUND' });
    await assert.rejects(fetchRange(conn, 'link', 0, 4, ids.link), { code: 'ERR_XFER_NOT_FOUND' });
    const other = await s.connect();
    assert.equal((await fetchRange(other, 'ok', 0, 4, await identityOf(other, 'ok'))).toString(), 'cccc');
  });

  test('small GETs pipelined by a client that never reads are held back, not buffered', async (t) => {
    const content = patternBytes(200 * 1024, 12);
    const s = await startServer(t, { f: content });
    const id = await identityOf(await s.connect(), 'f');
    const peer = await RawPeer.open(s.port, '127.0.0.5');
    t.after(() => peer.close());
    peer.socket.pause();
    peer.hello();
    const rssBefore = process.memoryUsage().rss;
    // 1000 x 200 KiB = 195 MiB asked for, on a socket nobody reads.
    peer.send(
      Buffer.concat(
        Array.from({ length: 1000 }, (_, i) =>
          encode({ type: 'get', requestId: i + 1, name: 'f', offset: 0, length: content.length, expect: id }),
        ),
      ),
    );
    // Wait for the state that matters: memory has stopped growing (the server is held back).
    let last = 0;
    await waitFor(
      async () => {
        const rss = process.memoryUsage().rss;
        const settled = Math.abs(rss - last) < 1024 * 1024;
        last = rss;
        await sleep(250);
        return settled;
      },
      20_000,
      'memory to settle',
    );
    const grown = process.memoryUsage().rss - rssBefore;
    assert.ok(grown < 64 * 1024 * 1024, `the server buffered ${Math.round(grown / 1024 / 1024)} MiB`);
    const good = await s.connect();
    assert.ok((await fetchRange(good, 'f', 0, 1000, id)).equals(content.subarray(0, 1000)));
  });

  test('a file modified while its range is being sent is reported as changed after the bytes', async (t) => {
    const s = await startServer(t, { f: patternBytes(32 * 1024 * 1024) });
    const id = await identityOf(await s.connect(), 'f');
    const peer = await RawPeer.ready(s.port);
    t.after(() => peer.close());
    // The peer stops reading at its first raw bytes, so the server is mid-range when the file changes.
    peer.pauseOnData = true;
    peer.get(1, 'f', id.size, id);
    await waitFor(() => peer.dataBytes > 0, 5000, 'first chunk');
    await utimes(join(s.resources, 'f'), new Date(), new Date(Date.now() + 5000));
    peer.socket.resume();
    await waitFor(() => peer.errors().length > 0, 5000, 'late CHANGED error');
    assert.equal(peer.dataBytes, id.size, 'every byte of the range came before the error');
    const late = peer.messages.find((m) => m.type === 'error');
    assert.deepEqual(late && [late.type === 'error' && late.requestId, peer.errors()], [
      1,
      ['ERR_XFER_CHANGED'],
    ]);
  });

  test('20 clients with 4 connections each all receive exact bytes', async (t) => {
    const files = Object.fromEntries(
      Array.from({ length: 5 }, (_, i) => [`f${i}`, patternBytes(2 * 1024 * 1024 + i * 977, i + 1)]),
    );
    const s = await startServer(t, files);
    await Promise.all(
      Array.from({ length: 20 }, async (_, c) => {
        const name = `f${c % 5}`;
        const content = files[name]!;
        const conns = await Promise.all([0, 1, 2, 3].map(() => s.connect()));
        const id = await identityOf(conns[0]!, name);
        const quarter = Math.ceil(content.length / 4);
        const parts = await Promise.all(
          conns.map((conn, i) =>
            fetchRange(conn, name, i * quarter, Math.min(quarter, content.length - i * quarter), id),
          ),
        );
        assert.equal(sha256(Buffer.concat(parts)), sha256(content));
      }),
    );
  });

  test('one client gets at most 4 concurrent data connections per file', async (t) => {
    const s = await startServer(t, { f: patternBytes(16 * 1024 * 1024) });
    const sessionId = randomBytes(16);
    const conns = await Promise.all([0, 4].map(() => s.connect({ sessionId })));
    const id = await identityOf(conns[0]!, 'f');
    // Four slow GETs hold the four slots (each stops reading at its first raw bytes).
    const holders = await Promise.all([0, 1, 2, 3].map(() => RawPeer.ready(s.port, sessionId)));
    t.after(() => holders.forEach((h) => h.close()));
    for (const holder of holders) {
      holder.pauseOnData = true;
      holder.get(1, 'f', id.size, id);
    }
    await waitFor(() => holders.every((h) => h.dataBytes > 0), 5000, 'four holders');
    await assert.rejects(fetchRange(conns[1]!, 'f', 0, 10, id), { code: 'ERR_XFER_LIMIT' });
    holders.forEach((h) => h.socket.resume());
    await waitFor(() => holders.every((h) => h.dataBytes === id.size), 10_000, 'holders finish');
    // Slots are released once the server has closed out each range: the fifth connection may now fetch.
    await waitFor(
      async () => (await fetchRange(conns[1]!, 'f', 0, 10, id).catch(() => Buffer.alloc(0))).length === 10,
      3000,
      'a free slot',
    );
  });

  test('a client that drops its connections mid-range gets its slots back and leaks no file handles', async (t) => {
    const { readdirSync } = await import('node:fs');
    const openFds = () => readdirSync('/proc/self/fd').length;
    const content = patternBytes(16 * 1024 * 1024);
    const s = await startServer(t, { f: content }, { limits: { bytesPerSecondPerConnection: 1024 * 1024 } });
    const sessionId = randomBytes(16);
    const first = await Promise.all([0, 1, 2, 3].map(() => s.connect({ sessionId })));
    const id = await identityOf(first[0]!, 'f');
    const fdsBefore = openFds();
    const started = new Set<number>();
    const cut = first.map((conn, i) =>
      conn
        .get({
          name: 'f',
          offset: i * 4 * 1024 * 1024,
          length: 4 * 1024 * 1024,
          expect: id,
          onChunk: () => started.add(i) !== undefined,
        })
        .catch((e: Error) => e),
    );
    // The server is mid-range on all four (1 MiB/s each, 4 MiB each), pacing its reads.
    await waitFor(() => started.size === 4, 5000, 'bytes on all four connections');
    first.forEach((conn) => conn.close());
    await Promise.all(cut);
    await waitFor(() => s.server.admission.size === 0, 5000, 'the server to close all four');
    // A slot is given back just after its connection closes, once the range's file is closed.
    const again = await Promise.all([0, 1, 2, 3].map(() => s.connect({ sessionId })));
    const parts: Buffer[] = [];
    await waitFor(
      async () => {
        const tries = await Promise.all(
          again.map((conn, i) => fetchRange(conn, 'f', i * 1024, 1024, id).catch(() => Buffer.alloc(0))),
        );
        parts.splice(0, parts.length, ...tries);
        return tries.every((p) => p.length === 1024);
      },
      5000,
      'all four slots free again',
    );
    assert.ok(parts.every((p, i) => p.equals(content.subarray(i * 1024, i * 1024 + 1024))));
    again.forEach((conn) => conn.close());
    await waitFor(() => openFds() <= fdsBefore, 3000, 'file handles closed');
  });

  test('garbage, absurd lengths, slowloris and 300 idle sockets do not stop a good client', async (t) => {
    const content = patternBytes(4 * 1024 * 1024, 7);
    const s = await startServer(t, { f: content }, { limits: { handshakeTimeoutMs: 500 } });
    const rssBefore = process.memoryUsage().rss;
    // The attackers come from 127.0.0.3, the good client from 127.0.0.1.
    const attacker = '127.0.0.3';
    const garbage = await RawPeer.open(s.port, attacker);
    garbage.send(randomBytes(1024 * 1024));
    const absurd = await RawPeer.open(s.port, attacker);
    absurd.hello();
    absurd.send(Buffer.from([FrameType.GET, 0xff, 0xff, 0xff, 0xff]));
    const slow = await RawPeer.open(s.port, attacker);
    const drip = setInterval(() => slow.send(Buffer.from('X')), 100);
    t.after(() => clearInterval(drip));
    const idle = await Promise.all(Array.from({ length: 300 }, () => RawPeer.open(s.port, attacker)));
    t.after(() => idle.forEach((p) => p.close()));

    const conn = await s.connect();
    assert.equal((await conn.list()).length, 1);
    const id = await identityOf(conn, 'f');
    assert.equal(sha256(await fetchRange(conn, 'f', 0, content.length, id)), sha256(content));

    await waitFor(() => garbage.closed && absurd.closed, 3000, 'hostile peers closed');
    assert.deepEqual(garbage.errors(), ['ERR_XFER_MAGIC']);
    assert.deepEqual(absurd.errors(), ['ERR_XFER_FRAME_TOO_LARGE']);
    // The handshake deadline is absolute: dripping bytes does not extend it, and silence is cut too.
    // Past the per-IP cap of 256 the attacker's extra sockets were refused outright.
    assert.ok(idle.some((p) => p.errors().includes('ERR_XFER_LIMIT')));
    await waitFor(() => slow.closed && idle.every((p) => p.closed), 5000, 'slow and idle peers closed');
    assert.ok(process.memoryUsage().rss - rssBefore < 150 * 1024 * 1024, 'memory stays bounded');
  });

  test('connection caps and request floods get coded refusals', async (t) => {
    const s = await startServer(
      t,
      { f: 'x' },
      { limits: { maxConnectionsPerIp: 3, requestsPerSecond: 10, requestBurst: 20 } },
    );
    const held = await Promise.all([0, 1, 2].map(() => s.connect()));
    await assert.rejects(s.connect(), { code: 'ERR_XFER_LIMIT' });
    held.slice(1).forEach((c) => c.close());
    await waitFor(() => s.server.admission.size === 1, 3000, 'two places freed');
    const flood = await RawPeer.open(s.port);
    flood.hello();
    flood.send(
      Buffer.concat(Array.from({ length: 200 }, (_, i) => encode({ type: 'list', requestId: i + 1 }))),
    );
    await waitFor(() => flood.closed, 3000, 'flooder cut off');
    assert.ok(flood.errors().includes('ERR_XFER_RATE_LIMIT'));
    assert.equal((await held[0]!.list()).length, 1, 'the well-behaved connection still works');
  });

  test('10,000 pipelined requests are all answered, in order, with bounded memory', async (t) => {
    const s = await startServer(t, { f: 'x' });
    const rssBefore = process.memoryUsage().rss;
    const peer = await RawPeer.open(s.port, '127.0.0.4');
    peer.hello();
    peer.send(
      Buffer.concat(Array.from({ length: 10_000 }, (_, i) => encode({ type: 'list', requestId: i + 1 }))),
    );
    const good = await s.connect();
    assert.equal((await good.list()).length, 1, 'a good client is served meanwhile');
    await waitFor(() => peer.messages.length >= 10_001, 20_000, 'all answers');
    const ids = peer.messages.flatMap((m) => (m.type === 'catalog' ? [m.requestId] : []));
    assert.equal(ids.length, 10_000);
    assert.ok(ids.every((id, i) => id === i + 1));
    assert.ok(process.memoryUsage().rss - rssBefore < 100 * 1024 * 1024);
  });

  test('a connection idle after the handshake is closed with ERR_XFER_TIMEOUT', async (t) => {
    const s = await startServer(t, { f: 'x' }, { limits: { idleTimeoutMs: 300 } });
    const peer = await RawPeer.open(s.port);
    peer.hello();
    await waitFor(() => peer.messages.some((m) => m.type === 'welcome'), 2000, 'welcome');
    const t0 = Date.now();
    await waitFor(() => peer.closed, 3000, 'idle close');
    assert.deepEqual(peer.errors(), ['ERR_XFER_TIMEOUT']);
    assert.ok(Date.now() - t0 >= 200, 'not before the idle timeout');
  });

  test('a client speaking another protocol version gets ERR_XFER_VERSION', async (t) => {
    const s = await startServer(t);
    const peer = await RawPeer.open(s.port);
    const preamble = Buffer.from('XFER\0\x09\0\0\0\0', 'latin1');
    peer.send(preamble);
    await waitFor(() => peer.closed, 3000);
    assert.deepEqual(peer.errors(), ['ERR_XFER_VERSION']);
  });

  test('SIGTERM mid-transfer: xfer serve exits 143 within the grace period', async (t) => {
    const root = await tempDir(t);
    const { mkdir } = await import('node:fs/promises');
    await mkdir(join(root, 'resources'));
    await writeFile(join(root, 'resources', 'big'), patternBytes(64 * 1024 * 1024));
    const child = startCli(['serve', '--root', root, '--host', '127.0.0.1', '--port', '0']);
    const exit = finished(child, 20_000);
    const banner = await waitForStderr(child, /on 127\.0\.0\.1:(\d+)/);
    const port = Number(/on 127\.0\.0\.1:(\d+)/.exec(banner)?.[1]);
    const { ClientConnection } = await import('../../src/client/connection.js');
    const control = await ClientConnection.open({ host: '127.0.0.1', port, sessionId: randomBytes(16) });
    const id = await identityOf(control, 'big');
    control.close();
    // A stuck client: it stops reading at its first raw bytes.
    const peer = await RawPeer.ready(port);
    t.after(() => peer.close());
    peer.pauseOnData = true;
    peer.get(1, 'big', id.size, id);
    await waitFor(() => peer.dataBytes > 0, 5000, 'transfer started');
    const t0 = Date.now();
    child.kill('SIGTERM');
    const result = await exit;
    assert.equal(result.code, 143, result.stderr);
    assert.ok(Date.now() - t0 < 8000, 'exits within the 5 s grace plus slack');
    // The client never read on, so the range was cut: reading what was buffered ends in a close.
    peer.socket.resume();
    await waitFor(() => peer.closed, 5000, 'the cut connection closes');
    assert.ok(peer.dataBytes < id.size, `${peer.dataBytes} of ${id.size} bytes`);
  });

  test('xfer ls prints a table and names the address it cannot reach', async (t) => {
    const s = await startServer(t, { 'a b.txt': 'hi', big: patternBytes(3 * 1024 * 1024) });
    const { runCli } = await import('../helpers/cli.js');
    const ok = await runCli(['ls', `127.0.0.1:${s.port}`]);
    assert.equal(ok.code, 0, ok.stderr);
    assert.match(ok.stdout, /^NAME\s+SIZE\na b\.txt\s+2 B\nbig\s+3 MiB\n$/);
    const json = await runCli(['ls', `127.0.0.1:${s.port}`, '--json']);
    assert.deepEqual(JSON.parse(json.stdout), {
      type: 'catalog',
      files: [
        { name: 'a b.txt', size: 2 },
        { name: 'big', size: 3145728 },
      ],
    });
    const down = await runCli(['ls', '127.0.0.1:1']);
    assert.equal(down.code, 1);
    assert.match(down.stderr, /127\.0\.0\.1:1.*ERR_XFER_CONNECT/);
    assert.equal(down.stdout, '');
  });
});
