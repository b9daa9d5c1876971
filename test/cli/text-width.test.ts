import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import stringWidth from 'string-width';
import { textWidth } from '../../src/cli/text-width.js';

describe('textWidth', () => {
  test('counts printable ASCII one column a character', () => {
    assert.equal(textWidth(''), 0);
    assert.equal(textWidth('report 2026.pdf  5 MB'), 21);
  });

  test('measures wide, combining and emoji text like string-width', () => {
    assert.equal(textWidth('日本語.txt'), 10);
    assert.equal(textWidth('e\u0301'), 1);
    assert.equal(textWidth('📦 box'), 6);
    assert.equal(textWidth('\x1b[32m✓\x1b[0m'), 1);
  });

  test('agrees with string-width on any string', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'grapheme' }), fc.string(), (a, b) => {
        assert.equal(textWidth(a + b), stringWidth(a + b));
      }),
      { numRuns: 500 },
    );
  });
});
