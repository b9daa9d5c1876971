import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { parseRange } from '../../../src/server/http/ranges.js';

describe('parseRange', () => {
  const size = 1000;
  const cases: [string | undefined, ReturnType<typeof parseRange>][] = [
    [undefined, { kind: 'whole' }],
    ['bytes=0-99', { kind: 'one', start: 0, end: 99 }],
    ['bytes=100-', { kind: 'one', start: 100, end: 999 }],
    ['bytes=-500', { kind: 'one', start: 500, end: 999 }],
    ['bytes=-5000', { kind: 'one', start: 0, end: 999 }],
    ['bytes=900-5000', { kind: 'one', start: 900, end: 999 }],
    ['BYTES = 1-1', { kind: 'one', start: 1, end: 1 }],
    ['bytes=999-999', { kind: 'one', start: 999, end: 999 }],
    ['bytes=1000-', { kind: 'unsatisfiable' }],
    ['bytes=1000-2000', { kind: 'unsatisfiable' }],
    ['bytes=-0', { kind: 'unsatisfiable' }],
    ['bytes=1000-1001, 2000-', { kind: 'unsatisfiable' }],
    // Past 2^53: never rounded into the file.
    ['bytes=9007199254740993-', { kind: 'unsatisfiable' }],
    ['bytes=99999999999999999999999999-', { kind: 'unsatisfiable' }],
    ['bytes=0-99999999999999999999999999', { kind: 'one', start: 0, end: 999 }],
    ['bytes=-99999999999999999999999999', { kind: 'one', start: 0, end: 999 }],
    // Malformed: ignored, the whole file is sent.
    ['bytes=5-1', { kind: 'whole' }],
    ['bytes=-', { kind: 'whole' }],
    ['bytes=', { kind: 'whole' }],
    ['bytes=a-b', { kind: 'whole' }],
    ['bytes=-1-2', { kind: 'whole' }],
    ['bytes=1.5-2', { kind: 'whole' }],
    ['bytes=0x10-', { kind: 'whole' }],
    ['items=0-1', { kind: 'whole' }],
    ['garbage', { kind: 'whole' }],
    ['bytes=0-1,,2-3', { kind: 'whole' }],
    // Several satisfiable ranges: the whole file, not multipart.
    ['bytes=0-1,5-6', { kind: 'whole' }],
    ['bytes=0-1, 5000-6000', { kind: 'one', start: 0, end: 1 }],
  ];
  for (const [header, expected] of cases) {
    test(`${JSON.stringify(header)} on 1000 bytes is ${JSON.stringify(expected)}`, () => {
      assert.deepEqual(parseRange(header, size), expected);
    });
  }

  test('an empty file satisfies no range', () => {
    assert.deepEqual(parseRange('bytes=0-', 0), { kind: 'unsatisfiable' });
    assert.deepEqual(parseRange('bytes=-1', 0), { kind: 'unsatisfiable' });
  });

  test('a list of more than 100 ranges is ignored', () => {
    const many = `bytes=${Array.from({ length: 101 }, (_, i) => `${i}-${i}`).join(',')}`;
    assert.deepEqual(parseRange(many, size), { kind: 'whole' });
  });
});
