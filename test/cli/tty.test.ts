import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { CLI, finished, runCli } from '../helpers/cli.js';
import { Relay } from '../helpers/relay.js';
import { startServer } from '../helpers/server.js';
import { patternBytes, tempDir } from '../helpers/tmp.js';

const MiB = 1024 * 1024;
/** util-linux script(1) gives the CLI a real pseudo-terminal. */
const HAVE_SCRIPT = spawnSync('script', ['--version']).status === 0;

describe('what a person sees', () => {
  test(
    'under a pseudo-terminal the bars are redrawn in place through many percentages',
    { skip: HAVE_SCRIPT ? false : 'script(1) is needed for a pseudo-terminal' },
    async (t) => {
      const s = await startServer(t, { 'movie.bin': patternBytes(48 * MiB, 41) });
      const relay = await Relay.start(s.port, () => ({ rateBytesPerSec: 4 * MiB }));
      t.after(() => relay.close());
      const dir = await tempDir(t);
      await writeFile(join(dir, 'input.txt'), 'movie.bin\n');
      const command = [process.execPath, CLI, 'client', `127.0.0.1:${relay.port}`, '--dir', dir, '--once']
        .map((a) => `'${a.replaceAll("'", "'\\''")}'`)
        .join(' ');
      const child = spawn('script', ['-qec', command, '/dev/null'], { stdio: ['ignore', 'pipe', 'pipe'] });
      const r = await finished(child, 60_000);
      assert.equal(r.code, 0, r.stdout + r.stderr);
      const screen = r.stdout;
      const percents = new Set(
        [...screen.matchAll(/movie\.bin [\d.]+ (?:B|[KMG]iB)\/[\d.]+ MiB +(\d+)%/g)].map((m) => m[1]),
      );
      assert.ok(percents.size >= 8, `saw ${[...percents].join(', ')}`);
      assert.match(screen, /\x1b\[\d+F\x1b\[J/, 'moves up and redraws in place'); // eslint-disable-line no-control-regex
      assert.match(screen, /part 3 \[/);
      assert.match(screen, /✓(\x1b\[0m)? movie\.bin {2}48 MiB in .* verified sha256 [0-9a-f]{12}/); // eslint-disable-line no-control-regex
    },
  );

  test(
    'without an address, a terminal user is asked "HOST Name:" and the answer is used',
    { skip: HAVE_SCRIPT ? false : 'script(1) is needed for a pseudo-terminal' },
    async (t) => {
      const s = await startServer(t, { 'hello.txt': 'hi' });
      const dir = await tempDir(t);
      await writeFile(join(dir, 'input.txt'), 'hello.txt\n');
      const command = [process.execPath, CLI, 'client', '--dir', dir, '--once']
        .map((a) => `'${a}'`)
        .join(' ');
      const child = spawn('script', ['-qec', command, '/dev/null'], { stdio: ['pipe', 'pipe', 'pipe'] });
      let screen = '';
      child.stdout.on('data', (d: Buffer) => {
        screen += d.toString();
        if (screen.includes('HOST Name:') && !child.stdin.writableEnded)
          child.stdin.end(`127.0.0.1:${s.port}\n`);
      });
      const r = await finished(child, 30_000);
      assert.equal(r.code, 0, screen);
      assert.match(screen, /HOST Name:/);
      assert.equal(await readFile(join(dir, 'data', 'hello.txt'), 'utf8'), 'hi');
    },
  );

  test('without a terminal the output is plain lines with no escape codes', async (t) => {
    const s = await startServer(t, { 'movie.bin': patternBytes(8 * MiB, 42) });
    const dir = await tempDir(t);
    await writeFile(join(dir, 'input.txt'), 'movie.bin\n');
    const r = await runCli(['client', `127.0.0.1:${s.port}`, '--dir', dir, '--once'], { env: {} });
    assert.equal(r.code, 0, r.stderr);
    assert.doesNotMatch(r.stderr, /\x1b/); // eslint-disable-line no-control-regex
    assert.match(r.stderr, /movie\.bin: fetching 8 MiB over 4 connections/);
    assert.match(r.stderr, /✓ movie\.bin/);
  });

  test('plain progress lines come every 2 s with a measured speed, never a first "0 B/s"', async (t) => {
    // 4 connections paced at 1 MiB/s each: about 3 s for 12 MiB.
    const s = await startServer(
      t,
      { 'slow.bin': patternBytes(12 * MiB, 43) },
      { limits: { bytesPerSecondPerConnection: MiB } },
    );
    const out = await tempDir(t);
    const r = await runCli(['get', `127.0.0.1:${s.port}`, 'slow.bin', '--out', out], { env: {} });
    assert.equal(r.code, 0, r.stderr);
    const lines = r.stderr.split('\n').filter((l) => / parts 0:/.test(l));
    assert.ok(lines.length >= 1 && lines.length <= 2, r.stderr);
    for (const line of lines) assert.match(line, /% [1-9][\d.]* [KM]iB\/s parts/);
  });

  test(
    'xfer ls on a 50-column terminal shortens the long name instead of wrapping any row',
    { skip: HAVE_SCRIPT ? false : 'script(1) is needed for a pseudo-terminal' },
    async (t) => {
      const long = `${'a-rather-long-folder-name/'.repeat(3)}and-a-long-file-name.tar.zst`;
      const s = await startServer(t, { [long]: 'x'.repeat(3000), 'b.txt': 'b' });
      for (const columns of [50, 120]) {
        const command = `stty cols ${columns}; '${process.execPath}' '${CLI}' ls 127.0.0.1:${s.port}`;
        const child = spawn('script', ['-qec', command, '/dev/null'], { stdio: ['ignore', 'pipe', 'pipe'] });
        const r = await finished(child, 30_000);
        assert.equal(r.code, 0, r.stdout + r.stderr);
        const rows = r.stdout.trimEnd().split(/\r?\n/);
        assert.equal(rows.length, 3, r.stdout);
        for (const row of rows) assert.ok(row.length < columns, `${row.length} >= ${columns}: ${row}`);
        if (columns === 50) assert.match(rows[1] ?? '', /^a-rather.*….*tar\.zst +2\.9 KiB$/);
        else assert.match(rows[1] ?? '', new RegExp(`^${long.replaceAll('.', '\\.')} +2\\.9 KiB$`));
      }
    },
  );
});
