import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { describe, test } from 'node:test';
import { fetchAll } from '../../src/client/batch.js';
import { WHOLE_FILE_MAX_BYTES } from '../../src/client/whole-file.js';
import { encode } from '../../src/protocol/index.js';
import { catalogFrame, startFakeServer } from '../helpers/fake-server.js';
import { bookkeeping, downloaded, ownFiles } from '../helpers/download-dir.js';
import { Relay } from '../helpers/relay.js';
import { startServer } from '../helpers/server.js';
import { eventsOf, newSession } from '../helpers/session.js';
import { patternBytes, sha256, smallDisk, tempDir } from '../helpers/tmp.js';

const KiB = 1024;

describe('small files (one request, verified in memory)', () => {
  test('land exact with nothing beside them, reported as one part from 0 to 100 %', async (t) => {
    const files = {
      empty: Buffer.alloc(0),
      tiny: Buffer.from('x'),
      'sub/mid.bin': patternBytes(300 * KiB, 1),
      edge: patternBytes(WHOLE_FILE_MAX_BYTES, 2),
    };
    const s = await startServer(t, files);
    const run = await newSession(t, s.port);
    for (const name of Object.keys(files)) assert.ok((await run.session.fetch(name)).ok, name);
    for (const [name, content] of Object.entries(files)) {
      assert.equal(sha256(await readFile(join(run.dataDir, name))), sha256(content), name);
    }
    assert.deepEqual(await bookkeeping(run.dataDir), []);
    assert.deepEqual(await downloaded(run.dataDir), ['edge', 'empty', 'sub', 'sub/mid.bin', 'tiny']);
    const mid = eventsOf(run.events, 'progress').filter((e) => e.file === 'sub/mid.bin');
    assert.deepEqual(mid.at(-1)?.parts, [{ part: 0, bytes: 300 * KiB, total: 300 * KiB }]);
    assert.equal(eventsOf(run.events, 'start').find((e) => e.file === 'edge')?.parts.length, 1);
  });

  test('a byte flipped in transit is caught in memory and the file fetched again', async (t) => {
    const content = patternBytes(512 * KiB, 3);
    const s = await startServer(t, { f: content });
    // Connection 0 carries the catalog, then the file: flip a byte well inside the file.
    const relay = await Relay.start(s.port, (i) => (i === 0 ? { corruptAtByte: 256 * KiB } : {}));
    t.after(() => relay.close());
    const run = await newSession(t, relay.port);
    assert.ok((await run.session.fetch('f')).ok);
    assert.equal(sha256(await readFile(join(run.dataDir, 'f'))), sha256(content));
    assert.equal(eventsOf(run.events, 'repair').length, 1);
  });

  test('a connection cut mid-file is retried on a fresh connection', async (t) => {
    const content = patternBytes(900 * KiB, 4);
    const s = await startServer(t, { f: content });
    const relay = await Relay.start(s.port, (i) => (i === 0 ? { cutAfterBytes: 200 * KiB } : {}));
    t.after(() => relay.close());
    const run = await newSession(t, relay.port);
    assert.ok((await run.session.fetch('f')).ok);
    assert.equal(sha256(await readFile(join(run.dataDir, 'f'))), sha256(content));
    assert.equal(eventsOf(run.events, 'retry')[0]?.part, 0);
    assert.ok(relay.accepted >= 2);
  });

  test('bytes that never match are rejected after the repair rounds and nothing is written', async (t) => {
    const content = patternBytes(64 * KiB, 5);
    const identity = {
      size: content.length,
      mtimeUs: 1,
      sha256: createHash('sha256').update(content).digest(),
    };
    const served = Buffer.from(content);
    served[100] = (served[100] ?? 0) ^ 1;
    let gets = 0;
    const { port } = await startFakeServer(t, {
      list: (id) => catalogFrame(id, [{ name: 'f', ...identity, pieceSize: 1024 * KiB }]),
      get: (req, socket) => {
        gets++;
        socket.write(encode({ type: 'data', requestId: req.requestId, offset: 0, length: req.length }));
        socket.write(served);
      },
    });
    const run = await newSession(t, port);
    assert.deepEqual(await run.session.fetch('f'), { ok: false, retryable: false });
    assert.equal(gets, 3, 'the first fetch and two repair rounds');
    assert.deepEqual(
      eventsOf(run.events, 'error').map((e) => e.code),
      ['ERR_XFER_CORRUPT'],
    );
    assert.deepEqual(await downloaded(run.dataDir), []);
    assert.deepEqual(await bookkeeping(run.dataDir), []);
  });

  test('a FIFO planted as the .part is refused at once instead of blocking', async (t) => {
    const s = await startServer(t, { f: 'payload' });
    const data = join(await tempDir(t), 'data');
    await mkdir(join(data, '.xfer'), { recursive: true });
    execFileSync('mkfifo', [ownFiles(data, 'f').part]);
    const run = await newSession(t, s.port, { dataDir: data });
    assert.deepEqual(await run.session.fetch('f'), { ok: false, retryable: false });
    assert.equal(eventsOf(run.events, 'error')[0]?.code, 'ERR_XFER_UNSAFE_PATH');
    assert.deepEqual(await bookkeeping(data), [basename(ownFiles(data, 'f').part)]);
  });

  test('disk full: ERR_XFER_DISK_FULL and no .part left behind', async (t) => {
    const out = await smallDisk(t, '256k');
    if (!out) return;
    await writeFile(join(out, 'filler'), Buffer.alloc(200 * KiB));
    const s = await startServer(t, { f: patternBytes(100 * KiB, 6) });
    const run = await newSession(t, s.port, { dataDir: out });
    assert.deepEqual(await run.session.fetch('f'), { ok: false, retryable: false });
    assert.equal(eventsOf(run.events, 'error')[0]?.code, 'ERR_XFER_DISK_FULL');
    assert.deepEqual(await downloaded(out), ['filler']);
    assert.deepEqual(await bookkeeping(out), []);
  });
});

describe('many small files in flight', () => {
  test('64 at once raise no MaxListenersExceededWarning, even when they all back off together', async (t) => {
    const files = Object.fromEntries(
      Array.from({ length: 64 }, (_, i) => [`s${i}`, patternBytes(2 * KiB, i + 1)]),
    );
    const s = await startServer(t, files);
    // The first pooled connections are cut mid-batch: up to 32 files back off at the same time.
    const relay = await Relay.start(s.port, (i) => (i < 12 ? { cutAfterBytes: 3 * KiB } : {}));
    t.after(() => relay.close());
    const warnings: Error[] = [];
    const onWarning = (w: Error) => warnings.push(w);
    process.on('warning', onWarning);
    t.after(() => process.off('warning', onWarning));
    const run = await newSession(t, relay.port);
    let ok = 0;
    await fetchAll(run.session, Object.keys(files), run.controller.signal, (_n, o) => (ok += o.ok ? 1 : 0));
    assert.equal(ok, 64);
    t.diagnostic(`${eventsOf(run.events, 'retry').length} retries`);
    assert.ok(eventsOf(run.events, 'retry').length > 10, 'many files backed off at once');
    // Warnings are emitted on the next tick.
    await new Promise((resolve) => setImmediate(resolve));
    assert.deepEqual(
      warnings.map((w) => w.name),
      [],
    );
  });
});
