import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { readdir, writeFile } from 'node:fs/promises';
import type { Socket } from 'node:net';
import { join } from 'node:path';
import { describe, test, type TestContext } from 'node:test';
import { encode } from '../../src/protocol/index.js';
import { runCli } from '../helpers/cli.js';
import { catalogFrame, startFakeServer } from '../helpers/fake-server.js';
import { eventsOf, newSession } from '../helpers/session.js';
import { tempDir } from '../helpers/tmp.js';

const MiB = 1024 * 1024;
const KiB = 1024;

/**
 * A server that answers every GET with a DATA header and then only `burst`
 * bytes at once, followed by one byte every `dripMs` (never, if undefined):
 * a drip, a trickle, or both. It never finishes a request.
 */
async function slowServer(
  t: TestContext,
  size: number,
  o: { burst: number; dripMs?: number },
): Promise<{ port: number; gets: () => number }> {
  let gets = 0;
  const timers = new Set<NodeJS.Timeout>();
  t.after(() => timers.forEach((timer) => clearInterval(timer)));
  const { port } = await startFakeServer(t, {
    list: (id) =>
      catalogFrame(id, [{ name: 'f', size, mtimeUs: 1, sha256: randomBytes(32), pieceSize: MiB }]),
    get: (req, socket: Socket) => {
      gets++;
      socket.write(
        encode({ type: 'data', requestId: req.requestId, offset: req.offset, length: req.length }),
      );
      let sent = Math.min(o.burst, req.length);
      socket.write(Buffer.alloc(sent, 7));
      if (o.dripMs === undefined) return;
      const timer = setInterval(() => {
        if (socket.destroyed || sent >= req.length) return clearInterval(timer);
        socket.write(Buffer.alloc(1, 7));
        sent++;
      }, o.dripMs);
      timers.add(timer);
      socket.once('close', () => clearInterval(timer));
    },
  });
  return { port, gets: () => gets };
}

async function partials(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { recursive: true });
  return entries.filter((e) => e.endsWith('.part'));
}

describe('the minimum-progress rule (docs/protocol.md §5)', () => {
  // Windows are short so the tests run in seconds; the drip (a byte every 100 ms) is
  // frequent enough that the connection's own silence timeout never fires.
  const fast = { stallTimeoutMs: 500, minBytesPerSecond: KiB, baseDelayMs: 20, maxDelayMs: 50 };

  test('a server that drips one byte a second loses each connection, and the download ends', async (t) => {
    // One byte a second; a 1.5 s window, so the connection is never silent for a whole window.
    const { port } = await slowServer(t, 2 * MiB, { burst: 0, dripMs: 1000 });
    const run = await newSession(t, port, { policy: { ...fast, stallTimeoutMs: 1500, maxAttempts: 1 } });
    assert.deepEqual(await run.session.fetch('f'), { ok: false, retryable: true });
    const retries = eventsOf(run.events, 'retry');
    assert.ok(
      retries.length > 0 && retries.every((r) => r.code === 'ERR_XFER_STALLED'),
      JSON.stringify(retries),
    );
    assert.ok(retries.every((r) => r.attempt === 1));
    const [error] = eventsOf(run.events, 'error');
    assert.equal(error?.code, 'ERR_XFER_STALLED');
    assert.match(error?.message ?? '', /Gave up on "f" after 1 retries: Under 1024 bytes\/s for 1\.5 s/);
    assert.equal((await partials(run.dataDir)).length, 1, 'the .part is kept');
  });

  test('a small file (fetched whole) that drips fails the same way', async (t) => {
    const { port } = await slowServer(t, 100 * KiB, { burst: 0, dripMs: 100 });
    const run = await newSession(t, port, { policy: { ...fast, maxAttempts: 1 } });
    assert.deepEqual(await run.session.fetch('f'), { ok: false, retryable: true });
    assert.deepEqual(
      eventsOf(run.events, 'error').map((e) => e.code),
      ['ERR_XFER_STALLED'],
    );
  });

  test('64 KiB per GET, then silence: such attempts use up the retry budget instead of resetting it', async (t) => {
    const server = await slowServer(t, 64 * MiB, { burst: 64 * KiB });
    const run = await newSession(t, server.port, { policy: { ...fast, maxAttempts: 3 } });
    assert.deepEqual(await run.session.fetch('f'), { ok: false, retryable: true });
    const retries = eventsOf(run.events, 'retry');
    // Each of the 4 parts fails at most 1 + maxAttempts times: the count never went back to 1.
    for (let part = 0; part < 4; part++) {
      assert.deepEqual(
        retries.filter((r) => r.part === part).map((r) => r.attempt),
        [1, 2, 3].slice(0, retries.filter((r) => r.part === part).length),
      );
    }
    // Two GETs in flight per attempt, 1 + maxAttempts attempts per part at most.
    assert.ok(server.gets() <= 4 * 2 * 4, `${server.gets()} GETs`);
    assert.equal(eventsOf(run.events, 'error')[0]?.code, 'ERR_XFER_STALLED');
    assert.equal((await partials(run.dataDir)).length, 1, 'the .part is kept');
  });

  test('with a generous budget, a file that gains too little in noProgressTimeoutMs is given up', async (t) => {
    const { port } = await slowServer(t, 64 * MiB, { burst: 64 * KiB });
    const policy = { ...fast, maxAttempts: 1000, minProgressBytes: 16 * MiB, noProgressTimeoutMs: 1500 };
    const run = await newSession(t, port, { policy });
    assert.deepEqual(await run.session.fetch('f'), { ok: false, retryable: true });
    const errors = eventsOf(run.events, 'error');
    assert.deepEqual(
      errors.map((e) => e.code),
      ['ERR_XFER_NO_PROGRESS'],
    );
    assert.match(errors[0]?.message ?? '', /gained less than 16777216 bytes in 1\.5 s/);
    assert.equal((await partials(run.dataDir)).length, 1, 'the .part is kept');
  });

  test('xfer client --once against a dripping server exits 1 with the code, and keeps the .part', async (t) => {
    const { port } = await slowServer(t, 2 * MiB, { burst: 0, dripMs: 100 });
    const dir = await tempDir(t);
    await writeFile(join(dir, 'input.txt'), 'f\n');
    const result = await runCli([
      'client',
      `127.0.0.1:${port}`,
      '--dir',
      dir,
      '--once',
      '--stall-timeout',
      '0.5',
      '--retries',
      '1',
    ]);
    assert.equal(result.code, 1, result.stderr);
    assert.match(result.stderr, /ERR_XFER_STALLED/);
    assert.equal((await partials(join(dir, 'data'))).length, 1, 'the .part is kept');
  });
});
