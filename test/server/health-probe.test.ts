import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { ServerLog } from '../../src/server/server.js';
import { fetchHttp } from '../helpers/http.js';
import { RawPeer } from '../helpers/raw-peer.js';
import { startServer } from '../helpers/server.js';
import { waitFor } from '../helpers/tmp.js';

/**
 * A load balancer probes each backend every second or so. Such probes must
 * not fill the log: at the default verbosity (debug hidden, as `xfer serve`
 * shows it) they leave no line at all. The port sniffs each connection's first
 * bytes (xfer or HTTP), so the probes cover both faces and a close before any
 * byte, while the server is still deciding.
 */
describe('health probes', () => {
  test('connect-and-close, a handshake dropped after WELCOME, a reset and an HTTP check leave no log line above debug', async (t) => {
    const s = await startServer(t, { f: 'hello' });
    assert.equal(s.server.httpFace, 'on', 'the port sniffs xfer and HTTP, as xfer serve does by default');
    const logged: ServerLog[] = [];
    s.server.on('log', (entry) => logged.push(entry));

    // A plain TCP check: connect, close.
    const tcp = await RawPeer.open(s.port);
    tcp.socket.end();
    // HAProxy's tcp-check as docs/scaling.md configures it: preamble + HELLO, expect WELCOME, close.
    const handshake = await RawPeer.open(s.port);
    handshake.hello();
    await waitFor(() => handshake.messages.some((m) => m.type === 'welcome'), 5000, 'WELCOME');
    handshake.socket.end();
    // Some checkers close with a reset rather than a FIN.
    const reset = await RawPeer.open(s.port);
    reset.hello();
    await waitFor(() => reset.messages.some((m) => m.type === 'welcome'), 5000, 'WELCOME');
    reset.socket.resetAndDestroy();
    // A probe that closes after "GE": still undecided between the faces.
    const undecided = await RawPeer.open(s.port);
    undecided.socket.end(Buffer.from('GE'));
    // HAProxy's `option httpchk` in mode http: a HEAD of the list, one request per connection.
    const check = await fetchHttp(s.port, '/', { method: 'HEAD', headers: { connection: 'close' } });
    assert.equal(check.status, 200, 'the HTTP check is answered');

    await waitFor(
      () => [tcp, handshake, reset, undecided].every((p) => p.closed),
      5000,
      'the probes closing',
    );
    // The server has seen each close once all three are gone: a late line would show up by now.
    const conn = await s.connect();
    await conn.list();
    assert.deepEqual(
      logged.filter((e) => e.level !== 'debug'),
      [],
      'probes are logged only at debug level (xfer serve --verbose)',
    );
    assert.ok(
      logged.some((e) => e.level === 'debug'),
      'the handshake probes were seen (at debug level)',
    );
  });

  test('a server with a token answers the probe with WELCOME, and a probe without a proof is no failed login', async (t) => {
    const s = await startServer(t, { f: 'hello' }, { token: 'secret', limits: { authFailuresPerMinute: 2 } });
    const logged: ServerLog[] = [];
    s.server.on('log', (entry) => logged.push(entry));
    // More probes than the failed-login allowance: none of them may count as one.
    for (let i = 0; i < 4; i++) {
      const probe = await RawPeer.open(s.port);
      probe.hello();
      await waitFor(() => probe.messages.some((m) => m.type === 'welcome'), 5000, 'WELCOME');
      probe.socket.end();
      await waitFor(() => probe.closed, 5000, 'the probe closing');
    }
    const conn = await s.connect({ token: 'secret' });
    assert.equal((await conn.list()).length, 1, 'a real client with the token still gets in');
    assert.deepEqual(
      logged.filter((e) => e.level !== 'debug'),
      [],
    );
  });
});
