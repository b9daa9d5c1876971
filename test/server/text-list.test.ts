import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { humanSize } from '../../src/human.js';
import { renderTextList } from '../../src/server/text-list.js';

describe('text.txt', () => {
  test('human sizes read like the course project', () => {
    assert.equal(humanSize(0), '0 B');
    assert.equal(humanSize(1023), '1023 B');
    assert.equal(humanSize(1024), '1 KB');
    assert.equal(humanSize(3.5 * 1024 * 1024), '3.5 MB');
    assert.equal(humanSize(5 * 1024 * 1024), '5 MB');
    assert.equal(humanSize(150 * 1024 * 1024), '150 MB');
    assert.equal(humanSize(2 ** 40), '1 TB');
  });

  test('one "name size" line per file', () => {
    assert.equal(
      renderTextList([
        { name: 'arya.gif', size: 3.5 * 1024 * 1024, mtimeUs: 0, pieceSize: 1 },
        { name: 'a b/c.txt', size: 12, mtimeUs: 0, pieceSize: 1 },
      ]),
      'arya.gif 3.5 MB\na b/c.txt 12 B\n',
    );
  });
});
