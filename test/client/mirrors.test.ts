import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { freePort } from '../helpers/ports.js';
import { Relay } from '../helpers/relay.js';
import { startServer } from '../helpers/server.js';
import { eventsOf, newSession } from '../helpers/session.js';
import { patternBytes, sha256 } from '../helpers/tmp.js';

const MiB = 1024 * 1024;

describe('one file from several xfer servers', () => {
  test('two servers with the same file both serve it, and the bytes are exact', async (t) => {
    const content = patternBytes(32 * MiB + 5, 21);
    const a = await startServer(t, { big: content });
    const b = await startServer(t, { big: content });
    // Paced alike, so neither can finish the file before the other has started.
    const ra = await Relay.start(a.port, () => ({ rateBytesPerSec: 24 * MiB }));
    const rb = await Relay.start(b.port, () => ({ rateBytesPerSec: 24 * MiB }));
    t.after(() => Promise.all([ra.close(), rb.close()]));
    const run = await newSession(t, ra.port, { mirrors: [rb.port] });
    assert.deepEqual(await run.session.fetch('big'), { ok: true });
    assert.equal(sha256(await readFile(join(run.dataDir, 'big'))), sha256(content));
    assert.ok(ra.bytesToClient > 4 * MiB, `primary sent ${ra.bytesToClient}`);
    assert.ok(rb.bytesToClient > 4 * MiB, `mirror sent ${rb.bytesToClient}`);
    assert.equal(ra.maxActive, 4);
    assert.equal(rb.maxActive, 4);
    const start = eventsOf(run.events, 'start')[0];
    assert.equal(start?.parts.length, 8);
    assert.deepEqual(
      [...new Set(start?.parts.map((p) => p.source))].sort(),
      [`127.0.0.1:${ra.port}`, `127.0.0.1:${rb.port}`].sort(),
    );
    // The last progress names both sources, each with the bytes it wrote: together the whole file.
    const last = eventsOf(run.events, 'progress').at(-1);
    const bySource = new Map(last?.sources.map((s) => [s.source, s.bytes]));
    const fromA = bySource.get(`127.0.0.1:${ra.port}`) ?? 0;
    const fromB = bySource.get(`127.0.0.1:${rb.port}`) ?? 0;
    assert.ok(fromA > 0 && fromB > 0, `${fromA} + ${fromB}`);
    assert.equal(fromA + fromB, content.length);
    assert.equal(eventsOf(run.events, 'source').length, 0);
  });

  test('a mirror with another version of the file is left out with a message naming it', async (t) => {
    const content = patternBytes(12 * MiB, 22);
    const other = patternBytes(12 * MiB, 23);
    const a = await startServer(t, { big: content });
    const b = await startServer(t, { big: other });
    const rb = await Relay.start(b.port);
    t.after(() => rb.close());
    const run = await newSession(t, a.port, { mirrors: [rb.port] });
    assert.deepEqual(await run.session.fetch('big'), { ok: true });
    assert.equal(sha256(await readFile(join(run.dataDir, 'big'))), sha256(content));
    const [left] = eventsOf(run.events, 'source');
    assert.equal(left?.status, 'left-out');
    assert.equal(left?.source, `127.0.0.1:${rb.port}`);
    assert.match(left?.message ?? '', /another version/);
    // Only its STAT answer crossed the relay, never file bytes.
    assert.ok(rb.bytesToClient < 64 * 1024, `${rb.bytesToClient}`);
  });

  test('a mirror that lacks the file, and one never reachable, are left out; the primary serves it all', async (t) => {
    const content = patternBytes(12 * MiB, 24);
    const a = await startServer(t, { big: content });
    const empty = await startServer(t, {});
    const run = await newSession(t, a.port, { mirrors: [empty.port, await freePort()] });
    assert.deepEqual(await run.session.fetch('big'), { ok: true });
    assert.equal(sha256(await readFile(join(run.dataDir, 'big'))), sha256(content));
    const left = eventsOf(run.events, 'source');
    assert.deepEqual(left.map((e) => [e.status, e.code]).sort(), [
      ['left-out', 'ERR_XFER_CONNECT'],
      ['left-out', 'ERR_XFER_NOT_FOUND'],
    ]);
  });

  test('a mirror serving corrupt bytes is dropped, and the file is still right', async (t) => {
    const content = patternBytes(32 * MiB, 25);
    const a = await startServer(t, { big: content });
    const b = await startServer(t, { big: content });
    const ra = await Relay.start(a.port, () => ({ rateBytesPerSec: 24 * MiB }));
    // Every connection to the mirror flips one byte, 3 MiB in (inside a data frame).
    const rb = await Relay.start(b.port, () => ({ corruptAtByte: 3 * MiB, rateBytesPerSec: 24 * MiB }));
    t.after(() => Promise.all([ra.close(), rb.close()]));
    const run = await newSession(t, ra.port, { mirrors: [rb.port] });
    assert.deepEqual(await run.session.fetch('big'), { ok: true });
    assert.equal(sha256(await readFile(join(run.dataDir, 'big'))), sha256(content));
    const dropped = eventsOf(run.events, 'source');
    assert.equal(dropped.length, 1);
    assert.equal(dropped[0]?.status, 'dropped');
    assert.equal(dropped[0]?.code, 'ERR_XFER_CORRUPT');
    assert.equal(dropped[0]?.source, `127.0.0.1:${rb.port}`);
    // Caught at its first bad piece, as it landed: that piece was fetched again from the primary
    // during the download, so the whole-file check passed the first time (no repair after it).
    const repairs = eventsOf(run.events, 'repair');
    assert.ok(repairs.length >= 1);
    for (const r of repairs) assert.match(r.message, /from 127\.0\.0\.1:\d+ failed .*another source/);
  });

  test('a mirror that dies mid-way costs only time', async (t) => {
    const content = patternBytes(32 * MiB, 26);
    const a = await startServer(t, { big: content });
    const b = await startServer(t, { big: content });
    const ra = await Relay.start(a.port, () => ({ rateBytesPerSec: 16 * MiB }));
    const rb = await Relay.start(b.port, () => ({ rateBytesPerSec: 16 * MiB }));
    t.after(() => Promise.all([ra.close(), rb.close()]));
    const mirror = `127.0.0.1:${rb.port}`;
    const run = await newSession(t, ra.port, {
      mirrors: [rb.port],
      policy: { maxAttempts: 2, baseDelayMs: 10, maxDelayMs: 20 },
    });
    const fetching = run.session.fetch('big');
    // Once the mirror has delivered some bytes, it goes away for good.
    const died = (async () => {
      while (rb.bytesToClient < 2 * MiB) await new Promise((r) => setTimeout(r, 10));
      await rb.close();
      await b.server.close();
    })();
    assert.deepEqual(await fetching, { ok: true });
    await died;
    assert.equal(sha256(await readFile(join(run.dataDir, 'big'))), sha256(content));
    assert.ok(rb.bytesToClient >= 2 * MiB);
    // It is dropped once its retries run out, unless the primary finished the file first.
    const dropped = eventsOf(run.events, 'source');
    assert.ok(dropped.length <= 1);
    assert.ok(dropped.every((e) => e.status === 'dropped' && e.source === mirror));
  });

  test('a mirror failing past its retry budget is dropped; its unfinished ranges go to the primary', async (t) => {
    const content = patternBytes(24 * MiB, 27);
    const a = await startServer(t, { big: content });
    const b = await startServer(t, { big: content });
    const ra = await Relay.start(a.port, () => ({ rateBytesPerSec: 12 * MiB }));
    // Every connection to the mirror is cut after 256 KiB: never useful progress.
    const rb = await Relay.start(b.port, (i) => (i === 0 ? {} : { cutAfterBytes: 256 * 1024 }));
    t.after(() => Promise.all([ra.close(), rb.close()]));
    const run = await newSession(t, ra.port, { mirrors: [rb.port], policy: { maxAttempts: 2 } });
    assert.deepEqual(await run.session.fetch('big'), { ok: true });
    assert.equal(sha256(await readFile(join(run.dataDir, 'big'))), sha256(content));
    const dropped = eventsOf(run.events, 'source');
    assert.equal(dropped.length, 1);
    assert.equal(dropped[0]?.status, 'dropped');
    assert.equal(dropped[0]?.source, `127.0.0.1:${rb.port}`);
    assert.equal(eventsOf(run.events, 'done').length, 1);
  });

  test('when the last source fails too, the file fails with a coded error and is not saved', async (t) => {
    const content = patternBytes(12 * MiB, 28);
    const a = await startServer(t, { big: content });
    const b = await startServer(t, { big: content });
    // The first connection of each carries the STAT; every later one is cut early.
    const cut = (i: number) => (i === 0 ? {} : { cutAfterBytes: 128 * 1024 });
    const ra = await Relay.start(a.port, cut);
    const rb = await Relay.start(b.port, cut);
    t.after(() => Promise.all([ra.close(), rb.close()]));
    const run = await newSession(t, ra.port, { mirrors: [rb.port], policy: { maxAttempts: 1 } });
    const outcome = await run.session.fetch('big');
    assert.equal(outcome.ok, false);
    const [error] = eventsOf(run.events, 'error');
    assert.match(error?.code ?? '', /^ERR_XFER_/);
    await assert.rejects(readFile(join(run.dataDir, 'big')), { code: 'ENOENT' });
  });
});
