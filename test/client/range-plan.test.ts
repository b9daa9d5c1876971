import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { connectionsFor, planRanges } from '../../src/client/range-plan.js';

const MiB = 1024 * 1024;

describe('planRanges', () => {
  test('a fresh file becomes N piece-aligned parts that cover it exactly', () => {
    const size = 100 * MiB + 123;
    const ranges = planRanges(size, MiB, () => true, 4);
    assert.equal(ranges.length, 4);
    assert.equal(ranges[0]?.start, 0);
    assert.equal(ranges.at(-1)?.end, size);
    for (let i = 1; i < ranges.length; i++) assert.equal(ranges[i]?.start, ranges[i - 1]?.end);
    for (const r of ranges) assert.equal(r.start % MiB, 0);
  });

  test('a file smaller than a piece is one range', () => {
    assert.deepEqual(
      planRanges(3, MiB, () => true, 4),
      [{ start: 0, end: 3 }],
    );
    assert.equal(connectionsFor(3, MiB, 4), 1);
    assert.equal(connectionsFor(0, MiB, 4), 1);
    assert.equal(connectionsFor(2 * MiB + 1, MiB, 4), 3);
    assert.equal(connectionsFor(100 * MiB, MiB, 2), 2);
  });

  test('an empty file has nothing to fetch', () => {
    assert.deepEqual(
      planRanges(0, MiB, () => true, 4),
      [],
    );
  });

  test('a resumed file fetches only its missing pieces', () => {
    const done = new Set([0, 1, 2, 5, 6, 7]);
    const ranges = planRanges(8 * MiB, MiB, (p) => !done.has(p), 4);
    const covered = ranges.flatMap((r) =>
      Array.from({ length: (r.end - r.start) / MiB }, (_, i) => r.start / MiB + i),
    );
    assert.deepEqual(covered.sort(), [3, 4]);
  });

  test('nothing missing, nothing planned', () => {
    assert.deepEqual(
      planRanges(8 * MiB, MiB, () => false, 4),
      [],
    );
  });
});
