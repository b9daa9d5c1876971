import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import {
  checkPartialAnswer,
  parseContentRange,
  parseUnsatisfiedRange,
} from '../../../src/client/http/content-range.js';

describe('Content-Range', () => {
  test('a well-formed byte range parses, with or without a known total', () => {
    assert.deepEqual(parseContentRange('bytes 0-99/1000'), { start: 0, end: 99, total: 1000 });
    assert.deepEqual(parseContentRange('bytes 5-5/*'), { start: 5, end: 5, total: undefined });
    assert.deepEqual(parseUnsatisfiedRange('bytes */0'), 0);
  });

  test('malformed, reversed, past-the-end and oversized ranges are refused', () => {
    for (const bad of [
      'bytes 10-5/100',
      'bytes 0-100/100',
      'bytes 0-1',
      'items 0-1/2',
      'bytes -1-2/3',
      'bytes 0-99999999999999999/1',
      'bytes 0-1/2, bytes 3-4/5',
      undefined,
    ]) {
      assert.equal(parseContentRange(bad), undefined, String(bad));
    }
  });

  test('a 206 must name exactly the asked start, end and total, and an equal Content-Length', () => {
    const asked = { offset: 100, length: 50, size: 1000 };
    checkPartialAnswer({ 'content-range': 'bytes 100-149/1000', 'content-length': '50' }, asked);
    checkPartialAnswer({ 'content-range': 'bytes 100-149/1000' }, asked);
    const refused = [
      { 'content-range': 'bytes 0-49/1000', 'content-length': '50' },
      { 'content-range': 'bytes 100-150/1000', 'content-length': '51' },
      { 'content-range': 'bytes 100-149/2000', 'content-length': '50' },
      { 'content-range': 'bytes 100-149/*', 'content-length': '50' },
      { 'content-range': 'bytes 100-149/1000', 'content-length': '49' },
      { 'content-range': 'bytes 100-149/1000', 'content-length': '51' },
      { 'content-range': 'bytes 100-149/1000', 'content-length': 'x' },
      { 'content-range': ['bytes 100-149/1000', 'bytes 0-49/1000'] },
      {},
    ];
    for (const headers of refused) {
      assert.throws(
        () => checkPartialAnswer(headers, asked),
        { code: 'ERR_XFER_HTTP_RANGE' },
        JSON.stringify(headers),
      );
    }
  });

  test('header text in the error is escaped and cut short', () => {
    assert.throws(
      () =>
        checkPartialAnswer(
          { 'content-range': `\u001b[31m${'x'.repeat(500)}` },
          { offset: 0, length: 1, size: 1 },
        ),
      (err: Error) => !err.message.includes('\u001b') && err.message.length < 300,
    );
  });
});
