import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { readdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { PieceSet } from '../../src/client/piece-set.js';
import { loadResumeState, sameIdentity, saveResumeState } from '../../src/client/resume-state.js';
import { tempDir } from '../helpers/tmp.js';

describe('resume state', () => {
  test('round-trips atomically and leaves no temp file', async (t) => {
    const dir = await tempDir(t);
    const path = join(dir, '.f.xfer');
    const pieces = new PieceSet(20);
    pieces.add(0);
    pieces.add(19);
    const sha = randomBytes(32);
    await saveResumeState(path, {
      size: 20 * 1024,
      mtimeUs: 5,
      sha256: sha.toString('hex'),
      pieceSize: 1024,
      done: pieces.toBase64(),
    });
    const loaded = await loadResumeState(path);
    assert.ok(loaded && sameIdentity(loaded, { size: 20 * 1024, mtimeUs: 5, sha256: sha }, 1024));
    assert.ok(!sameIdentity(loaded, { size: 20 * 1024, mtimeUs: 6, sha256: sha }, 1024));
    const back = new PieceSet(20, loaded.done);
    assert.deepEqual([back.has(0), back.has(1), back.has(19), back.size], [true, false, true, 2]);
    assert.deepEqual(await readdir(dir), ['.f.xfer']);
  });

  test('a missing, corrupt, oversized or inconsistent state means "start over", never a throw', async (t) => {
    const dir = await tempDir(t);
    const path = join(dir, '.f.xfer');
    assert.equal(await loadResumeState(path), undefined);
    const bad = [
      'not json',
      '{}',
      JSON.stringify({ size: -1, mtimeUs: 1, sha256: 'a'.repeat(64), pieceSize: 1, done: '' }),
      JSON.stringify({ size: 10, mtimeUs: 1, sha256: 'xyz', pieceSize: 1, done: 'AA==' }),
      JSON.stringify({ size: 100, mtimeUs: 1, sha256: 'a'.repeat(64), pieceSize: 1, done: 'AA==' }),
      'x'.repeat(100_000),
    ];
    for (const text of bad) {
      await writeFile(path, text);
      assert.equal(await loadResumeState(path), undefined, text.slice(0, 40));
    }
  });
});
