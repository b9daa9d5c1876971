import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { TokenBucket } from '../../src/server/token-bucket.js';

describe('TokenBucket', () => {
  test('a full burst, then the sustained rate, and never more than the burst saved up', () => {
    const bucket = new TokenBucket(10, 5, 0);
    const takes = (n: number, at: number) =>
      Array.from({ length: n }, () => bucket.take(at)).filter(Boolean).length;
    assert.equal(takes(8, 0), 5, 'the burst');
    assert.equal(takes(8, 100), 1, '100 ms at 10/s refills one');
    assert.equal(takes(8, 10_100), 5, 'ten idle seconds still save up only a burst');
  });

  test('a clock that goes backwards takes nothing away', () => {
    const bucket = new TokenBucket(10, 2, 1000);
    assert.equal(bucket.take(1000), true);
    assert.equal(bucket.take(500), true);
    assert.equal(bucket.take(500), false);
  });
});
