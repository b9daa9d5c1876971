import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { authProof, encode } from '../../src/protocol/index.js';
import { runCli } from '../helpers/cli.js';
import { greet, idleHandshakes } from '../helpers/hostile.js';
import { RawPeer } from '../helpers/raw-peer.js';
import { startServer } from '../helpers/server.js';
import { patternBytes, sha256, tempDir, waitFor } from '../helpers/tmp.js';

const TOKEN = 'the real token 41d9';

/** What the server said to each peer: its proof was judged wrong, or it was locked out. */
function verdicts(peers: RawPeer[]) {
  const messages = peers.flatMap((p) => p.messages.filter((m) => m.type === 'error'));
  return {
    judged: messages.filter((m) => /does not match/.test(m.message)).length,
    lockedOut: messages.filter((m) => /locked out/.test(m.message)).length,
    codes: new Set(messages.map((m) => m.code)),
  };
}

describe('lockout covers every connection', () => {
  test('256 open connections get no more guesses than the limit, and then every one of them is closed', async (t) => {
    const s = await startServer(t, { f: 'x' }, { token: TOKEN });
    const limit = s.server.limits.authFailuresPerMinute;
    const attacker = await idleHandshakes(s.port, '127.0.0.6', 256);
    t.after(() => attacker.forEach((p) => p.close()));
    assert.ok(attacker.every((p) => !p.closed));
    // One wrong guess on every connection at once.
    attacker.forEach((p) => p.send(encode({ type: 'auth', clientProof: randomBytes(32) })));
    await waitFor(() => attacker.every((p) => p.closed), 10_000, 'every attacker connection closed');
    const { judged, lockedOut, codes } = verdicts(attacker);
    assert.equal(judged, limit - 1, 'guesses judged before the lockout');
    assert.equal(judged + lockedOut, 256);
    assert.deepEqual([...codes], ['ERR_XFER_AUTH']);
    // A new connection from that address is refused before its handshake.
    const again = await RawPeer.open(s.port, '127.0.0.6');
    t.after(() => again.close());
    await waitFor(() => again.closed, 3000, 'the locked-out address refused');
    assert.deepEqual(again.errors(), ['ERR_XFER_AUTH']);
    assert.ok(!again.messages.some((m) => m.type === 'welcome'));
    // Another address is not affected.
    const other = await s.connect({ token: TOKEN });
    assert.equal((await other.list()).length, 1);
  });

  test('a handshake pending at the lockout is closed with ERR_XFER_AUTH, and its right proof afterwards gets nothing', async (t) => {
    const s = await startServer(t, { f: 'x' }, { token: TOKEN, limits: { authFailuresPerMinute: 3 } });
    const guessers = await idleHandshakes(s.port, '127.0.0.7', 3);
    const patient = await RawPeer.open(s.port, '127.0.0.7');
    t.after(() => [patient, ...guessers].forEach((p) => p.close()));
    const clientNonce = randomBytes(32);
    greet(patient, clientNonce);
    await waitFor(() => patient.messages.some((m) => m.type === 'welcome'), 3000, 'welcome');
    const welcome = patient.messages.find((m) => m.type === 'welcome');
    assert.ok(welcome?.type === 'welcome');
    for (const g of guessers) {
      g.send(encode({ type: 'auth', clientProof: randomBytes(32) }));
      await waitFor(() => g.closed, 3000, 'a judged guess');
    }
    await waitFor(() => patient.closed, 3000, 'the pending handshake closed by the lockout');
    patient.send(
      encode({
        type: 'auth',
        clientProof: authProof(TOKEN, 'client', clientNonce, welcome.serverNonce),
      }),
    );
    assert.deepEqual(patient.errors(), ['ERR_XFER_AUTH']);
    assert.ok(!patient.messages.some((m) => m.type === 'auth-ok'));
  });
});

describe('a full server makes room', () => {
  test('with 1024 idle handshakes from four addresses, an honest ls and get succeed at once; the per-address cap still holds', async (t) => {
    const content = patternBytes(2 * 1024 * 1024, 33);
    const s = await startServer(t, { 'f.bin': content });
    assert.equal(s.server.limits.maxConnections, 1024, 'this test fills the default cap');
    const idle = (
      await Promise.all(
        ['127.0.0.2', '127.0.0.3', '127.0.0.4', '127.0.0.5'].map((a) => idleHandshakes(s.port, a, 256)),
      )
    ).flat();
    t.after(() => idle.forEach((p) => p.close()));
    assert.equal(s.server.admission.size, 1024);
    assert.ok(
      idle.every((p) => !p.closed),
      'all 1024 were admitted',
    );
    const extra = await RawPeer.open(s.port, '127.0.0.2');
    t.after(() => extra.close());
    await waitFor(() => extra.closed, 3000, 'a 257th connection from one address refused');
    assert.deepEqual(extra.errors(), ['ERR_XFER_LIMIT']);
    assert.match(
      extra.messages.find((m) => m.type === 'error')?.message ?? '',
      /Too many connections from 127\.0\.0\.2/,
    );

    const out = await tempDir(t);
    const ls = await runCli(['ls', `127.0.0.1:${s.port}`], { timeoutMs: 20_000 });
    assert.equal(ls.code, 0, ls.stderr);
    const get = await runCli(['get', `127.0.0.1:${s.port}`, 'f.bin', '--out', out], { timeoutMs: 20_000 });
    assert.equal(get.code, 0, get.stderr);
    assert.equal(sha256(await readFile(join(out, 'f.bin'))), sha256(content));
    const evicted = idle.filter((p) => p.closed);
    assert.ok(evicted.length >= 2, 'idle connections made room');
    assert.ok(evicted.every((p) => p.errors().join() === 'ERR_XFER_LIMIT'));
    assert.ok(s.server.admission.size <= 1024);
  });
});
