import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { DEFAULT_RETRY_POLICY, backoffDelay } from '../../src/client/retry.js';

describe('retry policy', () => {
  test('delays double from the base, are capped, and jitter stays within [half, full]', () => {
    const p = DEFAULT_RETRY_POLICY;
    assert.equal(
      backoffDelay(1, p, () => 0),
      p.baseDelayMs / 2,
    );
    assert.equal(
      backoffDelay(1, p, () => 1),
      p.baseDelayMs,
    );
    assert.equal(
      backoffDelay(3, p, () => 1),
      p.baseDelayMs * 4,
    );
    assert.equal(
      backoffDelay(50, p, () => 1),
      p.maxDelayMs,
    );
    assert.equal(
      backoffDelay(50, p, () => 0),
      p.maxDelayMs / 2,
    );
  });

  test('the default policy keeps trying for at least 30 s, even with the shortest jitter', () => {
    let total = 0;
    for (let attempt = 1; attempt <= DEFAULT_RETRY_POLICY.maxAttempts; attempt++) {
      total += backoffDelay(attempt, DEFAULT_RETRY_POLICY, () => 0);
    }
    assert.ok(total >= 30_000, `only ${total} ms`);
  });
});
