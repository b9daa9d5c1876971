import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import { PieceCheck } from '../../src/client/piece-check.js';
import { patternBytes } from '../helpers/tmp.js';

const PIECE = 1024;

function hashesOf(data: Buffer): Buffer[] {
  const out: Buffer[] = [];
  for (let at = 0; at < data.length; at += PIECE)
    out.push(
      createHash('sha256')
        .update(data.subarray(at, at + PIECE))
        .digest(),
    );
  return out;
}

/** Feeds [from, to) of `data` to lane `lane` in chunks cut at `cuts`; returns the bad pieces reported. */
function feed(
  check: PieceCheck,
  lane: number,
  data: Buffer,
  from: number,
  to: number,
  cuts: number[],
): number[] {
  const bounds = [...new Set([from, ...cuts.filter((c) => c > from && c < to), to])].sort((a, b) => a - b);
  const bad: number[] = [];
  for (let i = 1; i < bounds.length; i++) {
    const [start = 0, end = 0] = [bounds[i - 1], bounds[i]];
    bad.push(...check.wrote(lane, data.subarray(start, end), start));
  }
  return bad;
}

describe('PieceCheck', () => {
  test('property: intact bytes in any chunking never fail; one flipped byte fails exactly its piece', () => {
    const data = patternBytes(10 * PIECE + 300, 7);
    const hashes = hashesOf(data);
    fc.assert(
      fc.property(
        fc.array(fc.integer({ min: 1, max: data.length - 1 }), { maxLength: 40 }),
        fc.integer({ min: 0, max: data.length - 1 }),
        (cuts, flip) => {
          assert.deepEqual(
            feed(new PieceCheck(hashes, PIECE, data.length), 0, data, 0, data.length, cuts),
            [],
          );
          const bad = Buffer.from(data);
          bad[flip] = (bad[flip] ?? 0) ^ 1;
          const check = new PieceCheck(hashes, PIECE, data.length);
          assert.deepEqual(feed(check, 0, bad, 0, bad.length, cuts), [Math.floor(flip / PIECE)]);
        },
      ),
    );
  });

  test('lanes are hashed apart: interleaved chunks of two parts are each judged on their own', () => {
    const data = patternBytes(8 * PIECE, 8);
    const bad = Buffer.from(data);
    bad[6 * PIECE + 5] = (bad[6 * PIECE + 5] ?? 0) ^ 0xff;
    const check = new PieceCheck(hashesOf(data), PIECE, data.length);
    const found: number[] = [];
    // Lane 0 has [0, 4) pieces, lane 1 has [4, 8); they alternate 512-byte chunks.
    for (let k = 0; k < 8; k++) {
      found.push(...check.wrote(0, data.subarray(k * 512, (k + 1) * 512), k * 512));
      const at = 4 * PIECE + k * 512;
      found.push(...check.wrote(1, bad.subarray(at, at + 512), at));
    }
    assert.deepEqual(found, [6]);
  });

  test('a piece whose bytes did not all pass in order (started mid-piece, or a gap) is not judged here', () => {
    const data = patternBytes(4 * PIECE, 9);
    const bad = Buffer.from(data).fill(0);
    const check = new PieceCheck(hashesOf(data), PIECE, data.length);
    // Starts in the middle of piece 0: piece 0 cannot be judged, piece 1 can.
    assert.deepEqual(check.wrote(0, bad.subarray(512, 2 * PIECE), 512), [1]);
    // A gap inside piece 2: it is left to the whole-file check.
    assert.deepEqual(check.wrote(0, bad.subarray(2 * PIECE, 2 * PIECE + 100), 2 * PIECE), []);
    assert.deepEqual(check.wrote(0, bad.subarray(2 * PIECE + 200, 3 * PIECE), 2 * PIECE + 200), []);
  });

  test('hashes for another version, another piece size or another count give no check at all', () => {
    const data = patternBytes(4 * PIECE, 10);
    const identity = { size: data.length, mtimeUs: 0, sha256: createHash('sha256').update(data).digest() };
    const file = { name: 'f', identity, pieceSize: PIECE };
    const hashes = hashesOf(data);
    assert.ok(PieceCheck.of({ identity, pieceSize: PIECE, hashes }, file));
    assert.equal(PieceCheck.of(undefined, file), undefined);
    assert.equal(PieceCheck.of({ identity, pieceSize: 2 * PIECE, hashes }, file), undefined);
    assert.equal(PieceCheck.of({ identity, pieceSize: PIECE, hashes: hashes.slice(1) }, file), undefined);
    const other = { ...identity, sha256: Buffer.alloc(32) };
    assert.equal(PieceCheck.of({ identity: other, pieceSize: PIECE, hashes }, file), undefined);
  });
});
