import assert from 'node:assert/strict';
import { readdir } from 'node:fs/promises';
import { describe, test } from 'node:test';
import { runCli } from '../helpers/cli.js';
import { startServer } from '../helpers/server.js';
import { patternBytes, tempDir } from '../helpers/tmp.js';

describe('the flags people expect', () => {
  test('-h, -V, --version listed in help, and `xfer help CMD`', async () => {
    const help = await runCli(['-h']);
    assert.equal(help.code, 0);
    assert.match(help.stdout, /-V, --version/);
    assert.match(help.stdout, /xfer help +\[COMMAND\]/);
    assert.match((await runCli(['-V'])).stdout, /^\d+\.\d+\.\d+\n$/);
    const get = await runCli(['help', 'get']);
    assert.equal(get.code, 0);
    assert.match(get.stdout, /^Usage: xfer get/);
    assert.match(get.stdout, /-o, --out DIR/);
    assert.match(get.stdout, /-q, --quiet/);
    assert.match(get.stdout, /-v, --verbose/);
    assert.match((await runCli(['help', 'serve'])).stdout, /-p, --port N/);
    const unknown = await runCli(['help', 'sevre']);
    assert.equal(unknown.code, 2);
    assert.match(unknown.stderr, /Did you mean `xfer serve`\?/);
  });

  test('"did you mean" for a mistyped command or flag, exit 2', async () => {
    const cmd = await runCli(['clinet', '127.0.0.1']);
    assert.equal(cmd.code, 2);
    assert.match(cmd.stderr, /Unknown command "clinet"\. Did you mean `xfer client`\?/);
    const flag = await runCli(['get', '127.0.0.1', 'a', '--ot', 'x']);
    assert.equal(flag.code, 2);
    assert.match(flag.stderr, /Unknown option --ot\. Did you mean --out\? \(see `xfer get --help`\)/);
    const far = await runCli(['ls', '127.0.0.1', '--frobnicate']);
    assert.equal(far.code, 2);
    assert.match(far.stderr, /Unknown option --frobnicate\. \(see `xfer ls --help`\)/);
  });

  test('-q prints nothing on success (no catalog, no progress), failures still; -v prints each start', async (t) => {
    const s = await startServer(t, { 'a.bin': patternBytes(3 * 1024 * 1024), 'b.txt': 'b' });
    const out = await tempDir(t);
    const quiet = await runCli(['get', `127.0.0.1:${s.port}`, 'a.bin', 'b.txt', '-q', '-o', out]);
    assert.equal(quiet.code, 0, quiet.stderr);
    assert.equal(quiet.stderr, '');
    assert.deepEqual((await readdir(out)).filter((n) => n !== '.xfer').sort(), ['a.bin', 'b.txt']);
    const missing = await runCli(['get', `127.0.0.1:${s.port}`, 'nope', '--quiet', '-o', out]);
    assert.equal(missing.code, 1);
    assert.equal(missing.stderr, 'The server has no file named "nope".\n');
    const verbose = await runCli(['get', `127.0.0.1:${s.port}`, 'b.txt', '-v', '-o', await tempDir(t)]);
    assert.equal(verbose.code, 0, verbose.stderr);
    assert.match(verbose.stderr, /b\.txt: fetching 1 B over 1 connection\n/);
    const both = await runCli(['get', `127.0.0.1:${s.port}`, 'b.txt', '-q', '-v']);
    assert.equal(both.code, 2);
  });

  test("-p gives the server's port when SERVER names none; naming it twice is a usage error", async (t) => {
    const s = await startServer(t, { 'a.txt': 'a' });
    const ls = await runCli(['ls', '127.0.0.1', '-p', String(s.port)]);
    assert.equal(ls.code, 0, ls.stderr);
    assert.match(ls.stdout, /^NAME +SIZE\na\.txt +1 B\n$/);
    const v6 = await runCli(['ls', '::1', '--port', '1']);
    assert.equal(v6.code, 1, 'a bare IPv6 address names no port: --port applies');
    assert.match(v6.stderr, /ERR_XFER_CONNECT/);
    for (const server of [`127.0.0.1:${s.port}`, `[::1]:${s.port}`]) {
      const twice = await runCli(['ls', server, '-p', String(s.port)]);
      assert.equal(twice.code, 2);
      assert.match(twice.stderr, /already names a port/);
    }
  });
});
