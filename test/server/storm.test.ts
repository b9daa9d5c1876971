import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { describe, test, type TestContext } from 'node:test';
import { ClientConnection } from '../../src/client/connection.js';
import { CLI, finished, runCli, waitForStderr } from '../helpers/cli.js';
import { cpuTicks, idleHandshakes, openDescriptors, reconnectStorm, sampleMax } from '../helpers/hostile.js';
import { patternBytes, sha256, sleep, tempDir, waitFor } from '../helpers/tmp.js';

const HAVE_PRLIMIT = spawnSync('prlimit', ['--version']).status === 0;
const STARVED_SERVER = fileURLToPath(new URL('../helpers/starved-server.js', import.meta.url));
/** Descriptors a refused connection may still hold at any instant of a storm (one per accept in progress). */
const STORM_DESCRIPTOR_SLACK = 32;
/** How long each storm runs. */
const STORM_MS = 3_000;

async function shareOf(t: TestContext, files: Record<string, Buffer>): Promise<string> {
  const root = await tempDir(t);
  await mkdir(join(root, 'resources'));
  for (const [name, bytes] of Object.entries(files)) await writeFile(join(root, 'resources', name), bytes);
  return root;
}

function stopOnExit(t: TestContext, child: ChildProcess): void {
  t.after(() => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  });
}

