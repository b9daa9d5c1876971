import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { describe, test } from 'node:test';
import { digestOf } from '../../../src/client/http/digests.js';

const sha = createHash('sha256').update('hello').digest();
const b64 = sha.toString('base64');
const other = createHash('sha256').update('other').digest('base64');

describe('digests from response headers', () => {
  test('Repr-Digest sha-256 (RFC 9530) is read among other algorithms and parameters', () => {
    const d = digestOf({ 'repr-digest': `sha-512=:${'A'.repeat(86)}==:, sha-256=:${b64}:` }, 206);
    assert.equal(d?.source, 'Repr-Digest');
    assert.ok(d?.sha256.equals(sha));
  });

  test('Repr-Digest wins over Content-Digest and the older Digest', () => {
    const d = digestOf(
      {
        'repr-digest': `sha-256=:${b64}:`,
        'content-digest': `sha-256=:${other}:`,
        digest: `SHA-256=${other}`,
      },
      200,
    );
    assert.equal(d?.source, 'Repr-Digest');
  });

  test('Content-Digest counts only when the answer is the whole file (200)', () => {
    assert.equal(digestOf({ 'content-digest': `sha-256=:${b64}:` }, 200)?.source, 'Content-Digest');
    assert.equal(digestOf({ 'content-digest': `sha-256=:${b64}:` }, 206), undefined);
  });

  test('Digest: SHA-256= (RFC 3230) is read case-insensitively, also from repeated headers', () => {
    const d = digestOf({ digest: ['md5=abc', `sha-256=${b64}`] }, 206);
    assert.equal(d?.source, 'Digest');
    assert.ok(d?.sha256.equals(sha));
  });

  test('wrong lengths, bad base64 and unknown algorithms are ignored, never trusted', () => {
    for (const headers of [
      { 'repr-digest': 'sha-256=:AAAA:' },
      { 'repr-digest': `sha-256=${b64}` },
      { 'repr-digest': 'sha-256=:!!!!:' },
      { digest: 'SHA-256=AAAA' },
      { digest: `SHA-512=${b64}` },
      { 'repr-digest': `sha-256=:${b64.replace(/=$/, '')}:` },
    ]) {
      assert.equal(digestOf(headers, 200), undefined, JSON.stringify(headers));
    }
  });
});
