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

  test('agrees with string-width on the symbols xfer draws itself (its fast path)', () => {
    const unit = fc.constantFrom('a', ' ', '~', '\u2713', '\u2026', '\u2588', '\u2591', '\u00b7');
    fc.assert(
      fc.property(fc.string({ unit }), (text) => {
        assert.equal(textWidth(text), stringWidth(text));
      }),
      { numRuns: 500 },
    );
    const doneLine = '✓ big.bin  3 MiB in 0.2s (15 MiB/s)  verified · sha256 ab12…';
    assert.equal(textWidth(doneLine), doneLine.length);
    assert.equal(textWidth(doneLine), stringWidth(doneLine));
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
