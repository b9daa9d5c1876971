import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { Turn } from '../../src/client/turn.js';

describe('Turn', () => {
  test('one holder at a time, the others in arrival order; releasing twice hands it on once', async () => {
    const turn = new Turn();
    const order: string[] = [];
    const first = await turn.take();
    assert.equal(turn.busy, true);
    const waiting = ['b', 'c'].map((name) => turn.take().then((release) => (order.push(name), release)));
    await new Promise((r) => setImmediate(r));
    assert.deepEqual(order, []);
    first();
    first();
    const b = await waiting[0];
    await new Promise((r) => setImmediate(r));
    assert.deepEqual(order, ['b'], 'a second release by the first holder must not let c in');
    b?.();
    const c = await waiting[1];
    assert.deepEqual(order, ['b', 'c']);
    c?.();
    assert.equal(turn.busy, false);
  });
});
