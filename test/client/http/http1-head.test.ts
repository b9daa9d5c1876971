import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { parseHead, requestText } from '../../../src/client/http/http1-head.js';

describe('HTTP/1.1 heads for RangeSockets', () => {
  test('a well-formed head: status, lower-case names, repeated headers as arrays, keep-alive by version', () => {
    const head = parseHead(
      'HTTP/1.1 206 Partial Content\r\nContent-Range: bytes 0-9/100\r\nX-A: 1\r\nx-a: 2\r\nETag: "v"',
    );
    assert.deepEqual(head, {
      status: 206,
      headers: { 'content-range': 'bytes 0-9/100', 'x-a': ['1', '2'], etag: '"v"' },
      keepAlive: true,
    });
    assert.equal(parseHead('HTTP/1.1 206 OK\r\nConnection: close')?.keepAlive, false);
    assert.equal(parseHead('HTTP/1.0 206 OK')?.keepAlive, false);
    assert.equal(parseHead('HTTP/1.0 206 OK\r\nconnection: Keep-Alive')?.keepAlive, true);
    assert.equal(parseHead('HTTP/1.1 206 ')?.status, 206);
  });

  test('anything unusual is refused (left to undici): other versions, folding, controls, bytes past ASCII', () => {
    for (const text of [
      'HTTP/2 206 OK',
      'HTTP/1.1 20 OK',
      'ICY 206 OK',
      'HTTP/1.1 206 OK\r\n folded: line',
      'HTTP/1.1 206 OK\r\nno colon',
      'HTTP/1.1 206 OK\r\nbad name: x',
      'HTTP/1.1 206 OK\r\nx: a\u0000b',
      'HTTP/1.1 206 OK\r\nx: caf\u00e9',
      'HTTP/1.1 206 OK\r\n\r\nx: y',
    ]) {
      assert.equal(parseHead(text), undefined, JSON.stringify(text));
    }
  });

  test('the request: GET path and query, Host from the URL, headers as given; unsafe values are not sent', () => {
    const url = new URL('http://example.org:8080/a%20b/f.bin?x=1');
    assert.equal(
      requestText(url, { range: 'bytes=0-9', 'if-range': '"v"' }),
      'GET /a%20b/f.bin?x=1 HTTP/1.1\r\nhost: example.org:8080\r\nrange: bytes=0-9\r\nif-range: "v"\r\n\r\n',
    );
    assert.equal(requestText(url, { 'x-a': 'one\r\nx-b: two' }), undefined);
    assert.equal(requestText(url, { 'x-a': 'caf\u00e9' }), undefined);
    assert.equal(requestText(url, { Host: 'elsewhere' }), undefined);
  });
});
