import assert from 'node:assert/strict';
import { readFile, utimes } from 'node:fs/promises';
import { connect, createServer, type Socket } from 'node:net';
import { join } from 'node:path';
import { describe, test, type TestContext } from 'node:test';
import { startServer } from '../helpers/server.js';
import { eventsOf, newSession } from '../helpers/session.js';
import { patternBytes } from '../helpers/tmp.js';

const MiB = 1024 * 1024;

/**
 * A round-robin TCP balancer on 127.0.0.1:0: connection n goes to
 * `ports[n % ports.length]`. What a load balancer does to a client's
 * connections, without HAProxy (test/server/load-balancer.test.ts has it).
 */
async function roundRobin(t: TestContext, ports: number[]): Promise<number> {
  const sockets = new Set<Socket>();
  let next = 0;
  const server = createServer((client) => {
    const upstream = connect(ports[next++ % ports.length]!, '127.0.0.1');
    for (const s of [client, upstream]) {
      sockets.add(s);
      s.on('error', () => undefined).on('close', () => {
        sockets.delete(s);
        client.destroy();
        upstream.destroy();
      });
    }
    client.pipe(upstream).pipe(client);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.after(() => {
    server.close();
    sockets.forEach((s) => s.destroy());
  });
  return (server.address() as { port: number }).port;
}

describe('a backend with another version of the file', () => {
  test('its refusals are retried on fresh connections and the file arrives whole, in the version first told', async (t) => {
    const listed = { big: patternBytes(12 * MiB, 51), small: patternBytes(200_000, 52) };
    const other = { big: patternBytes(12 * MiB, 61), small: patternBytes(200_000, 62) };
    const a = await startServer(t, listed);
    const b = await startServer(t, other);
    // B's copies are another version: other bytes and another mtime.
    const later = new Date(Date.now() + 60_000);
    for (const name of ['big', 'small']) await utimes(join(b.resources, name), later, later);
    await b.server.catalog.rescan();
    // The catalog connection (the first) reaches A; from then on, every other connection reaches B.
    const port = await roundRobin(t, [a.port, b.port]);
    const run = await newSession(t, port);

    for (const name of ['big', 'small'] as const) {
      assert.deepEqual(await run.session.fetch(name), { ok: true }, name);
      assert.ok(
        (await readFile(join(run.dataDir, name))).equals(listed[name]),
        `${name}: not the listed version`,
      );
    }
    const refusals = eventsOf(run.events, 'retry').filter((e) => e.code === 'ERR_XFER_CHANGED');
    assert.ok(refusals.length > 0, 'no GET reached the other version: the test proved nothing');
    assert.deepEqual(eventsOf(run.events, 'restart'), [], 'a refusal retried elsewhere is no restart');
  });

  test('a server whose file really changed still gets the download started over', async (t) => {
    const s = await startServer(t, { f: patternBytes(4 * MiB, 71) });
    const run = await newSession(t, s.port, { connections: 1 });
    // The client learned the old identity; now the file is another version on the only server.
    const later = new Date(Date.now() + 60_000);
    await utimes(join(s.resources, 'f'), later, later);
    await s.server.catalog.rescan();
    assert.deepEqual(await run.session.fetch('f'), { ok: true });
    const refusals = eventsOf(run.events, 'retry').filter((e) => e.code === 'ERR_XFER_CHANGED');
    assert.equal(refusals.length, 4, 'four refusals in a row, then the file counts as changed');
    assert.equal(eventsOf(run.events, 'restart').length, 1);
  });
});
