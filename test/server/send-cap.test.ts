import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { describe, test } from 'node:test';
import type { ClientConnection } from '../../src/client/connection.js';
import type { FileIdentity } from '../../src/protocol/index.js';
import { readFile, writeFile, mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { runCli } from '../helpers/cli.js';
import { fetchHttp } from '../helpers/http.js';
import { startServe } from '../helpers/haproxy.js';
import { startServer, type TempServer } from '../helpers/server.js';
import { patternBytes, tempDir } from '../helpers/tmp.js';

const MiB = 1024 * 1024;

type Face = 'xfer' | 'http';

/**
 * Four connections (four clients) each GET a quarter of `f` at once, each over
 * the xfer protocol or as an HTTP range request, as `faces` says; returns the
 * bytes and the time taken.
 */
async function fetchInQuarters(
  s: TempServer,
  size: number,
  faces: readonly Face[] = ['xfer', 'xfer', 'xfer', 'xfer'],
): Promise<{ bytes: Buffer; ms: number }> {
  const conns: ClientConnection[] = await Promise.all(
    [0, 1, 2, 3].map(() => s.connect({ sessionId: randomBytes(16) })),
  );
  const expect: FileIdentity = (await conns[0]!.stat('f')).identity;
  const quarter = size / 4;
  const t0 = performance.now();
  const parts = await Promise.all(
    conns.map(async (conn, i) => {
      if (faces[i] === 'http') {
        const range = `bytes=${i * quarter}-${(i + 1) * quarter - 1}`;
        const answer = await fetchHttp(s.port, '/f', { headers: { range } });
        assert.equal(answer.status, 206, `HTTP ${range}`);
        return answer.body;
      }
      const chunks: Buffer[] = [];
      await conn.get({
        name: 'f',
        offset: i * quarter,
        length: quarter,
        expect,
        onChunk: (c) => void chunks.push(Buffer.from(c)),
      });
      return Buffer.concat(chunks);
    }),
  );
  const ms = performance.now() - t0;
  conns.forEach((c) => c.close());
  return { bytes: Buffer.concat(parts), ms };
}

describe('server-wide send cap (--limit-rate-total)', () => {
  test('several connections together send no faster than the cap, and every byte is right', async (t) => {
    const size = 6 * MiB;
    const content = patternBytes(size, 11);
    const cap = 4 * MiB;
    const free = await startServer(t, { f: content });
    const capped = await startServer(t, { f: content }, { limits: { bytesPerSecondTotal: cap } });

    const baseline = await fetchInQuarters(free, size);
    const run = await fetchInQuarters(capped, size);

    assert.ok(baseline.bytes.equals(content), 'the uncapped bytes are the file');
    assert.ok(run.bytes.equals(content), 'the capped bytes are the file');
    // 6 MiB at 4 MiB/s is 1500 ms; an idle pacer may send one chunk (1/20 s) early.
    const floorMs = (size / cap) * 1000 - 1000 / 20;
    assert.ok(
      run.ms >= floorMs - 25,
      `4 connections moved 6 MiB in ${run.ms.toFixed(0)} ms under a 4 MiB/s cap`,
    );
    // The cap, not this machine, is what held the capped run back.
    assert.ok(
      baseline.ms * 2 < run.ms,
      `uncapped ${baseline.ms.toFixed(0)} ms vs capped ${run.ms.toFixed(0)} ms: the cap did not bind`,
    );
  });

  test('HTTP bodies share the same cap with xfer connections, byte for byte', async (t) => {
    const size = 6 * MiB;
    const content = patternBytes(size, 14);
    const cap = 4 * MiB;
    const free = await startServer(t, { f: content });
    const capped = await startServer(t, { f: content }, { limits: { bytesPerSecondTotal: cap } });
    assert.equal(capped.server.httpFace, 'on');
    const faces: Face[] = ['xfer', 'http', 'xfer', 'http'];

    const baseline = await fetchInQuarters(free, size, faces);
    const run = await fetchInQuarters(capped, size, faces);
    const httpOnly = await fetchInQuarters(capped, size, ['http', 'http', 'http', 'http']);

    assert.ok(baseline.bytes.equals(content), 'the uncapped bytes are the file');
    assert.ok(run.bytes.equals(content), 'the capped bytes (xfer and HTTP) are the file');
    assert.ok(httpOnly.bytes.equals(content), 'the capped HTTP bytes are the file');
    // 6 MiB at 4 MiB/s is 1500 ms, whichever face carries them; one chunk (1/20 s) may go early.
    const floorMs = (size / cap) * 1000 - 1000 / 20;
    for (const [what, ms] of [
      ['xfer and HTTP together', run.ms],
      ['HTTP alone', httpOnly.ms],
    ] as const) {
      assert.ok(ms >= floorMs - 25, `${what} moved 6 MiB in ${ms.toFixed(0)} ms under a 4 MiB/s cap`);
    }
    assert.ok(
      baseline.ms * 2 < Math.min(run.ms, httpOnly.ms),
      `uncapped ${baseline.ms.toFixed(0)} ms vs capped ${run.ms.toFixed(0)} / ${httpOnly.ms.toFixed(0)} ms: the cap did not bind`,
    );
  });

  test('a per-connection cap alone lets four connections move four times as much', async (t) => {
    const size = 4 * MiB;
    const content = patternBytes(size, 12);
    const rate = 2 * MiB;
    const perConnection = await startServer(
      t,
      { f: content },
      { limits: { bytesPerSecondPerConnection: rate } },
    );
    const total = await startServer(t, { f: content }, { limits: { bytesPerSecondTotal: rate } });

    const each = await fetchInQuarters(perConnection, size);
    const shared = await fetchInQuarters(total, size);

    assert.ok(each.bytes.equals(content) && shared.bytes.equals(content));
    // 4 MiB at 2 MiB/s for the whole server: at least about 2 s, whatever the load.
    assert.ok(shared.ms >= (size / rate) * 1000 - 75, `the shared cap took only ${shared.ms.toFixed(0)} ms`);
    // Each connection with its own 2 MiB/s: 1 MiB each, so about 0.5 s; measured against the shared run.
    assert.ok(
      each.ms * 2 < shared.ms,
      `per-connection ${each.ms.toFixed(0)} ms vs server-wide ${shared.ms.toFixed(0)} ms`,
    );
  });

  test('xfer serve --limit-rate-total caps what xfer get receives, and refuses a malformed rate', async (t) => {
    const help = await runCli(['serve', '--help']);
    assert.match(help.stdout + help.stderr, /--limit-rate-total RATE/);
    const bad = await runCli(['serve', '--limit-rate-total', 'fast']);
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /--limit-rate-total takes a rate like/);

    const dir = await tempDir(t);
    const size = 6 * MiB;
    const content = patternBytes(size, 13);
    await mkdir(join(dir, 'share', 'resources'), { recursive: true });
    await writeFile(join(dir, 'share', 'resources', 'f'), content);
    const server = await startServe(join(dir, 'share'), ['--limit-rate-total', '3M']);
    t.after(() => server.stop());
    const t0 = performance.now();
    const got = await runCli(['get', `127.0.0.1:${server.port}`, 'f', '--out', join(dir, 'out')]);
    const ms = performance.now() - t0;
    assert.equal(got.code, 0, got.stderr);
    assert.ok((await readFile(join(dir, 'out', 'f'))).equals(content), 'the bytes are the file');
    // 6 MiB at 3 MiB/s over 4 connections: about 2 s, however fast the machine.
    assert.ok(
      ms >= (size / (3 * MiB)) * 1000 - 75,
      `6 MiB arrived in ${ms.toFixed(0)} ms under a 3 MiB/s cap`,
    );
  });
});