describe(
  'refusal storms',
  { skip: HAVE_PRLIMIT ? false : 'prlimit (util-linux) is needed to lower ulimit -n' },
  () => {
    test('under ulimit -n 1024 a reconnect storm past the per-address cap holds no descriptors, logs a few lines, and honest ls and get still work', async (t) => {
      const content = patternBytes(3 * 1024 * 1024, 21);
      const root = await shareOf(t, { 'f.bin': content });
      const serve = ['serve', '--root', root, '--host', '127.0.0.1', '--port', '0'];
      const child = spawn('prlimit', ['--nofile=1024:1024', process.execPath, CLI, ...serve], {
        stdio: ['ignore', 'pipe', 'pipe'],
        env: { ...process.env, NO_COLOR: '1' },
      });
      stopOnExit(t, child);
      const exit = finished(child, 60_000);
      const banner = await waitForStderr(child, /on 127\.0\.0\.1:(\d+)/);
      const port = Number(/on 127\.0\.0\.1:(\d+)/.exec(banner)?.[1]);
      const pid = child.pid!;

      // The attacker first fills its per-address cap (256) with silent handshakes...
      const held = await idleHandshakes(port, '127.0.0.2', 256);
      t.after(() => held.forEach((p) => p.close()));
      await waitFor(() => openDescriptors(pid) >= 256, 10_000, 'the server to hold 256 connections');
      const atCap = openDescriptors(pid);
      // ...then reconnects as fast as it can, while an honest client lists and fetches.
      const peak = sampleMax(() => openDescriptors(pid));
      const storm = reconnectStorm(port, '127.0.0.2', STORM_MS);
      const out = await tempDir(t);
      const [ls, get] = await Promise.all([
        runCli(['ls', `127.0.0.1:${port}`]),
        runCli(['get', `127.0.0.1:${port}`, 'f.bin', '--out', out]),
      ]);
      const { attempts, codes } = await storm;
      const most = peak.stop();

      assert.equal(ls.code, 0, ls.stderr);
      assert.match(ls.stdout, /f\.bin/);
      assert.equal(get.code, 0, get.stderr);
      assert.equal(sha256(await readFile(join(out, 'f.bin'))), sha256(content));
      assert.ok(attempts >= 300, `the storm made only ${attempts} attempts: too few to prove anything`);
      assert.ok((codes.get('ERR_XFER_LIMIT') ?? 0) > 0, 'refusals carry ERR_XFER_LIMIT');
      assert.ok(
        most <= atCap + STORM_DESCRIPTOR_SLACK,
        `the server held ${most} descriptors during ${attempts} refused attempts (${atCap} at the cap)`,
      );
      child.kill('SIGTERM');
      const result = await exit;
      assert.equal(result.code, 143, result.stderr);
      const lines = result.stderr.split('\n').filter((l) => /refused/.test(l));
      assert.ok(lines.length <= 4, `${lines.length} log lines about refusals for ${attempts} attempts`);
      assert.match(result.stderr, /\d+ more like this in the last \d+ s: refused 127\.0\.0\.2/);
      assert.match(result.stderr, /At most 960 connections: the process may open only 1024 files\./);
    });

    test('out of descriptors: accepting survives without spinning, a rescan keeps the last catalog, a GET is told to retry', async (t) => {
      const content = patternBytes(512 * 1024, 22);
      const root = await shareOf(t, { 'f.bin': content, 'g.txt': Buffer.from('g') });
      const textBefore = await readFile(join(root, 'text.txt'), 'utf8').catch(() => '');
      const child = spawn('prlimit', ['--nofile=256:256', process.execPath, STARVED_SERVER, root], {
        stdio: ['pipe', 'pipe', 'inherit'],
      });
      stopOnExit(t, child);
      const said: Record<string, unknown>[] = [];
      createInterface({ input: child.stdout }).on('line', (l) =>
        said.push(JSON.parse(l) as Record<string, unknown>),
      );
      const heard = async (key: string) => {
        await waitFor(() => said.some((m) => key in m), 10_000, `"${key}" from the server process`);
        return said.find((m) => key in m)![key];
      };
      const port = (await heard('port')) as number;
      const text = await readFile(join(root, 'text.txt'), 'utf8');
      assert.ok(text.includes('f.bin') && text !== textBefore);

      // A connection made before the descriptors run out, to ask for a file during the shortage.
      const early = await ClientConnection.open({ host: '127.0.0.1', port, sessionId: randomBytes(16) });
      t.after(() => early.close());
      const { identity } = await early.stat('f.bin');
      child.stdin.write('starve\n');
      await heard('starved');
      // Asked before the storm: the open fails for lack of descriptors and the answer says to retry.
      await assert.rejects(
        early.get({ name: 'f.bin', offset: 0, length: identity.size, expect: identity, onChunk: () => true }),
        { code: 'ERR_XFER_LIMIT' },
      );
      const ticksBefore = cpuTicks(child.pid!);
      // libuv accepts and closes what waits while no descriptor is free: the storm is cut off, not queued.
      const storm = await reconnectStorm(port, '127.0.0.3', 1_000, 8);
      await sleep(1_000);
      const ticks = cpuTicks(child.pid!) - ticksBefore;
      // Rescans while starved (after the storm: see starved-server.ts) all fail and keep the last catalog.
      const rescans = () => said.filter((m) => 'rescanned' in m).length;
      for (let i = 1; i <= 3; i++) {
        child.stdin.write('rescan\n');
        await waitFor(() => rescans() >= i, 10_000, 'a rescan');
      }
      child.stdin.write('status\n');
      assert.deepEqual(await heard('status'), { size: 2, stale: true });
      assert.ok(storm.attempts > 0);
      // 2 s at 100 ticks/s: a process spinning on accept would use nearly all of them.
      assert.ok(ticks < 100, `the starved server used ${ticks} CPU ticks in 2 s`);
      assert.equal(await readFile(join(root, 'text.txt'), 'utf8'), text, 'text.txt untouched');
      assert.ok(!said.some((m) => 'catalog' in m), 'no catalog change was published');
      const logs = said.flatMap((m) => ('log' in m ? [(m['log'] as { message: string }).message] : []));
      assert.ok(
        logs.some((l) => /Rescanning resources\/ failed for now .*EMFILE.*last catalog of 2 files/.test(l)),
        logs.join('\n'),
      );
      assert.ok(logs.length <= 8, `${logs.length} log lines during the shortage:\n${logs.join('\n')}`);

      child.stdin.write('feed\n');
      await heard('fed');
      const honest = await ClientConnection.open({ host: '127.0.0.1', port, sessionId: randomBytes(16) });
      t.after(() => honest.close());
      assert.deepEqual(
        (await honest.list()).map((e) => e.name),
        ['f.bin', 'g.txt'],
      );
      const parts: Buffer[] = [];
      await honest.get({
        name: 'f.bin',
        offset: 0,
        length: identity.size,
        expect: identity,
        onChunk: (c) => parts.push(Buffer.from(c)) > 0,
      });
      assert.equal(sha256(Buffer.concat(parts)), sha256(content));
      said.length = 0;
      await waitFor(
        async () => {
          child.stdin.write('rescan\nstatus\n');
          await sleep(100);
          return said.some((m) => 'status' in m && (m['status'] as { stale: boolean }).stale === false);
        },
        5_000,
        'a successful rescan',
      );
      child.stdin.end();
    });
  },
);
