import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { LogLimiter, type ServerLog } from '../../src/server/log-limiter.js';
import { waitFor } from '../helpers/tmp.js';

describe('LogLimiter', () => {
  test('a storm of one kind of line is one line now and one summary with the count', () => {
    const lines: ServerLog[] = [];
    const limiter = new LogLimiter((l) => lines.push(l));
    for (let i = 0; i < 10_000; i++)
      limiter.log('refused', { level: 'warn', message: `refused 10.0.0.${i % 250}` });
    limiter.log('auth', { level: 'warn', message: 'authentication failed from 10.0.0.1' });
    assert.deepEqual(
      lines.map((l) => l.message),
      ['refused 10.0.0.0', 'authentication failed from 10.0.0.1'],
    );
    limiter.flush();
    assert.equal(lines.length, 3, 'a kind seen once has nothing to sum up');
    assert.deepEqual(lines[2], {
      level: 'warn',
      message: '9999 more like this in the last 10 s: refused 10.0.0.0',
    });
    limiter.log('refused', { level: 'warn', message: 'refused 10.0.0.9' });
    assert.equal(lines.at(-1)?.message, 'refused 10.0.0.9', 'a new interval starts with a line at once');
    limiter.flush();
  });

  test('the summary comes by itself when the interval ends', async () => {
    const lines: string[] = [];
    const limiter = new LogLimiter((l) => lines.push(l.message), 50);
    limiter.log('k', { level: 'info', message: 'first' });
    limiter.log('k', { level: 'info', message: 'second' });
    await waitFor(() => lines.length === 2, 3000, 'the summary');
    assert.equal(lines[1], '1 more like this in the last 0 s: first');
  });
});
