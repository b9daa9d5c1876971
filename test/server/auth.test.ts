import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { readFile, writeFile } from 'node:fs/promises';
import { connect } from 'node:net';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { ClientConnection } from '../../src/client/connection.js';
import { FrameDecoder, encode, type Message } from '../../src/protocol/index.js';
import { runCli } from '../helpers/cli.js';
import { RawPeer } from '../helpers/raw-peer.js';
import { Relay } from '../helpers/relay.js';
import { startServer } from '../helpers/server.js';
import { HAVE_OPENSSL, makePki } from '../helpers/tls.js';
import { patternBytes, sha256, tempDir, waitFor } from '../helpers/tmp.js';

const TOKEN = 'correct horse battery staple 7f3a';

/** Replays raw client bytes to the server and returns the frames it answers with. */
function replay(port: number, bytes: Buffer): Promise<Message[]> {
  return new Promise((resolve) => {
    const messages: Message[] = [];
    const decoder = new FrameDecoder(
      { peer: 'server' },
      {
        preamble: () => undefined,
        message: (m) => messages.push(m),
        data: () => undefined,
        dataEnd: () => undefined,
        error: () => undefined,
      },
    );
    const socket = connect({ host: '127.0.0.1', port }, () => socket.write(bytes));
    socket.on('data', (c: Buffer) => decoder.push(c));
    socket.on('error', () => undefined);
    socket.on('close', () => resolve(messages));
    setTimeout(() => socket.destroy(), 2000).unref();
  });
}

describe('token authentication', () => {
  test('the right token works from --token, --token-file and XFER_TOKEN', async (t) => {
    const s = await startServer(t, { f: 'secret data' }, { token: TOKEN });
    const addr = `127.0.0.1:${s.port}`;
    assert.equal((await runCli(['ls', addr, '--token', TOKEN])).code, 0);
    const dir = await tempDir(t);
    await writeFile(join(dir, 'token'), `${TOKEN}\n`);
    assert.equal((await runCli(['ls', addr, '--token-file', join(dir, 'token')])).code, 0);
    const out = await tempDir(t);
    const got = await runCli(['get', addr, 'f', '--out', out], { env: { XFER_TOKEN: TOKEN } });
    assert.equal(got.code, 0, got.stderr);
    assert.equal(await readFile(join(out, 'f'), 'utf8'), 'secret data');
  });

  test('no token or a wrong token: ERR_XFER_AUTH, exit 1, and nothing listed', async (t) => {
    const s = await startServer(t, { f: 'x' }, { token: TOKEN });
    const none = await runCli(['ls', `127.0.0.1:${s.port}`]);
    assert.equal(none.code, 1);
    assert.match(none.stderr, /requires a token.*ERR_XFER_AUTH/);
    assert.equal(none.stdout, '');
    const wrong = await runCli(['ls', `127.0.0.1:${s.port}`, '--token', 'guess']);
    assert.equal(wrong.code, 1);
    assert.match(wrong.stderr, /Authentication failed.*ERR_XFER_AUTH/);
  });

  test('a client refuses a server that cannot prove it knows the token', async (t) => {
    // The server requires a token but is not the one the client was given.
    const s = await startServer(t, {}, { token: 'another token' });
    await assert.rejects(
      ClientConnection.open({ host: '127.0.0.1', port: s.port, sessionId: randomBytes(16), token: TOKEN }),
      { code: 'ERR_XFER_AUTH' },
    );
  });

  test('a recorded handshake cannot be replayed, and the token never crosses the wire', async (t) => {
    const s = await startServer(t, { f: 'x' }, { token: TOKEN });
    const relay = await Relay.start(s.port, () => ({}), { record: true });
    t.after(() => relay.close());
    const conn = await ClientConnection.open({
      host: '127.0.0.1',
      port: relay.port,
      sessionId: randomBytes(16),
      token: TOKEN,
    });
    assert.equal((await conn.list()).length, 1);
    conn.close();
    const sent = Buffer.concat(relay.toServer);
    const received = Buffer.concat(relay.toClient);
    for (const capture of [sent, received]) {
      assert.equal(capture.indexOf(Buffer.from(TOKEN)), -1, 'token in capture');
    }
    const answer = await replay(s.port, sent);
    assert.ok(
      answer.some((m) => m.type === 'error' && m.code === 'ERR_XFER_AUTH'),
      JSON.stringify(answer),
    );
    assert.ok(!answer.some((m) => m.type === 'catalog'), 'the replay got no catalog');
  });

  test('failed attempts are rate-limited per IP', async (t) => {
    const s = await startServer(t, { f: 'x' }, { token: TOKEN, limits: { authFailuresPerMinute: 3 } });
    for (let i = 0; i < 3; i++) {
      const peer = await RawPeer.open(s.port, '127.0.0.5');
      peer.hello();
      peer.send(encode({ type: 'auth', clientProof: randomBytes(32) }));
      await waitFor(() => peer.closed, 3000);
      assert.deepEqual(peer.errors(), ['ERR_XFER_AUTH']);
    }
    const locked = await RawPeer.open(s.port, '127.0.0.5');
    await waitFor(() => locked.closed, 3000);
    assert.deepEqual(locked.errors(), ['ERR_XFER_AUTH'], 'refused before the handshake');
    // Other addresses are unaffected.
    const other = await ClientConnection.open({
      host: '127.0.0.1',
      port: s.port,
      sessionId: randomBytes(16),
      token: TOKEN,
    });
    assert.equal((await other.list()).length, 1);
    other.close();
  });

  test('requests before authentication are refused', async (t) => {
    const s = await startServer(t, { f: 'x' }, { token: TOKEN });
    const peer = await RawPeer.open(s.port);
    peer.hello();
    peer.send(encode({ type: 'list', requestId: 1 }));
    await waitFor(() => peer.closed, 3000);
    assert.deepEqual(peer.errors(), ['ERR_XFER_PROTOCOL']);
    assert.ok(!peer.messages.some((m) => m.type === 'catalog'));
  });
});

