import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import {
  lookupChecksum,
  parseChecksumList,
  parseChecksumOption,
} from '../../../src/client/http/checksums.js';

const HEX = 'ab'.repeat(32);
const HEX2 = 'cd'.repeat(32);

describe('checksums', () => {
  test('--checksum takes sha256=HEX and aria2’s sha-256=HEX, any case', () => {
    assert.equal(parseChecksumOption(`sha256=${HEX}`).toString('hex'), HEX);
    assert.equal(parseChecksumOption(`SHA-256=${HEX.toUpperCase()}`).toString('hex'), HEX);
  });

  test('a checksum of the wrong length or algorithm is a usage error', () => {
    for (const bad of [`sha256=${HEX}00`, 'sha256=abc', `md5=${HEX}`, HEX, `sha256=${'zz'.repeat(32)}`]) {
      assert.throws(() => parseChecksumOption(bad), { code: 'ERR_XFER_USAGE' }, bad);
    }
  });

  test('sha256sum lists: text and binary mode, escaped names, BSD tags, comments', () => {
    const list = parseChecksumList(
      [
        `# made by sha256sum`,
        `${HEX}  a file.bin`,
        `${HEX2} *bin/b.iso`,
        `\\${HEX}  back\\\\slash\\nnl`,
        `SHA256 (c.txt) = ${HEX2}`,
        '',
      ].join('\n'),
      'sums',
    );
    assert.equal(list.get('a file.bin')?.toString('hex'), HEX);
    assert.equal(list.get('bin/b.iso')?.toString('hex'), HEX2);
    assert.equal(list.get('back\\slash\nnl')?.toString('hex'), HEX);
    assert.equal(list.get('c.txt')?.toString('hex'), HEX2);
    assert.equal(lookupChecksum(list, ['b.iso'])?.toString('hex'), HEX2);
    assert.equal(lookupChecksum(list, ['missing']), undefined);
  });

  test('a malformed line, a name listed twice with two sums, or an oversized list refuse the whole list', () => {
    assert.throws(() => parseChecksumList(`${HEX}  ok\nnot a line\n`, 'sums'), {
      code: 'ERR_XFER_CHECKSUM_LIST',
    });
    assert.throws(() => parseChecksumList(`${HEX}  x\n${HEX2}  x\n`, 'sums'), {
      code: 'ERR_XFER_CHECKSUM_LIST',
    });
    assert.throws(() => parseChecksumList('#'.repeat(17 * 1024 * 1024), 'sums'), {
      code: 'ERR_XFER_CHECKSUM_LIST',
    });
  });
});
