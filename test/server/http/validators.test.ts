import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { FileHashes } from '../../../src/server/hasher.js';
import { etagOf, ifRangeHolds, lastModifiedOf, notModified } from '../../../src/server/http/validators.js';

const file = { size: 10, mtimeUs: 1_700_000_000_123_456, versionKey: '1:2:10:1700000000123456' };
const hashes: FileHashes = { sha256: Buffer.alloc(32, 0xab), pieceSize: 1 << 20, pieces: [] };

describe('validators', () => {
  test('the ETag is strong, from the hash once known, else from the version', () => {
    assert.equal(etagOf(file, hashes), `"${'ab'.repeat(16)}-10"`);
    const early = etagOf(file, undefined);
    assert.match(early, /^"v-[0-9a-f]{24}"$/);
    assert.notEqual(early, etagOf({ ...file, versionKey: '1:2:10:1700000000123457' }, undefined));
  });

  test('If-None-Match matches the tag, a list holding it, W/ forms and *; it wins over If-Modified-Since', () => {
    const etag = etagOf(file, hashes);
    assert.ok(notModified({ 'if-none-match': etag }, etag, file));
    assert.ok(notModified({ 'if-none-match': `"x", W/${etag}` }, etag, file));
    assert.ok(notModified({ 'if-none-match': '*' }, etag, file));
    assert.ok(
      !notModified({ 'if-none-match': '"other"', 'if-modified-since': lastModifiedOf(file) }, etag, file),
    );
  });

  test('If-Modified-Since at or after Last-Modified is a 304; before, or garbage, is not', () => {
    const etag = etagOf(file, hashes);
    assert.ok(notModified({ 'if-modified-since': lastModifiedOf(file) }, etag, file));
    assert.ok(!notModified({ 'if-modified-since': new Date(1_600_000_000_000).toUTCString() }, etag, file));
    assert.ok(!notModified({ 'if-modified-since': 'yesterday-ish' }, etag, file));
  });

  test('If-Range holds only for the exact strong ETag or the exact date', () => {
    const etag = etagOf(file, hashes);
    assert.ok(ifRangeHolds({}, etag, file));
    assert.ok(ifRangeHolds({ 'if-range': etag }, etag, file));
    assert.ok(!ifRangeHolds({ 'if-range': `W/${etag}` }, etag, file));
    assert.ok(!ifRangeHolds({ 'if-range': '"other"' }, etag, file));
    assert.ok(ifRangeHolds({ 'if-range': lastModifiedOf(file) }, etag, file));
    assert.ok(!ifRangeHolds({ 'if-range': new Date(1_600_000_000_000).toUTCString() }, etag, file));
  });
});
