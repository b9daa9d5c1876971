import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { readFile, readdir, rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { encode } from '../../src/protocol/index.js';
import { catalogFrame, rawCatalog, startFakeServer } from '../helpers/fake-server.js';
import { Relay } from '../helpers/relay.js';
import { startServer } from '../helpers/server.js';
import { eventsOf, newSession } from '../helpers/session.js';
import { patternBytes, sha256, tempDir, waitFor } from '../helpers/tmp.js';

const MiB = 1024 * 1024;

/** Every path under `dir`, recursively, relative to it: the client's own `.xfer/` folder shows only what it holds. */
async function tree(dir: string): Promise<string[]> {
  return (await readdir(dir, { recursive: true }))
    .map(String)
    .filter((p) => p !== '.xfer')
    .sort();
}

describe('client session', () => {
  test('fetches files of 0, 1, 3, 1048583 bytes and tens of MiB with spaces and unicode, exactly', async (t) => {
    const files: Record<string, Buffer> = {
      empty: Buffer.alloc(0),
      one: Buffer.from('x'),
      three: Buffer.from('abc'),
      'odd size.bin': patternBytes(1_048_583, 2),
      'ünïcödé/大きい ファイル.bin': patternBytes(40 * MiB + 17, 3),
    };
    const s = await startServer(t, files);
    const run = await newSession(t, s.port);
    for (const name of Object.keys(files))
      assert.deepEqual(await run.session.fetch(name), { ok: true }, name);
    for (const [name, content] of Object.entries(files)) {
      assert.equal(sha256(await readFile(join(run.dataDir, name))), sha256(content), name);
    }
    const done = eventsOf(run.events, 'done');
    assert.deepEqual(
      done.map((d) => d.file),
      Object.keys(files),
    );
    assert.equal(done.at(-1)?.sha256, sha256(files['ünïcödé/大きい ファイル.bin']!));
    // No .part and no resume state is left behind.
    assert.ok((await tree(run.dataDir)).every((p) => !p.startsWith('.xfer/')));
  });

  test('a 4-connection download uses 4 connections at once, and never more', async (t) => {
    const content = patternBytes(48 * MiB, 5);
    const s = await startServer(t, { big: content });
    const relay = await Relay.start(s.port, () => ({ rateBytesPerSec: 40 * MiB }));
    t.after(() => relay.close());
    const run = await newSession(t, relay.port);
    assert.ok((await run.session.fetch('big')).ok);
    assert.equal(relay.maxActive, 4);
    assert.equal(sha256(await readFile(join(run.dataDir, 'big'))), sha256(content));
    const start = eventsOf(run.events, 'start')[0];
    assert.equal(start?.parts.length, 4);
    const progress = eventsOf(run.events, 'progress');
    assert.ok(progress.length > 3, 'progress is reported while the file downloads');
    assert.deepEqual(
      progress.at(-1)?.parts.map((p) => [p.part, p.bytes === p.total]),
      [
        [0, true],
        [1, true],
        [2, true],
        [3, true],
      ],
    );
  });

  test('--connections 1 uses a single connection', async (t) => {
    const s = await startServer(t, { f: patternBytes(8 * MiB) });
    const relay = await Relay.start(s.port);
    t.after(() => relay.close());
    const run = await newSession(t, relay.port, { connections: 1 });
    assert.ok((await run.session.fetch('f')).ok);
    assert.equal(relay.maxActive, 1);
  });

  test('a byte flipped in transit is caught and only the bad piece is fetched again', async (t) => {
    const content = patternBytes(16 * MiB, 6);
    const s = await startServer(t, { f: content });
    // The second connection flips one byte once, 3 MiB into what it relays.
    const relay = await Relay.start(s.port, (i) => (i === 1 ? { corruptAtByte: 3 * MiB } : {}));
    t.after(() => relay.close());
    const run = await newSession(t, relay.port);
    assert.ok((await run.session.fetch('f')).ok);
    assert.equal(sha256(await readFile(join(run.dataDir, 'f'))), sha256(content));
    assert.deepEqual(
      eventsOf(run.events, 'repair').map((r) => r.pieces),
      [1],
    );
    const done = eventsOf(run.events, 'done')[0];
    assert.ok(done && done.bytesTransferred < content.length + 2 * MiB, 'only about one piece was re-sent');
  });

  test('data corrupted on every attempt is rejected after the repair rounds and never takes the final name', async (t) => {
    const content = patternBytes(3 * MiB, 7);
    const digest = (b: Buffer) => createHash('sha256').update(b).digest();
    const identity = { size: content.length, mtimeUs: 1, sha256: digest(content) };
    const hashes = [0, 1, 2].map((p) => digest(content.subarray(p * MiB, (p + 1) * MiB)));
    const served = Buffer.from(content);
    served[MiB + 5] = (served[MiB + 5] ?? 0) ^ 1; // piece 1 is always wrong
    let gets = 0;
    const { port } = await startFakeServer(t, {
      list: (id) => catalogFrame(id, [{ name: 'f', ...identity, pieceSize: MiB }]),
      stat: (id) => encode({ type: 'pieces', requestId: id, identity, pieceSize: MiB, hashes }),
      get: (req, socket) => {
        gets++;
        socket.write(
          encode({ type: 'data', requestId: req.requestId, offset: req.offset, length: req.length }),
        );
        socket.write(served.subarray(req.offset, req.offset + req.length));
      },
    });
    const run = await newSession(t, port);
    assert.deepEqual(await run.session.fetch('f'), { ok: false, retryable: false });
    assert.deepEqual(
      eventsOf(run.events, 'repair').map((r) => r.pieces),
      [1, 1],
    );
    assert.deepEqual(
      eventsOf(run.events, 'error').map((e) => e.code),
      ['ERR_XFER_CORRUPT'],
    );
    assert.equal(gets, 3 + 2, 'three parts, then piece 1 twice more');
    assert.deepEqual(await tree(run.dataDir), []);
  });

  test('a file that changes on the server mid-download starts over and ends exact', async (t) => {
    // The server paces its own reads (4 connections at 4 MiB/s: about 1.5 s for the file), so it
    // is still reading when the file is replaced as the first bytes arrive. (A relay would not do: the server
    // could park the whole old file in socket buffers first, and the old version would complete.)
    const s = await startServer(
      t,
      { f: patternBytes(24 * MiB, 8) },
      { limits: { bytesPerSecondPerConnection: 4 * MiB } },
    );
    const run = await newSession(t, s.port);
    const replacement = patternBytes(24 * MiB, 9);
    const fetching = run.session.fetch('f');
    // Replaced once bytes flow (a state, not a sleep): the server is then still reading the old file.
    await waitFor(() => eventsOf(run.events, 'progress').some((p) => p.bytes > 0), 10_000, 'bytes arriving');
    // Replaced atomically, as a careful publisher does: one change, never a half-written file.
    await writeFile(join(s.resources, '.f.tmp'), replacement);
    await rename(join(s.resources, '.f.tmp'), join(s.resources, 'f'));
    assert.ok((await fetching).ok);
    assert.equal(sha256(await readFile(join(run.dataDir, 'f'))), sha256(replacement));
    assert.ok(eventsOf(run.events, 'restart').length >= 1);
  });

  test('lookup asks only about the named files, one STAT each, and returns the missing ones', async (t) => {
    const content = Buffer.from('hello');
    const identity = {
      size: content.length,
      mtimeUs: 1,
      sha256: createHash('sha256').update(content).digest(),
    };
    let lists = 0;
    const stats: string[] = [];
    const { port } = await startFakeServer(t, {
      list: (id) => {
        lists++;
        return catalogFrame(id, []);
      },
      stat: (id, name) => {
        stats.push(name);
        return name === 'a'
          ? encode({ type: 'pieces', requestId: id, identity, pieceSize: MiB, hashes: [identity.sha256] })
          : encode({ type: 'error', requestId: id, code: 'ERR_XFER_NOT_FOUND', message: 'no such file' });
      },
      get: (req, socket) => {
        socket.write(encode({ type: 'data', requestId: req.requestId, offset: 0, length: req.length }));
        socket.write(content);
      },
    });
    const run = await newSession(t, port);
    assert.deepEqual(await run.session.lookup(['a', 'b', '../c']), ['b', '../c']);
    assert.equal(lists, 1, 'only the session start listed the catalog');
    assert.deepEqual(stats.sort(), ['a', 'b'], 'an invalid name is never sent');
    assert.ok((await run.session.fetch('a')).ok);
    assert.equal(await readFile(join(run.dataDir, 'a'), 'utf8'), 'hello');
  });

  describe('against a malicious server', () => {
    const hostileNames: [string, Buffer][] = [
      ['../x', Buffer.from('../x')],
      ['/etc/x', Buffer.from('/etc/x')],
      ['a\\b', Buffer.from('a\\b')],
      ['NUL', Buffer.from('a\0b')],
      ['ESC', Buffer.from('a\x1b[31mb')],
      ['invalid UTF-8', Buffer.from([0x61, 0xff])],
    ];
    for (const [label, name] of hostileNames) {
      test(`a catalog name like ${label} is refused and nothing is written`, async (t) => {
        const { port } = await startFakeServer(t, {
          list: (id) => rawCatalog(id, [{ name, size: 10, sha256: Buffer.alloc(32) }]),
        });
        const root = await tempDir(t);
        await assert.rejects(
          newSession(t, port, { dataDir: join(root, 'data'), policy: { maxAttempts: 0 } }),
          {
            code: /ERR_XFER_NAME|ERR_XFER_MALFORMED/,
          },
        );
        assert.deepEqual(await tree(root), []);
      });
    }

    test('more bytes than asked, or another range than asked, is refused', async (t) => {
      const content = Buffer.from('0123456789');
      const sha = createHash('sha256').update(content).digest();
      for (const lie of [+5, -3]) {
        const { port } = await startFakeServer(t, {
          list: (id) => catalogFrame(id, [{ name: 'f', size: 10, mtimeUs: 1, pieceSize: MiB, sha256: sha }]),
          get: (req, socket) => {
            socket.write(
              encode({
                type: 'data',
                requestId: req.requestId,
                offset: req.offset,
                length: req.length + lie,
              }),
            );
            socket.write(Buffer.alloc(req.length + Math.max(0, lie), 0x41));
          },
        });
        const run = await newSession(t, port, { policy: { maxAttempts: 1 } });
        assert.deepEqual(await run.session.fetch('f'), { ok: false, retryable: false });
        assert.equal(eventsOf(run.events, 'error')[0]?.code, 'ERR_XFER_PROTOCOL');
        assert.ok(!(await tree(run.dataDir)).includes('f'), 'no final file');
      }
    });

    test('a size or content that does not match the catalog is rejected', async (t) => {
      const claimed = createHash('sha256').update('the real content').digest();
      const { port } = await startFakeServer(t, {
        list: (id) =>
          catalogFrame(id, [{ name: 'f', size: 16, mtimeUs: 1, pieceSize: MiB, sha256: claimed }]),
        stat: (id) =>
          encode({
            type: 'pieces',
            requestId: id,
            identity: { size: 16, mtimeUs: 1, sha256: claimed },
            pieceSize: MiB,
            hashes: [claimed],
          }),
        get: (req, socket) => {
          socket.write(
            encode({ type: 'data', requestId: req.requestId, offset: req.offset, length: req.length }),
          );
          socket.write(Buffer.alloc(req.length, 0x42));
        },
      });
      const run = await newSession(t, port);
      assert.deepEqual(await run.session.fetch('f'), { ok: false, retryable: false });
      assert.equal(eventsOf(run.events, 'error')[0]?.code, 'ERR_XFER_CORRUPT');
      assert.deepEqual(await tree(run.dataDir), []);
    });
  });
});
