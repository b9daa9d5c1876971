import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { printableName, validateName } from '../../src/protocol/index.js';

describe('validateName', () => {
  for (const ok of [
    'a',
    'file with spaces.txt',
    'sub/dir/file',
    'ünïcödé/日本語.bin',
    '%2e%2e',
    '..hidden',
    'a..b',
  ]) {
    test(`accepts ${JSON.stringify(ok)}`, () => assert.equal(validateName(ok), ok));
  }
  const refused = [
    '',
    '..',
    '../x',
    'a/../b',
    'a/./b',
    '/etc/passwd',
    'a\\b',
    '..\\..\\x',
    'a//b',
    'a/',
    'nul\0byte',
    'esc\x1b[31m',
    'del\x7f',
    'c1\u0085',
    'bidi\u202etxt.exe',
    'x'.repeat(4097),
    `${'y'.repeat(256)}/z`,
    'replacement\uFFFD',
  ];
  for (const bad of refused) {
    test(`refuses ${JSON.stringify(bad.slice(0, 30))}`, () =>
      assert.throws(() => validateName(bad), { code: 'ERR_XFER_NAME' }));
  }

  test('the error message never contains raw control characters', () => {
    try {
      validateName('evil\x1b]0;title\x07');
      assert.fail('should throw');
    } catch (err) {
      // eslint-disable-next-line no-control-regex
      assert.doesNotMatch((err as Error).message, /[\x00-\x1f]/);
    }
  });
});

describe('printableName', () => {
  test('escapes control and bidi characters and keeps the rest', () => {
    assert.equal(printableName('a\x1bb\u202ec ü'), 'a\\x1bb\\u202ec ü');
  });
});
