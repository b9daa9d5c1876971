import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { dispositionFileName, fileNameFor } from '../../../src/client/http/file-name.js';

const url = new URL('http://example.test/dir/r%C3%A9sum%C3%A9%20final.pdf?x=1');

describe('file names on disk for web files', () => {
  test('the URL’s last segment, percent-decoded, when the server names nothing', () => {
    assert.equal(fileNameFor(url, {}), 'résumé final.pdf');
  });

  test('Content-Disposition filename* (RFC 8187) wins over filename, which wins over the URL', () => {
    assert.equal(
      fileNameFor(url, {
        'content-disposition': `attachment; filename="plain.txt"; filename*=UTF-8''%E2%82%AC%20rates.txt`,
      }),
      '€ rates.txt',
    );
    assert.equal(
      fileNameFor(url, { 'content-disposition': 'attachment; filename="say \\"hi\\".txt"' }),
      'say "hi".txt',
    );
    assert.equal(fileNameFor(url, { 'content-disposition': 'inline; filename=token.bin' }), 'token.bin');
    assert.equal(dispositionFileName("attachment; filename*=iso-8859-1'en'%A3%20rates"), '£ rates');
  });

  test('traversal names become a safe base name, never a path', () => {
    for (const evil of ['../../x', '/etc/x', '..\\..\\x', 'a/../../x', 'C:\\Windows\\x']) {
      // Backslashes unquoted: inside a quoted-string `\.` is an escaped dot.
      const value = evil.includes('\\') ? evil : `"${evil}"`;
      assert.equal(fileNameFor(url, { 'content-disposition': `attachment; filename=${value}` }), 'x', evil);
    }
    assert.equal(fileNameFor(new URL('http://h/a/..%2F..%2Fx'), {}), 'x');
  });

  test('names with nothing usable left, control characters or bad encoding are ERR_XFER_NAME', () => {
    const refused: [URL, Record<string, string>][] = [
      [url, { 'content-disposition': 'attachment; filename=".."' }],
      [url, { 'content-disposition': 'attachment; filename="x/"' }],
      [url, { 'content-disposition': "attachment; filename*=UTF-8''a%1B%5B31mb" }],
      [url, { 'content-disposition': `attachment; filename="${'a'.repeat(300)}"` }],
      [new URL('http://h/dir/'), {}],
      [new URL('http://h/%FF%FE'), {}],
      [new URL('http://h/a%2F..'), {}],
    ];
    for (const [u, headers] of refused) {
      assert.throws(
        () => fileNameFor(u, headers),
        { code: 'ERR_XFER_NAME' },
        `${u.href} ${JSON.stringify(headers)}`,
      );
    }
  });
});
