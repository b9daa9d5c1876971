import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { createServer as createHttpServer } from 'node:http';
import { createServer as createTlsServer } from 'node:tls';
import { describe, test } from 'node:test';
import { MAX_CATALOG_ENTRIES } from '../../src/client/catalog-bounds.js';
import { ClientConnection, type ConnectOptions } from '../../src/client/connection.js';
import type { XferError } from '../../src/errors.js';
import { authProof, encode, type CatalogEntry } from '../../src/protocol/index.js';
import { catalogFrame, servesFiles, startFakeServer, type FakeBehaviour } from '../helpers/fake-server.js';
import { startServer } from '../helpers/server.js';
import { HAVE_OPENSSL, makePki } from '../helpers/tls.js';
import { waitFor } from '../helpers/tmp.js';

const open = (port: number, extra: Partial<ConnectOptions> = {}) =>
  ClientConnection.open({ host: '127.0.0.1', port, sessionId: randomBytes(16), ...extra });

async function fake(t: Parameters<typeof startFakeServer>[0], behaviour: Partial<FakeBehaviour>) {
  return startFakeServer(t, { ...servesFiles({ f: Buffer.from('x') }), ...behaviour });
}

/** A catalog entry whose name is padded to `nameBytes`, so a frame carries a known number of bytes. */
function entry(i: number, nameBytes = 16): CatalogEntry {
  return {
    name: `f${i}`.padEnd(nameBytes, 'x'),
    size: 1,
    mtimeUs: 1,
    pieceSize: 1024 * 1024,
    sha256: Buffer.alloc(32),
  };
}

/** A LIST answered with the same CATALOG frame (more = 1) as fast as the client reads, never a last one. */
function endlessCatalog(batch: CatalogEntry[]): FakeBehaviour['list'] {
  return (requestId, socket) => {
    const frame = encode({ type: 'catalog', requestId, more: true, entries: batch });
    const pump = () => {
      while (!socket.destroyed && socket.write(frame));
      if (!socket.destroyed) socket.once('drain', pump);
    };
    pump();
    return undefined;
  };
}

/** Library messages speak no CLI: the CLI adds the flags a person should try. */
function assertNoFlags(err: unknown): true {
  assert.doesNotMatch((err as Error).message, /--\w/, 'no CLI flag in a library message');
  return true;
}

