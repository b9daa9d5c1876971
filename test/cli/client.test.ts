import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { finished, runCli, startCli, waitForStderr } from '../helpers/cli.js';
import { downloaded, ownFiles } from '../helpers/download-dir.js';
import { Relay } from '../helpers/relay.js';
import { startServer } from '../helpers/server.js';
import { patternBytes, sha256, tempDir, waitFor } from '../helpers/tmp.js';

const MiB = 1024 * 1024;

describe('xfer client and get', () => {
  test('--once fetches the listed files in order, reports an unknown name once, and exits 1', async (t) => {
    const s = await startServer(t, { 'a.txt': 'alpha', 'b c.bin': patternBytes(3 * MiB) });
    const dir = await tempDir(t);
    await writeFile(join(dir, 'input.txt'), '# wanted\nb c.bin\n\nmissing.txt\na.txt\nb c.bin\n');
    const r = await runCli(['client', `127.0.0.1:${s.port}`, '--dir', dir, '--once']);
    assert.equal(r.code, 1, r.stderr);
    assert.equal(r.stderr.match(/no file named "missing\.txt"/g)?.length, 1);
    assert.match(r.stderr, /Files on the server:[\s\S]*a\.txt\s+5 B/);
    assert.ok(r.stderr.indexOf('✓ b c.bin') < r.stderr.indexOf('✓ a.txt'), 'fetched in input.txt order');
    assert.deepEqual(await downloaded(join(dir, 'data')), ['a.txt', 'b c.bin']);
    assert.equal(await readFile(join(dir, 'data', 'a.txt'), 'utf8'), 'alpha');
    assert.equal(r.stdout, '', 'human output goes to stderr');
    // A second run finds everything in place, verified, and succeeds.
    await writeFile(join(dir, 'input.txt'), 'a.txt\nb c.bin\n');
    const again = await runCli(['client', `127.0.0.1:${s.port}`, '--dir', dir, '--once']);
    assert.equal(again.code, 0, again.stderr);
    assert.match(again.stderr, /a\.txt: already downloaded and verified/);
  });

  test('a name added to input.txt while running is fetched on the next scan; Ctrl+C exits 130', async (t) => {
    const s = await startServer(t, { 'first.txt': 'one', 'later.txt': 'two' });
    const dir = await tempDir(t);
    await writeFile(join(dir, 'input.txt'), 'first.txt\n');
    const child = startCli(['client', `127.0.0.1:${s.port}`, '--dir', dir, '--interval', '0.2']);
    const exit = finished(child);
    await waitForStderr(child, /✓ first\.txt/);
    await writeFile(join(dir, 'input.txt'), 'first.txt\nlater.txt\n');
    await waitFor(
      async () => (await readFile(join(dir, 'data', 'later.txt'), 'utf8').catch(() => '')) === 'two',
      5000,
      'later.txt',
    );
    child.kill('SIGINT');
    const r = await exit;
    assert.equal(r.code, 130, r.stderr);
  });

  test('Ctrl+C mid-download exits 130 within seconds and leaves only the .part, never the final name', async (t) => {
    const s = await startServer(t, { big: patternBytes(64 * MiB) });
    const relay = await Relay.start(s.port, () => ({ rateBytesPerSec: 2 * MiB }));
    t.after(() => relay.close());
    const dir = await tempDir(t);
    await writeFile(join(dir, 'input.txt'), 'big\n');
    const child = startCli(['client', `127.0.0.1:${relay.port}`, '--dir', dir, '--once']);
    const exit = finished(child, 20_000);
    await waitFor(() => relay.bytesToClient > 4 * MiB, 10_000, 'download under way');
    const t0 = Date.now();
    child.kill('SIGINT');
    const r = await exit;
    assert.equal(r.code, 130, r.stderr);
    assert.ok(Date.now() - t0 < 5000, `stopped in ${Date.now() - t0} ms`);
    assert.deepEqual(await downloaded(join(dir, 'data')), [], 'no final-named partial file');
    const own = ownFiles(join(dir, 'data'), 'big');
    assert.ok(existsSync(own.part), 'the .part is kept');
    assert.ok(existsSync(own.state), 'resume state is kept');
  });

  test('without an address and without a terminal, xfer client exits 2 with usage', async () => {
    const r = await runCli(['client', '--once']);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /No server address given and no terminal to ask on.*ERR_XFER_USAGE/);
  });

  test('xfer get fetches named files into --out, exit 0; an unknown name exits 1', async (t) => {
    const content = patternBytes(5 * MiB + 3, 11);
    const s = await startServer(t, { 'sub/x.bin': content, 'y.txt': 'why' });
    const out = await tempDir(t);
    const ok = await runCli(['get', `127.0.0.1:${s.port}`, 'sub/x.bin', 'y.txt', '--out', out]);
    assert.equal(ok.code, 0, ok.stderr);
    assert.equal(sha256(await readFile(join(out, 'sub', 'x.bin'))), sha256(content));
    assert.equal(await readFile(join(out, 'y.txt'), 'utf8'), 'why');
    const bad = await runCli(['get', `127.0.0.1:${s.port}`, 'nope', '../y.txt', 'y.txt', '--out', out]);
    assert.equal(bad.code, 1);
    assert.match(bad.stderr, /no file named "nope"/);
    assert.match(bad.stderr, /no file named "\.\.\/y\.txt"/);
    assert.match(bad.stderr, /y\.txt: already downloaded and verified/);
  });

  test('the installed command hashes a large file in its worker (bundled beside it) and lands it exact', async (t) => {
    // From 128 MiB the SHA-256 runs in a worker thread during the download.
    const content = patternBytes(130 * MiB, 13);
    const s = await startServer(t, { 'large.bin': content });
    const out = await tempDir(t);
    const r = await runCli(['get', `127.0.0.1:${s.port}`, 'large.bin', '--out', out, '--json']);
    assert.equal(r.code, 0, r.stderr);
    const done = r.stdout
      .split('\n')
      .filter(Boolean)
      .map((l) => JSON.parse(l) as { type: string; sha256?: string })
      .find((e) => e.type === 'done');
    assert.equal(done?.sha256, sha256(content));
    assert.equal(sha256(await readFile(join(out, 'large.bin'))), sha256(content));
  });

  test('--json prints only NDJSON on stdout: start, progress for every part, and done per file', async (t) => {
    const files = { 'one.bin': patternBytes(12 * MiB, 1), 'two.txt': 'two' };
    const s = await startServer(t, files);
    const relay = await Relay.start(s.port, () => ({ rateBytesPerSec: 24 * MiB }));
    t.after(() => relay.close());
    const out = await tempDir(t);
    const r = await runCli(['get', `127.0.0.1:${relay.port}`, 'one.bin', 'two.txt', '--out', out, '--json']);
    assert.equal(r.code, 0, r.stderr);
    const events = r.stdout
      .trim()
      .split('\n')
      .map(
        (line) =>
          JSON.parse(line) as {
            type: string;
            file?: string;
            part?: number;
            parts?: { part: number }[];
            sha256?: string;
          },
      );
    const start = events.find((e) => e.type === 'start' && e.file === 'one.bin');
    assert.equal(start?.parts?.length, 4);
    const partsSeen = new Set(
      events
        .filter((e) => e.type === 'progress' && e.file === 'one.bin')
        .flatMap((e) => e.parts?.map((p) => p.part) ?? []),
    );
    assert.deepEqual([...partsSeen].sort(), [0, 1, 2, 3]);
    const done = events.filter((e) => e.type === 'done');
    assert.deepEqual(
      done.map((d) => [d.file, d.sha256]),
      [
        ['one.bin', sha256(files['one.bin'])],
        ['two.txt', sha256(Buffer.from('two'))],
      ],
    );
  });
});

