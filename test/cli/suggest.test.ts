import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { closest } from '../../src/cli/suggest.js';

describe('did you mean', () => {
  test('finds the meant word from a typo, a swap, a missing letter or a unique prefix', () => {
    const commands = ['serve', 'client', 'ls', 'get', 'demo'];
    assert.equal(closest('sreve', commands), 'serve');
    assert.equal(closest('clinet', commands), 'client');
    assert.equal(closest('gte', commands), 'get');
    assert.equal(closest('cl', commands), 'client');
    assert.equal(closest('--ot', ['--out', '--once', '--json']), '--out');
    assert.equal(closest('--conections', ['--connections', '--interval']), '--connections');
  });

  test('suggests nothing when nothing is close', () => {
    assert.equal(closest('upload', ['serve', 'client', 'ls', 'get', 'demo']), undefined);
    assert.equal(closest('--frobnicate', ['--out', '--json']), undefined);
  });
});
