import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { WRITE_BATCH_MAX_HOLD_MS, WriteBatch } from '../../../src/client/http/write-batch.js';
import { patternBytes } from '../../helpers/tmp.js';

/** A sink that records each write (copied, as a real sink's write would be) at its position. */
function recorder() {
  const writes: { at: number; bytes: Buffer }[] = [];
  return { writes, sink: (chunk: Buffer, at: number) => writes.push({ at, bytes: Buffer.from(chunk) }) };
}

describe('WriteBatch', () => {
  test('small contiguous chunks become one write per full buffer, the rest at flush; every byte lands once', () => {
    const data = patternBytes(10_000, 3);
    const { writes, sink } = recorder();
    const batch = new WriteBatch(4096, () => 0);
    for (let at = 0; at < data.length; at += 100) batch.push(data.subarray(at, at + 100), 5000 + at, sink);
    assert.deepEqual(
      writes.map((w) => [w.at, w.bytes.length]),
      [
        [5000, 4096],
        [9096, 4096],
      ],
    );
    batch.flush(sink);
    batch.flush(sink); // nothing held: no empty write
    assert.deepEqual(writes.at(-1)?.at, 5000 + 8192);
    assert.ok(Buffer.concat(writes.map((w) => w.bytes)).equals(data));
  });

  test('a chunk that does not follow what is held is written after it, not appended to it', () => {
    const { writes, sink } = recorder();
    const batch = new WriteBatch(4096, () => 0);
    batch.push(Buffer.alloc(10, 1), 0, sink);
    batch.push(Buffer.alloc(10, 2), 100, sink);
    batch.flush(sink);
    assert.deepEqual(
      writes.map((w) => [w.at, w.bytes[0], w.bytes.length]),
      [
        [0, 1, 10],
        [100, 2, 10],
      ],
    );
  });

  test('a large chunk goes straight through when nothing is held; after held bytes it is gathered', () => {
    const { writes, sink } = recorder();
    const batch = new WriteBatch(4096, () => 0);
    const large = Buffer.alloc(1024, 7);
    let direct: Buffer | undefined;
    batch.push(large, 0, (chunk, at) => {
      direct = chunk;
      sink(chunk, at);
    });
    assert.equal(direct, large, 'the same buffer, not a copy');
    batch.push(Buffer.alloc(10, 8), 1024, sink);
    batch.push(large, 1034, sink);
    assert.equal(writes.length, 1, 'held, not written');
    batch.flush(sink);
    assert.deepEqual(
      writes.map((w) => [w.at, w.bytes.length]),
      [
        [0, 1024],
        [1024, 1034],
      ],
    );
  });

  test('bytes held past the hold time go out with the next chunk, so a slow link shows progress', () => {
    const { writes, sink } = recorder();
    let now = 1000;
    const batch = new WriteBatch(4096, () => now);
    batch.push(Buffer.alloc(10), 0, sink);
    now += WRITE_BATCH_MAX_HOLD_MS - 1;
    batch.push(Buffer.alloc(10), 10, sink);
    assert.equal(writes.length, 0);
    now += 1;
    batch.push(Buffer.alloc(10), 20, sink);
    assert.deepEqual(
      writes.map((w) => [w.at, w.bytes.length]),
      [[0, 30]],
    );
  });
});
