import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { humanDuration, humanRate, humanSize } from '../src/human.js';

describe('human sizes', () => {
  test('are powers of 1024 labelled as such (KiB, MiB, ...), one decimal below 100', () => {
    assert.equal(humanSize(0), '0 B');
    assert.equal(humanSize(1023), '1023 B');
    assert.equal(humanSize(1024), '1 KiB');
    assert.equal(humanSize(3000), '2.9 KiB');
    assert.equal(humanSize(3.5 * 1024 * 1024), '3.5 MiB');
    assert.equal(humanSize(209_715_200), '200 MiB');
    assert.equal(humanSize(2 ** 30), '1 GiB');
    assert.equal(humanSize(2 ** 40), '1 TiB');
  });

  test('rates use the same units per second, durations read naturally', () => {
    assert.equal(humanRate(6 * 1024 * 1024), '6 MiB/s');
    assert.equal(humanDuration(1.44), '1.4s');
    assert.equal(humanDuration(75), '1m15s');
    assert.equal(humanDuration(Number.NaN), '--');
  });
});
