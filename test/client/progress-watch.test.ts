import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { CHECKS_PER_WINDOW, ProgressWatch } from '../../src/client/progress-watch.js';
import { DEFAULT_RETRY_POLICY } from '../../src/client/retry.js';

const policy = {
  ...DEFAULT_RETRY_POLICY,
  stallTimeoutMs: 10_000,
  minBytesPerSecond: 1024,
  minProgressBytes: 1024 * 1024,
  noProgressTimeoutMs: 60_000,
};
const step = policy.stallTimeoutMs / CHECKS_PER_WINDOW;

/** Runs the watch from 0 to `until` ms, one check per step, feeding `perStep` bytes to lane 0 before each. */
function run(
  watch: ProgressWatch,
  until: number,
  perStep: number,
): { at: number; stalled: number[]; gaveUp: boolean }[] {
  const verdicts = [];
  for (let at = step; at <= until; at += step) {
    watch.received(0, perStep, at);
    verdicts.push({ at, ...watch.check(at) });
  }
  return verdicts;
}

describe('ProgressWatch (the minimum-progress rule)', () => {
  test('a connection dripping one byte a second is stalled after one window, not before', () => {
    const watch = new ProgressWatch(policy, 0);
    watch.busy(0, 0);
    const verdicts = run(watch, 3 * policy.stallTimeoutMs, step / 1000);
    const first = verdicts.find((v) => v.stalled.includes(0));
    assert.ok(first, 'stalled');
    assert.ok(
      first.at >= policy.stallTimeoutMs && first.at <= 1.25 * policy.stallTimeoutMs,
      `at ${first.at}`,
    );
  });

  test('a connection at twice the floor rate is never stalled', () => {
    const watch = new ProgressWatch(policy, 0);
    watch.busy(0, 0);
    const verdicts = run(watch, 5 * policy.stallTimeoutMs, (2 * policy.minBytesPerSecond * step) / 1000);
    assert.deepEqual(
      verdicts.flatMap((v) => v.stalled),
      [],
    );
  });

  test('an idle lane (backing off, or out of work) is not judged', () => {
    const watch = new ProgressWatch(policy, 0);
    watch.busy(0, 0);
    watch.idle(0);
    const verdicts = run(watch, 3 * policy.stallTimeoutMs, 0);
    assert.deepEqual(
      verdicts.flatMap((v) => v.stalled),
      [],
    );
  });

  test('a fresh attempt gets a whole window before it is judged', () => {
    const watch = new ProgressWatch(policy, 0);
    watch.busy(0, 0);
    watch.check(step);
    watch.busy(0, 9 * step); // a new attempt after a retry
    assert.deepEqual(watch.check(12 * step).stalled, []);
    assert.deepEqual(watch.check(13 * step).stalled, [0]);
  });

  test('a file that gains less than minProgressBytes in noProgressTimeoutMs is given up; progress resets the clock', () => {
    const slow = new ProgressWatch(policy, 0);
    // 64 KiB per window: busy-looking, but under 1 MiB a minute.
    const verdicts = run(slow, 2 * policy.noProgressTimeoutMs, (64 * 1024) / CHECKS_PER_WINDOW);
    const first = verdicts.find((v) => v.gaveUp);
    assert.equal(first?.at, policy.noProgressTimeoutMs);

    const fine = new ProgressWatch(policy, 0);
    fine.received(0, policy.minProgressBytes, policy.noProgressTimeoutMs - 1);
    assert.equal(fine.check(policy.noProgressTimeoutMs).gaveUp, false);
    assert.equal(fine.check(2 * policy.noProgressTimeoutMs - 1).gaveUp, true);
  });
});
