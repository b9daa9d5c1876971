import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { setTimeout as delay } from 'node:timers/promises';
import {
  DEFAULT_RETRY_POLICY,
  MAX_VERSION_REFUSALS,
  backoffDelay,
  decideRetry,
  waitUnlessAborted,
} from '../../src/client/retry.js';
import { ConnectionClosedError, FileChangedError, NotFoundError } from '../../src/errors.js';

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

  describe('decideRetry', () => {
    const p = { ...DEFAULT_RETRY_POLICY, maxAttempts: 3, minProgressBytes: 1000 };
    const closed = new ConnectionClosedError();

    test('a verdict is never retried', () => {
      assert.deepEqual(decideRetry(p, { attempt: 0, error: new NotFoundError(), progressBytes: 0 }), {
        retry: false,
        attempt: 0,
        reason: 'verdict',
      });
    });

    test('attempts with negligible progress count up to the budget, then give up', () => {
      let attempt = 0;
      for (let i = 1; i <= p.maxAttempts; i++) {
        const d = decideRetry(p, { attempt, error: closed, progressBytes: 999 });
        assert.equal(d.retry, true);
        assert.equal(d.attempt, i);
        attempt = d.attempt;
      }
      assert.deepEqual(decideRetry(p, { attempt, error: closed, progressBytes: 999 }), {
        retry: false,
        attempt: p.maxAttempts + 1,
        reason: 'exhausted',
      });
    });

    test('a version refusal (a backend with another version) is retried a few times, then is a verdict', () => {
      const changed = new FileChangedError();
      const q = { ...p, maxAttempts: 16 };
      for (let attempt = 0; attempt < MAX_VERSION_REFUSALS; attempt++) {
        assert.equal(decideRetry(q, { attempt, error: changed, progressBytes: 0 }).retry, true);
      }
      assert.deepEqual(decideRetry(q, { attempt: MAX_VERSION_REFUSALS, error: changed, progressBytes: 0 }), {
        retry: false,
        attempt: MAX_VERSION_REFUSALS,
        reason: 'verdict',
      });
    });

    test('an attempt with useful progress starts a fresh count, with the first delay', () => {
      const d = decideRetry(p, { attempt: p.maxAttempts, error: closed, progressBytes: 1000 }, () => 1);
      assert.deepEqual(d, { retry: true, attempt: 1, delayMs: p.baseDelayMs });
    });
  });

  test('waitUnlessAborted ends at once with ERR_XFER_ABORTED when the signal fires', async () => {
    const controller = new AbortController();
    const waiting = waitUnlessAborted(60_000, controller.signal);
    await delay(1);
    controller.abort();
    await assert.rejects(waiting, { code: 'ERR_XFER_ABORTED' });
    await waitUnlessAborted(1, new AbortController().signal);
  });
});
