import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { renderTextList } from '../../src/server/text-list.js';

describe('text.txt', () => {
  test('one "name size" line per file, the size in the same 1024-based units as the terminal', () => {
    const text = renderTextList([
      { name: 'arya.gif', size: 3.5 * 1024 * 1024, mtimeUs: 0, pieceSize: 1 },
      { name: 'a b/c.txt', size: 12, mtimeUs: 0, pieceSize: 1 },
      { name: 'big.iso', size: 209_715_200, mtimeUs: 0, pieceSize: 1 },
    ]);
    assert.equal(text, 'arya.gif 3.5 MiB\na b/c.txt 12 B\nbig.iso 200 MiB\n');
    // The documented way to read it back: the size is the last two fields, the name all before.
    const parsed = text
      .trimEnd()
      .split('\n')
      .map((line) => /^(.+) (\d+(?:\.\d)?) (B|KiB|MiB|GiB|TiB|PiB)$/.exec(line)?.slice(1));
    assert.deepEqual(parsed, [
      ['arya.gif', '3.5', 'MiB'],
      ['a b/c.txt', '12', 'B'],
      ['big.iso', '200', 'MiB'],
    ]);
  });
});
