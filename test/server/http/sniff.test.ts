import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { protocolOf } from '../../../src/server/http/sniff.js';

describe('protocolOf', () => {
  test('HTTP methods, the HTTP/2 preface included, go to HTTP once their space arrives', () => {
    for (const head of ['GET /', 'HEAD /', 'POST /', 'OPTIONS *', 'PRI * HTTP/2.0', 'CONNECT a:1']) {
      assert.equal(protocolOf(Buffer.from(head)), 'http', head);
    }
  });

  test('a prefix of a method waits for more bytes', () => {
    for (const head of ['G', 'GE', 'GET', 'HEA', 'P', 'OPTIONS']) {
      assert.equal(protocolOf(Buffer.from(head)), undefined, head);
    }
  });

  test('the xfer magic, and anything else, goes to the xfer protocol (which names a wrong magic)', () => {
    for (const head of ['X', 'XFER', 'get /', 'GETX', '\x16\x03\x01', '\0', 'GE T']) {
      assert.equal(protocolOf(Buffer.from(head, 'latin1')), 'xfer', head);
    }
  });
});