describe(
  'TLS',
  { skip: HAVE_OPENSSL ? false : 'the openssl CLI is needed to make test certificates' },
  () => {
    test('--tls with --ca fetches over 4 connections, and no plaintext crosses the wire', async (t) => {
      const pki = await makePki(t);
      const content = patternBytes(6 * 1024 * 1024, 31);
      const s = await startServer(t, { 'plain.bin': content }, { tls: { cert: pki.cert, key: pki.key } });
      const relay = await Relay.start(s.port, () => ({}), { record: true });
      t.after(() => relay.close());
      const out = await tempDir(t);
      const r = await runCli([
        'get',
        `127.0.0.1:${relay.port}`,
        'plain.bin',
        '--out',
        out,
        '--tls',
        '--ca',
        pki.caPath,
      ]);
      assert.equal(r.code, 0, r.stderr);
      assert.equal(sha256(await readFile(join(out, 'plain.bin'))), sha256(content));
      assert.equal(relay.maxActive, 4);
      const wire = Buffer.concat(relay.toClient);
      assert.ok(wire.length > content.length);
      assert.equal(wire.indexOf(content.subarray(1000, 1064)), -1, 'file bytes in the clear');
      assert.equal(wire.indexOf(Buffer.from('plain.bin')), -1, 'file name in the clear');
    });

    test('over TLS a refused connection is closed before any handshake, with nothing written', async (t) => {
      const pki = await makePki(t);
      const s = await startServer(
        t,
        { f: 'x' },
        { tls: { cert: pki.cert, key: pki.key }, limits: { maxConnectionsPerIp: 1 } },
      );
      const holder = await RawPeer.open(s.port);
      t.after(() => holder.close());
      const refused = await RawPeer.open(s.port);
      let received = 0;
      refused.socket.on('data', (c: Buffer) => (received += c.length));
      await waitFor(() => refused.closed, 3000, 'the refused connection closed');
      assert.equal(received, 0, 'not a byte, plaintext or TLS');
      assert.equal(holder.closed, false);
      assert.equal(s.server.admission.size, 1);
    });

    test('a self-signed server is refused without --ca, with a clear error', async (t) => {
      const pki = await makePki(t);
      const s = await startServer(t, { f: 'x' }, { tls: { cert: pki.cert, key: pki.key } });
      const r = await runCli(['ls', `127.0.0.1:${s.port}`, '--tls']);
      assert.equal(r.code, 1);
      assert.match(r.stderr, /TLS with 127\.0\.0\.1:\d+ failed.*--ca.*ERR_XFER_TLS/);
    });

    test('xfer serve --tls-cert/--tls-key serves TLS from the command line', async (t) => {
      const pki = await makePki(t);
      const root = await tempDir(t);
      const { mkdir } = await import('node:fs/promises');
      await mkdir(join(root, 'resources'));
      await writeFile(join(root, 'resources', 'a.txt'), 'tls!');
      const { startCli, waitForStderr, finished } = await import('../helpers/cli.js');
      const child = startCli([
        'serve',
        '--root',
        root,
        '--host',
        '127.0.0.1',
        '--port',
        '0',
        '--tls-cert',
        pki.certPath,
        '--tls-key',
        pki.keyPath,
        '--token',
        TOKEN,
      ]);
      const exit = finished(child);
      const banner = await waitForStderr(child, /:(\d+) \(token required\) over TLS/);
      const port = /:(\d+) \(token required\)/.exec(banner)?.[1] ?? '';
      const r = await runCli(['ls', `127.0.0.1:${port}`, '--tls', '--ca', pki.caPath, '--token', TOKEN]);
      assert.equal(r.code, 0, r.stderr);
      assert.match(r.stdout, /a\.txt\s+4 B/);
      child.kill('SIGTERM');
      assert.equal((await exit).code, 143, 'SIGTERM');
    });
  },
);
