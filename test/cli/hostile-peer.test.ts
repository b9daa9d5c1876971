import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { finished, runCli, startCli } from '../helpers/cli.js';
import { servesFiles, startFakeServer } from '../helpers/fake-server.js';
import { startServer } from '../helpers/server.js';
import { HAVE_OPENSSL, makePki } from '../helpers/tls.js';
import { tempDir, waitFor } from '../helpers/tmp.js';

/**
 * The CLI against peers that stall or break the handshake. Each bound below is
 * far under what the peer would otherwise cost (a LIST that is never answered
 * lasts as long as the stall timeout, set to a minute here; a silent peer used
 * to cost 3.5 minutes of retries), so reaching the bound is the failure.
 */
const HANDSHAKE_DEADLINE_MS = 5_000;
const EXIT_BOUND_MS = 10_000;

describe('the CLI against a hostile peer', () => {
  for (const [signal, code] of [
    ['SIGINT', 130],
    ['SIGTERM', 143],
  ] as const) {
    test(`one ${signal} during a stalled LIST stops xfer client with ${code}`, async (t) => {
      const { port, stats } = await startFakeServer(t, { ...servesFiles({}), list: () => undefined });
      const dir = await tempDir(t);
      await writeFile(join(dir, 'input.txt'), 'f\n');
      const child = startCli([
        'client',
        `127.0.0.1:${port}`,
        '--dir',
        dir,
        '--once',
        '--stall-timeout',
        '60',
      ]);
      const exit = finished(child, 30_000);
      await waitFor(() => stats.lists === 1, 10_000, 'the LIST reached the server');
      const sent = Date.now();
      child.kill(signal);
      const r = await exit;
      assert.equal(r.code, code, r.stderr);
      assert.ok(Date.now() - sent < EXIT_BOUND_MS, `exited ${Date.now() - sent} ms after one ${signal}`);
      assert.doesNotMatch(r.stderr, /interrupted again/, 'a second signal was never needed');
    });
  }

  test('one SIGINT during a stalled STAT stops xfer get with 130', async (t) => {
    const { port, stats } = await startFakeServer(t, { ...servesFiles({}), stat: () => undefined });
    const child = startCli([
      'get',
      `127.0.0.1:${port}`,
      'f',
      '--out',
      await tempDir(t),
      '--stall-timeout',
      '60',
    ]);
    const exit = finished(child, 30_000);
    await waitFor(() => stats.stats === 1, 10_000, 'the STAT reached the server');
    child.kill('SIGINT');
    assert.equal((await exit).code, 130);
  });

  test('one SIGINT during a handshake that never completes stops xfer get with 130', async (t) => {
    const { port, stats } = await startFakeServer(t, { ...servesFiles({}), greeting: 'silent' });
    const child = startCli(['get', `127.0.0.1:${port}`, 'f', '--out', await tempDir(t)]);
    const exit = finished(child, 30_000);
    await waitFor(() => stats.connections === 1, 10_000, 'connected');
    child.kill('SIGINT');
    const r = await exit;
    assert.equal(r.code, 130, r.stderr);
    assert.doesNotMatch(r.stderr, /ERR_XFER_TIMEOUT/, 'stopped by the signal, not by the handshake deadline');
  });

  test('one SIGINT during a stalled LIST stops xfer ls with 130', async (t) => {
    const { port, stats } = await startFakeServer(t, { ...servesFiles({}), list: () => undefined });
    const child = startCli(['ls', `127.0.0.1:${port}`]);
    const exit = finished(child, 30_000);
    await waitFor(() => stats.lists === 1, 10_000, 'the LIST reached the server');
    child.kill('SIGINT');
    const r = await exit;
    assert.equal(r.code, 130, r.stderr);
  });

  test('xfer get against a peer that accepts and never answers fails within the handshake deadline', async (t) => {
    const { port, stats } = await startFakeServer(t, { ...servesFiles({}), greeting: 'silent' });
    const out = await tempDir(t);
    const started = Date.now();
    const r = await runCli(['get', `127.0.0.1:${port}`, 'f', '--out', out], {
      timeoutMs: HANDSHAKE_DEADLINE_MS + EXIT_BOUND_MS,
    });
    assert.equal(r.code, 1, r.stderr);
    assert.match(r.stderr, /did not complete the xfer handshake within 5 s.*\[ERR_XFER_TIMEOUT\]/);
    assert.doesNotMatch(r.stderr, /Timed out connecting/);
    assert.equal(stats.connections, 1, 'a first connection that fails its handshake is not retried');
    t.diagnostic(`failed after ${Date.now() - started} ms`);
  });

  test('xfer get against a peer that accepts and resets fails at once, saying so', async (t) => {
    const { port, stats } = await startFakeServer(t, { ...servesFiles({}), greeting: 'reset' });
    const out = await tempDir(t);
    const r = await runCli(['get', `127.0.0.1:${port}`, 'f', '--out', out], { timeoutMs: EXIT_BOUND_MS });
    assert.equal(r.code, 1, r.stderr);
    assert.match(r.stderr, /closed the connection during the xfer handshake.*\[ERR_XFER_CLOSED\]/);
    assert.equal(stats.connections, 1);
  });

  test('xfer client --once with a token refuses a server that never proves it knows the token', async (t) => {
    const { port, stats } = await startFakeServer(t, { ...servesFiles({ f: Buffer.from('x') }) });
    const dir = await tempDir(t);
    await writeFile(join(dir, 'input.txt'), 'f\n');
    const r = await runCli(['client', `127.0.0.1:${port}`, '--dir', dir, '--once', '--token', 'secret'], {
      timeoutMs: EXIT_BOUND_MS,
    });
    assert.equal(r.code, 1, r.stderr);
    assert.match(r.stderr, /did not prove it knows the token.*\[ERR_XFER_AUTH\]/);
    assert.equal(stats.lists, 0, 'not a request was sent to it');
  });

  test('xfer ls on a TLS server without --tls names the cause and the CLI adds the flag', async (t) => {
    if (!HAVE_OPENSSL) return t.skip('making a test certificate needs the openssl CLI');
    const pki = await makePki(t);
    const s = await startServer(t, { f: 'x' }, { tls: { cert: pki.cert, key: pki.key } });
    const r = await runCli(['ls', `127.0.0.1:${s.port}`], {
      timeoutMs: HANDSHAKE_DEADLINE_MS + EXIT_BOUND_MS,
    });
    assert.equal(r.code, 1, r.stderr);
    assert.match(
      r.stderr,
      /speaks TLS, and this connection was plain TCP\. Connect with --tls\. \[ERR_XFER_TLS\]/,
    );
  });

  test('xfer ls --tls on a plain server: "does not speak TLS", not an OpenSSL dump', async (t) => {
    const s = await startServer(t, { f: 'x' });
    const r = await runCli(['ls', `127.0.0.1:${s.port}`, '--tls'], { timeoutMs: EXIT_BOUND_MS });
    assert.equal(r.code, 1, r.stderr);
    assert.match(
      r.stderr,
      /does not speak TLS \(it answered in plain text\)\. If the server speaks plain TCP, drop --tls/,
    );
    assert.doesNotMatch(r.stderr, /ssl3_get_record|\.c:\d+/);
  });
});
