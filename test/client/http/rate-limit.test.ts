import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { RateLimit } from '../../../src/client/http/rate-limit.js';

describe('RateLimit', () => {
  test('a quarter second of bytes passes at once, then each chunk waits for its share of the rate', () => {
    let now = 1000;
    const limit = new RateLimit(1000, () => now);
    assert.equal(limit.charge(250), 0);
    assert.equal(limit.charge(250), 0);
    assert.equal(limit.charge(500), 500);
    now += 500;
    assert.equal(limit.charge(0), 0);
    assert.equal(limit.charge(100), 100);
  });

  test('connections share one budget, and idle time is not saved up beyond the burst', () => {
    let now = 0;
    const limit = new RateLimit(1000, () => now);
    now = 60_000;
    assert.equal(limit.charge(500), 0);
    assert.equal(limit.charge(250), 250, 'a second connection pays for the first');
  });
});