describe('client connection against a hostile server', () => {
  describe('authentication: no downgrade', () => {
    test('with a token, a server that asks for none is refused: it never proved it knows the token', async (t) => {
      const { port } = await fake(t, { authRequired: false });
      await assert.rejects(open(port, { token: 'secret' }), (err: Error & { code: string }) => {
        assert.equal(err.code, 'ERR_XFER_AUTH');
        assert.match(err.message, /did not prove it knows the token/);
        return assertNoFlags(err);
      });
    });

    test('with a token, a server whose AUTH_OK proof is wrong is refused', async (t) => {
      const { port } = await fake(t, { authRequired: true, serverProof: randomBytes(32) });
      await assert.rejects(open(port, { token: 'secret' }), {
        code: 'ERR_XFER_AUTH',
        message: /did not prove it knows the token/,
      });
    });

    test('a server that does prove it is accepted; one that wants a token the client lacks is refused', async (t) => {
      const s = await startServer(t, { f: 'x' }, { token: 'secret' });
      const conn = await s.connect({ token: 'secret' });
      assert.equal((await conn.list()).length, 1);
      await assert.rejects(s.connect(), (err: Error & { code: string }) => {
        assert.equal(err.code, 'ERR_XFER_AUTH');
        assert.match(err.message, /requires a token/);
        return assertNoFlags(err);
      });
      // The proof function the real server uses is the one the fake one above lacked.
      assert.equal(authProof('secret', 'server', Buffer.alloc(32), Buffer.alloc(32)).length, 32);
    });
  });

  describe('a bounded catalog', () => {
    test('endless CATALOG frames with more = 1 are refused at the entry cap, fast', async (t) => {
      const batch = Array.from({ length: 5000 }, (_, i) => entry(i));
      const conn = await open((await fake(t, { list: endlessCatalog(batch) })).port);
      await assert.rejects(conn.list(), {
        code: 'ERR_XFER_CATALOG_TOO_LARGE',
        message: new RegExp(`more than ${MAX_CATALOG_ENTRIES} files`),
      });
    });

    test('a catalog of few but long entries is refused at the byte cap', async (t) => {
      // Names of 3,800 bytes: 64 MiB of catalog comes after some 16,000 entries, long before the entry cap.
      const long = (i: number) => ({
        ...entry(i),
        name: [i, ...Array<string>(19).fill('n'.repeat(200))].join('/'),
      });
      const batch = Array.from({ length: 250 }, (_, i) => long(i));
      const conn = await open((await fake(t, { list: endlessCatalog(batch) })).port);
      await assert.rejects(conn.list(), { code: 'ERR_XFER_CATALOG_TOO_LARGE', message: /more than 64 MiB/ });
    });

    test('an empty CATALOG frame that announces more is refused at once', async (t) => {
      const { port } = await fake(t, {
        list: (requestId) =>
          Buffer.concat(
            Array.from({ length: 1000 }, () =>
              encode({ type: 'catalog', requestId, more: true, entries: [] }),
            ),
          ),
      });
      const conn = await open(port);
      await assert.rejects(conn.list(), { code: 'ERR_XFER_PROTOCOL', message: /empty CATALOG frame/ });
    });

    test('a catalog dripped one frame at a time is cut at the LIST deadline', async (t) => {
      const timers: NodeJS.Timeout[] = [];
      t.after(() => timers.forEach((x) => clearInterval(x)));
      const { port } = await fake(t, {
        list: (requestId, socket) => {
          let i = 0;
          timers.push(
            setInterval(
              () => socket.write(encode({ type: 'catalog', requestId, more: true, entries: [entry(i++)] })),
              20,
            ),
          );
          return undefined;
        },
      });
      const conn = await open(port, { listTimeoutMs: 400 });
      await assert.rejects(conn.list(), (err: XferError) => {
        assert.equal(err.code, 'ERR_XFER_CATALOG_TIMEOUT');
        assert.match(err.message, /did not finish sending its catalog within 0.4 s/);
        assert.equal(err.retryable, false, 'a verdict: the session does not ask again');
        return true;
      });
    });

    test('an honest catalog in several frames still arrives whole', async (t) => {
      const entries = Array.from({ length: 10 }, (_, i) => entry(i));
      const { port } = await fake(t, {
        list: (requestId) =>
          Buffer.concat([
            encode({ type: 'catalog', requestId, more: true, entries: entries.slice(0, 4) }),
            catalogFrame(requestId, entries.slice(4)),
          ]),
      });
      const conn = await open(port);
      assert.deepEqual(
        (await conn.list()).map((e) => e.name),
        entries.map((e) => e.name),
      );
    });
  });

  describe('a first connection that cannot complete the handshake says why', () => {
    test('a peer that accepts and never answers: handshake timed out, not "timed out connecting"', async (t) => {
      const { port } = await fake(t, { greeting: 'silent' });
      await assert.rejects(open(port, { handshakeTimeoutMs: 300 }), (err: Error & { code: string }) => {
        assert.equal(err.code, 'ERR_XFER_TIMEOUT');
        assert.match(
          err.message,
          /accepted the connection but did not complete the xfer handshake within 0.3 s/,
        );
        return true;
      });
    });

    test('a peer that accepts and resets', async (t) => {
      const { port } = await fake(t, { greeting: 'reset' });
      await assert.rejects(open(port), {
        code: 'ERR_XFER_CLOSED',
        message: /closed the connection during the xfer handshake/,
      });
    });

    test('an HTTP server: not an xfer server', async (t) => {
      const http = createHttpServer((_req, res) => res.end('hello'));
      await new Promise<void>((resolve) => http.listen(0, '127.0.0.1', resolve));
      t.after(() => http.close());
      const port = (http.address() as { port: number }).port;
      await assert.rejects(open(port), {
        code: 'ERR_XFER_MAGIC',
        message: /answered in HTTP: it is not an xfer server/,
      });
    });

    test(
      'a TLS server reached without TLS: the server speaks TLS',
      { skip: !HAVE_OPENSSL && 'needs openssl' },
      async (t) => {
        const pki = await makePki(t);
        const tls = createTlsServer({ cert: pki.cert, key: pki.key }, (s) => s.end());
        tls.on('tlsClientError', () => undefined);
        await new Promise<void>((resolve) => tls.listen(0, '127.0.0.1', resolve));
        t.after(() => tls.close());
        const port = (tls.address() as { port: number }).port;
        await assert.rejects(open(port), (err: Error & { code: string }) => {
          assert.equal(err.code, 'ERR_XFER_TLS');
          assert.match(err.message, /speaks TLS/);
          return assertNoFlags(err);
        });
      },
    );

    test('TLS asked of a plain xfer server: the server does not speak TLS, no OpenSSL dump', async (t) => {
      const s = await startServer(t, { f: 'x' });
      await assert.rejects(s.connect({ tls: {} }), (err: Error & { code: string }) => {
        assert.equal(err.code, 'ERR_XFER_TLS');
        assert.match(err.message, /does not speak TLS/);
        assert.doesNotMatch(err.message, /ssl3_get_record|\.c:\d+/);
        return assertNoFlags(err);
      });
    });

    test(
      'an untrusted certificate: a short reason and no flag',
      { skip: !HAVE_OPENSSL && 'needs openssl' },
      async (t) => {
        const pki = await makePki(t);
        const s = await startServer(t, { f: 'x' }, { tls: { cert: pki.cert, key: pki.key } });
        await assert.rejects(s.connect({ tls: {} }), (err: Error & { code: string }) => {
          assert.equal(err.code, 'ERR_XFER_TLS');
          assert.doesNotMatch(err.message, /\.c:\d+/);
          return assertNoFlags(err);
        });
      },
    );
  });

  describe('the abort signal', () => {
    test('stops a stalled LIST at once', async (t) => {
      const { port, stats } = await fake(t, { list: () => undefined });
      const controller = new AbortController();
      const conn = await open(port, { signal: controller.signal });
      const listing = conn.list();
      await waitFor(() => stats.lists === 1, 5000, 'the LIST reached the server');
      controller.abort();
      await assert.rejects(listing, { code: 'ERR_XFER_ABORTED' });
    });

    test('stops a handshake in progress, and an aborted signal opens nothing', async (t) => {
      const { port, stats } = await fake(t, { greeting: 'silent' });
      const controller = new AbortController();
      const opening = open(port, { signal: controller.signal });
      await waitFor(() => stats.connections === 1, 5000, 'connected');
      controller.abort();
      await assert.rejects(opening, { code: 'ERR_XFER_ABORTED' });
      await assert.rejects(open(port, { signal: controller.signal }), { code: 'ERR_XFER_ABORTED' });
    });
  });
});
