import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { describe, test } from 'node:test';
import { encode } from '../../src/protocol/index.js';
import { runCli } from '../helpers/cli.js';
import { catalogFrame, startFakeServer } from '../helpers/fake-server.js';
import { tempDir } from '../helpers/tmp.js';

/** A window title, a screen clear and a right-to-left override, in one ERROR message. */
const HOSTILE = 'boom \x1b]0;pwned\x07\x1b[2J \u202eexe.txt';
const SHOWN = String.raw`boom \x1b]0;pwned\x07\x1b[2J \u202eexe.txt`;

/** Nothing that could steer a terminal, and the hostile text shown visibly instead. */
function assertEscaped(output: string, what: string): void {
  assert.doesNotMatch(output, /[\x1b\x07\u202e]/, `${what} reached the terminal raw`); // eslint-disable-line no-control-regex
  assert.ok(output.includes(SHOWN), `${what} does not show the escaped message:\n${output}`);
}

describe('peer text never reaches the terminal raw', () => {
  test('an ERROR answering LIST: ls, client, and their --json lines', async (t) => {
    const { port } = await startFakeServer(t, {
      list: (id) => encode({ type: 'error', requestId: id, code: 'ERR_XFER_LIMIT', message: HOSTILE }),
    });
    const ls = await runCli(['ls', `127.0.0.1:${port}`]);
    assert.equal(ls.code, 1);
    assertEscaped(ls.stderr, 'ls');
    assert.match(ls.stderr, /\[ERR_XFER_LIMIT\]/);

    const json = await runCli(['ls', `127.0.0.1:${port}`, '--json']);
    assert.equal(json.code, 1);
    assert.doesNotMatch(json.stdout, /[\x1b\x07\u202e]/); // eslint-disable-line no-control-regex
    const event = JSON.parse(json.stdout) as { type: string; code: string; message: string };
    assert.deepEqual([event.type, event.code, event.message], ['error', 'ERR_XFER_LIMIT', HOSTILE]);

    const dir = await tempDir(t);
    const client = await runCli(['client', `127.0.0.1:${port}`, '--dir', dir, '--once', '--retries', '0']);
    assert.equal(client.code, 1);
    assertEscaped(client.stderr, 'client');
  });

  test('an ERROR answering GET: every retry line and the final error of `get` are escaped', async (t) => {
    const content = Buffer.from('0123456789');
    const identity = { size: 10, mtimeUs: 1, sha256: createHash('sha256').update(content).digest() };
    const { port } = await startFakeServer(t, {
      list: (id) => catalogFrame(id, [{ name: 'f.bin', ...identity, pieceSize: 1024 * 1024 }]),
      stat: (id) =>
        encode({
          type: 'pieces',
          requestId: id,
          identity,
          pieceSize: 1024 * 1024,
          hashes: [identity.sha256],
        }),
      get: (req, socket) =>
        socket.write(
          encode({ type: 'error', requestId: req.requestId, code: 'ERR_XFER_LIMIT', message: HOSTILE }),
        ),
    });
    const out = await tempDir(t);
    const r = await runCli(['get', `127.0.0.1:${port}`, 'f.bin', '-o', out, '--retries', '2', '-v']);
    assert.equal(r.code, 1, r.stderr);
    assert.ok((r.stderr.match(/retry \d/g) ?? []).length >= 2, r.stderr);
    assertEscaped(r.stderr, 'get');
  });
});
