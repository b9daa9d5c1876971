import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { encode } from '../../src/protocol/index.js';
import { bookkeeping, downloaded } from '../helpers/download-dir.js';
import { catalogFrame, servesFiles, startFakeServer } from '../helpers/fake-server.js';
import { eventsOf, newSession } from '../helpers/session.js';

const PiB = 2 ** 50;

describe('the .part file and claimed sizes', () => {
  test('a claimed petabyte is refused before anything is written: no sparse .part, no state', async (t) => {
    const sha256 = Buffer.alloc(32, 1);
    const { port, stats } = await startFakeServer(t, {
      list: (id) =>
        catalogFrame(id, [{ name: 'huge', size: PiB, mtimeUs: 1, pieceSize: 64 * 1024 * 1024, sha256 }]),
      stat: (id) =>
        encode({
          type: 'error',
          requestId: id,
          code: 'ERR_XFER_INTERNAL',
          message: 'a client that checks free space never asks',
        }),
    });
    const run = await newSession(t, port);
    assert.deepEqual(await run.session.fetch('huge'), { ok: false, retryable: false });
    const [error] = eventsOf(run.events, 'error');
    assert.equal(error?.code, 'ERR_XFER_DISK_FULL');
    assert.match(
      error?.message ?? '',
      /"huge" needs 1125899906842624 more bytes on disk, and only \d+ are free/,
    );
    assert.deepEqual(await downloaded(run.dataDir), []);
    assert.deepEqual(await bookkeeping(run.dataDir), [], 'no .part and no resume state');
    assert.equal(stats.gets, 0, 'not a byte was asked for');
  });

  test('a name too long for the file system is ERR_XFER_FS with a short message, not ERR_XFER_INTERNAL', async (t) => {
    // 16 segments of 255 bytes: a valid wire name (4,095 bytes) that no path under a temp folder can hold.
    const name = Array.from({ length: 16 }, (_, i) => String(i).padEnd(255, 'n')).join('/');
    const { port } = await startFakeServer(t, servesFiles({ [name]: Buffer.from('x') }));
    const run = await newSession(t, port);
    assert.deepEqual(await run.session.fetch(name), { ok: false, retryable: false });
    const [error] = eventsOf(run.events, 'error');
    assert.equal(error?.code, 'ERR_XFER_FS');
    assert.match(error?.message ?? '', /too long for this file system/);
    assert.ok((error?.message.length ?? 0) < 200, `a short message: ${error?.message.length} characters`);
  });
});
