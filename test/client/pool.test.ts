import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { describe, test } from 'node:test';
import { ConnectionPool } from '../../src/client/pool.js';
import { MAX_VERSION_REFUSALS } from '../../src/client/retry.js';
import { startServer } from '../helpers/server.js';
import { waitFor } from '../helpers/tmp.js';

describe('connection pool', () => {
  test('replace opens a fresh connection and keeps the refused ones open (a bounded few) until the slot is dropped', async (t) => {
    const s = await startServer(t, { f: 'hello' });
    const pool = new ConnectionPool({ host: '127.0.0.1', port: s.port, sessionId: randomBytes(16) }, 2);
    t.after(() => pool.shutdown());
    const open = () => s.server.admission.size;
    const first = await pool.connection(0);
    await waitFor(() => open() === 1, 5000, 'one connection');

    pool.replace(0);
    const fresh = await pool.connection(0);
    assert.notEqual(fresh, first, 'the slot has a new connection');
    await fresh.list();
    // Behind leastconn the refused connection must keep counting against its backend.
    assert.equal(open(), 2, 'the refused connection is still open beside the fresh one');

    for (let i = 1; i < MAX_VERSION_REFUSALS + 2; i++) {
      pool.replace(0);
      await (await pool.connection(0)).list();
    }
    await waitFor(
      () => open() === 1 + MAX_VERSION_REFUSALS,
      5000,
      `the current connection and ${MAX_VERSION_REFUSALS} refused ones, no more`,
    );

    await (await pool.connection(1)).list();
    await waitFor(() => open() === 2 + MAX_VERSION_REFUSALS, 5000, 'slot 1 connected');
    pool.drop(0);
    await waitFor(() => open() === 1, 5000, 'dropping slot 0 closes its refused connections too');
    assert.deepEqual((await (await pool.connection(1)).list()).length, 1, 'slot 1 is untouched');
  });
});