describe('xfer command line', () => {
  test('--help lists every command; each command has its own help', async () => {
    const r = await runCli(['--help']);
    assert.equal(r.code, 0);
    for (const cmd of ['serve', 'client', 'ls', 'get', 'demo'])
      assert.match(r.stdout, new RegExp(`xfer ${cmd}`));
    for (const cmd of ['serve', 'client', 'ls', 'get', 'demo']) {
      const h = await runCli([cmd, '--help']);
      assert.equal(h.code, 0);
      assert.match(h.stdout, new RegExp(`^Usage: xfer ${cmd}`));
    }
  });

  test('unknown commands and flags are usage errors (exit 2) pointing at --help', async () => {
    const cmd = await runCli(['fly']);
    assert.equal(cmd.code, 2);
    assert.match(cmd.stderr, /Unknown command "fly".*--help.*\[ERR_XFER_USAGE\]/);
    const flag = await runCli(['ls', '127.0.0.1', '--bogus']);
    assert.equal(flag.code, 2);
    assert.match(flag.stderr, /--bogus.*xfer ls --help/);
    const bad = await runCli(['client', '127.0.0.1', '--connections', '5', '--once']);
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /--connections takes a whole number from 1 to 4/);
  });

  test('--version prints the package version', async () => {
    const r = await runCli(['--version']);
    assert.equal(r.code, 0);
    assert.match(r.stdout, /^\d+\.\d+\.\d+\n$/);
  });

  test('xfer demo runs a real transfer and exits 0', async () => {
    const r = await runCli(['demo', '--size', '8']);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, /every SHA-256 matches the source/);
  });
});
