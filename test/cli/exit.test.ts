import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { chmod, chown, mkdir, readdir } from 'node:fs/promises';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { CLI, finished, runCli, startCli, waitForStderr } from '../helpers/cli.js';
import { catalogFrame, startFakeServer } from '../helpers/fake-server.js';
import { Relay } from '../helpers/relay.js';
import { startServer } from '../helpers/server.js';
import { patternBytes, tempDir, waitFor } from '../helpers/tmp.js';

const MiB = 1024 * 1024;
/** Permission checks do not apply to root: as root, the CLI runs as `nobody` for them. */
const NOBODY = process.getuid?.() === 0 ? 65534 : undefined;
const asNobody = NOBODY === undefined ? {} : { uid: NOBODY };

/** Nothing a person should never see: a stack trace or an unhandled error. */
function assertNoTrace(stderr: string): void {
  assert.doesNotMatch(stderr, /\n\s+at |Unhandled|node:internal|EPIPE/, stderr);
}

const quote = (a: string) => `'${a.replaceAll("'", "'\\''")}'`;

describe('a closed stdout ends the command quietly (exit 141, as a tool killed by SIGPIPE)', () => {
  test('xfer ls … | head -1', async (t) => {
    const entries = Array.from({ length: 3000 }, (_, i) => ({
      name: `folder/file-number-${String(i).padStart(5, '0')}-with-a-longish-name.bin`,
      size: i,
      mtimeUs: 1,
      pieceSize: MiB,
    }));
    const { port } = await startFakeServer(t, { list: (id) => catalogFrame(id, entries) });
    const script = `${quote(process.execPath)} ${quote(CLI)} ls 127.0.0.1:${port} | head -1; echo "xfer=\${PIPESTATUS[0]}" >&2`;
    const r = await finished(spawn('bash', ['-c', script], { stdio: ['ignore', 'pipe', 'pipe'] }));
    assert.match(r.stdout, /^NAME +SIZE\n$/);
    assert.match(r.stderr, /^xfer=141\n$/);
  });

  test('xfer get … --json | head -1, mid-download: the partial stays, the final name never appears', async (t) => {
    const s = await startServer(t, { 'big.bin': patternBytes(32 * MiB) });
    const relay = await Relay.start(s.port, () => ({ rateBytesPerSec: 8 * MiB }));
    t.after(() => relay.close());
    const out = await tempDir(t);
    const args = [process.execPath, CLI, 'get', `127.0.0.1:${relay.port}`, 'big.bin', '-o', out, '--json'];
    const script = `${args.map(quote).join(' ')} | head -1; echo "xfer=\${PIPESTATUS[0]}" >&2`;
    const r = await finished(spawn('bash', ['-c', script], { stdio: ['ignore', 'pipe', 'pipe'] }));
    assert.equal((JSON.parse(r.stdout) as { type: string }).type, 'start');
    assert.match(r.stderr, /^xfer=141\n$/);
    assert.ok(!(await readdir(out)).includes('big.bin'));
  });
});

describe('xfer serve fails at once when it cannot listen', () => {
  test('a port in use: exit 1, ERR_XFER_ADDRESS_IN_USE and what to do', async (t) => {
    const taken = createServer();
    await new Promise<void>((resolve) => taken.listen(0, '127.0.0.1', resolve));
    t.after(() => new Promise<void>((resolve) => taken.close(() => resolve())));
    const port = (taken.address() as { port: number }).port;
    const root = await tempDir(t);
    const r = await runCli(['serve', '--root', root, '--host', '127.0.0.1', '-p', String(port)], {
      timeoutMs: 15_000,
    });
    assert.equal(r.code, 1, r.stderr);
    assert.match(
      r.stderr,
      new RegExp(
        `port ${port} on 127\\.0\\.0\\.1: another program uses it.*--port.*\\[ERR_XFER_ADDRESS_IN_USE\\]`,
      ),
    );
    assertNoTrace(r.stderr);
  });

  test('a privileged port: exit 1, ERR_XFER_PERMISSION and what to do', async (t) => {
    const root = await tempDir(t);
    if (NOBODY !== undefined) await chown(root, NOBODY, NOBODY);
    const r = await runCli(['serve', '--root', root, '--host', '127.0.0.1', '--port', '1'], {
      timeoutMs: 15_000,
      ...asNobody,
    });
    assert.equal(r.code, 1, r.stderr);
    assert.match(r.stderr, /Not allowed to listen on port 1 .*1024.*\[ERR_XFER_PERMISSION\]/);
    assertNoTrace(r.stderr);
  });
});

