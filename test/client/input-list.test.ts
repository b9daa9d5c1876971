import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { parseInputList, readInputList } from '../../src/client/input-list.js';
import { tempDir } from '../helpers/tmp.js';

describe('input.txt', () => {
  test('trims, skips blanks and comments, keeps order, drops duplicates', () => {
    assert.deepEqual(parseInputList('  a.txt \r\n\n# comment\nb c.bin\na.txt\n\t\n日本.txt'), [
      'a.txt',
      'b c.bin',
      '日本.txt',
    ]);
  });

  test('a missing file is a clear ERR_XFER_FS naming it', async (t) => {
    const dir = await tempDir(t);
    await assert.rejects(readInputList(join(dir, 'input.txt')), (err: Error & { code: string }) => {
      assert.equal(err.code, 'ERR_XFER_FS');
      assert.match(err.message, /input\.txt does not exist/);
      return true;
    });
  });

  test('an oversized file is refused before it is parsed', async (t) => {
    const dir = await tempDir(t);
    await writeFile(join(dir, 'input.txt'), Buffer.alloc(2 * 1024 * 1024, 0x61));
    await assert.rejects(readInputList(join(dir, 'input.txt')), { code: 'ERR_XFER_FS' });
  });
});
