import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { parseTarget, pathOf } from '../../../src/server/http/target.js';

describe('parseTarget', () => {
  test('the root is the index, with or without a query', () => {
    assert.deepEqual(parseTarget('/'), { kind: 'index' });
    assert.deepEqual(parseTarget('/?x=1'), { kind: 'index' });
  });

  test('each segment is percent-decoded once', () => {
    assert.deepEqual(parseTarget('/a%20b/%E6%97%A5.txt?dl=1'), { kind: 'file', name: 'a b/日.txt' });
    assert.deepEqual(parseTarget('/%252e%252e'), { kind: 'file', name: '%2e%2e' });
  });

  const refused = [
    '/..',
    '/../etc/passwd',
    '/a/../../b',
    '/%2e%2e/x',
    '/%2E%2E',
    '/.%2e/x',
    '/a%2fb',
    '/a%2F..%2Fb',
    '/a%5cb',
    '/..%5c..%5cx',
    '/a%00b',
    '/%',
    '/%zz',
    '/%c0%ae%c0%ae/x',
    '//etc/passwd',
    '/a//b',
    '/./a',
    'http://127.0.0.1/a',
    '*',
    'a',
    '/%e2%80%ae',
  ];
  for (const url of refused) {
    test(`${JSON.stringify(url)} is refused without a lookup`, () => {
      assert.equal(parseTarget(url).kind, 'bad');
    });
  }

  test('pathOf percent-encodes each segment and round-trips', () => {
    const name = 'dir with space/日本 語#?%.txt';
    assert.equal(pathOf(name), '/dir%20with%20space/%E6%97%A5%E6%9C%AC%20%E8%AA%9E%23%3F%25.txt');
    assert.deepEqual(parseTarget(pathOf(name)), { kind: 'file', name });
  });
});
