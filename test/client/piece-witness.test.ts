import assert from 'node:assert/strict';
import { open, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { PieceWitness } from '../../src/client/piece-witness.js';
import type { RangeSource } from '../../src/client/source.js';
import { patternBytes, tempDir } from '../helpers/tmp.js';

const PIECE = 1024;
const source = (label: string) => ({ label }) as RangeSource;

describe('PieceWitness', () => {
  test('after a repair, the sources whose pieces changed are the liars; the others are not named', async (t) => {
    const good = patternBytes(6 * PIECE + 10, 11);
    const before = Buffer.from(good);
    before[2 * PIECE + 3] = (before[2 * PIECE + 3] ?? 0) ^ 1; // piece 2, written by B
    before[6 * PIECE + 1] = (before[6 * PIECE + 1] ?? 0) ^ 1; // the short last piece, written by C
    const [a, b, c] = [source('A'), source('B'), source('C')];
    const owners = new Map([0, 1, 3, 4, 5].map((p) => [p, a]));
    owners.set(2, b);
    owners.set(6, c);
    const path = join(await tempDir(t), 'f.part');
    await writeFile(path, before);
    const fh = await open(path, 'r+');
    t.after(() => fh.close());
    const witness = await PieceWitness.record(fh, good.length, PIECE, owners);
    await fh.write(good, 0, good.length, 0);
    assert.deepEqual([...(await witness.liars(fh))].map((s) => s.label).sort(), ['B', 'C']);
  });
});
