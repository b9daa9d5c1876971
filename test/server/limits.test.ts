import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { RESERVED_DESCRIPTORS, fitToDescriptorLimit, openFileLimit } from '../../src/server/limits.js';

describe('fitToDescriptorLimit', () => {
  test('lowers the connection cap below the open-file limit, keeps a floor, and leaves a roomy limit alone', () => {
    assert.equal(fitToDescriptorLimit(1024, 1024), 1024 - RESERVED_DESCRIPTORS);
    assert.equal(fitToDescriptorLimit(1024, 65_536), 1024);
    assert.equal(fitToDescriptorLimit(1024, 20), 16);
    assert.equal(fitToDescriptorLimit(1024, undefined), 1024);
  });

  test(
    'reads this process’s soft limit on Linux',
    { skip: process.platform !== 'linux' && 'Linux /proc only' },
    () => {
      const limit = openFileLimit();
      assert.ok(limit !== undefined && limit > 0);
    },
  );
});