describe('SIGTERM exits 143 in every command', () => {
  test('serve, client (watching), get (mid-download) and ls (a server that never answers)', async (t) => {
    const s = await startServer(t, { 'big.bin': patternBytes(32 * MiB), 'a.txt': 'a' });
    const relay = await Relay.start(s.port, () => ({ rateBytesPerSec: 4 * MiB }));
    t.after(() => relay.close());
    let listed = false;
    const silent = await startFakeServer(t, {
      list: () => {
        listed = true;
        return Buffer.alloc(0);
      },
    });
    const dir = await tempDir(t);
    const runs: [string[], RegExp][] = [
      [['serve', '--root', dir, '--host', '127.0.0.1', '--port', '0'], /xfer serving/],
      [['client', `127.0.0.1:${s.port}`, '--dir', dir], /Files on the server/],
      [['get', `127.0.0.1:${relay.port}`, 'big.bin', '-o', dir], /fetching 32 MiB/],
      [['ls', `127.0.0.1:${silent.port}`], /^$/],
    ];
    for (const [args, ready] of runs) {
      const child = startCli(args);
      const exit = finished(child, 20_000);
      if (args[0] === 'ls') await waitFor(() => listed, 10_000, 'the LIST request');
      else await waitForStderr(child, ready);
      child.kill('SIGTERM');
      const r = await exit;
      assert.equal(r.code, 143, `${args[0]}: ${r.stderr}`);
      assertNoTrace(r.stderr);
    }
  });

  test('with --json a stopped run says so on stdout', async (t) => {
    const s = await startServer(t, { 'a.txt': 'a' });
    const dir = await tempDir(t);
    const child = startCli(['client', `127.0.0.1:${s.port}`, '--dir', dir, '--json']);
    const exit = finished(child, 20_000);
    await new Promise<void>((resolve) => child.stdout?.once('data', () => resolve()));
    child.kill('SIGINT');
    const r = await exit;
    assert.equal(r.code, 130);
    const last = JSON.parse(r.stdout.trimEnd().split('\n').at(-1)!) as Record<string, string>;
    assert.equal(last['type'], 'error');
    assert.equal(last['code'], 'ERR_XFER_ABORTED');
  });
});

describe('--json: every failure is an error event on stdout', () => {
  test('unreachable, refused token, usage error', async (t) => {
    const closed = createServer();
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
    const port = (closed.address() as { port: number }).port;
    await new Promise<void>((resolve) => closed.close(() => resolve()));
    const locked = await startServer(t, { 'a.txt': 'a' }, { token: 'sesame' });
    const dir = await tempDir(t);
    const cases: [string[], string, RegExp][] = [
      [['ls', `127.0.0.1:${port}`, '--json'], 'ERR_XFER_CONNECT', /./],
      [['get', `127.0.0.1:${port}`, 'a.txt', '-o', dir, '--json', '--retries', '0'], 'ERR_XFER_CONNECT', /./],
      [['ls', `127.0.0.1:${locked.port}`, '--json'], 'ERR_XFER_AUTH', /--token-file/],
      [
        ['client', `127.0.0.1:${locked.port}`, '--dir', dir, '--once', '--json', '--token', 'wrong'],
        'ERR_XFER_AUTH',
        /--token-file/,
      ],
      [['get', '127.0.0.1', '--json'], 'ERR_XFER_USAGE', /SERVER and at least one NAME/],
    ];
    for (const [args, code, message] of cases) {
      const r = await runCli(args);
      assert.notEqual(r.code, 0, args.join(' '));
      const events = r.stdout
        .trimEnd()
        .split('\n')
        .map((l) => JSON.parse(l) as Record<string, string>);
      const last = events.at(-1)!;
      assert.equal(last['type'], 'error', `${args.join(' ')}: ${r.stdout}`);
      assert.equal(last['code'], code, `${args.join(' ')}: ${r.stdout}`);
      assert.match(last['message'] ?? '', message);
      assert.match(r.stderr, new RegExp(`\\[${code}\\]`), 'people still see it on stderr');
    }
  });
});

describe('a download folder that cannot be written', () => {
  test('is one clear sentence and exit 1, not an EACCES per file', async (t) => {
    const s = await startServer(t, { 'a.txt': 'a', 'b.txt': 'b', 'c.txt': 'c' });
    const dir = await tempDir(t);
    await mkdir(join(dir, 'data'));
    await chmod(join(dir, 'data'), 0o555);
    await chmod(dir, 0o777);
    const r = await runCli(
      ['get', `127.0.0.1:${s.port}`, 'a.txt', 'b.txt', 'c.txt', '-o', join(dir, 'data')],
      asNobody,
    );
    assert.equal(r.code, 1, r.stderr);
    assert.equal(r.stderr.trimEnd().split('\n').length, 1, r.stderr);
    assert.match(
      r.stderr,
      /Cannot write to .*data \(permission denied\): fix its permissions or choose another folder with --out\. \[ERR_XFER_READ_ONLY\]/,
    );
  });
});
