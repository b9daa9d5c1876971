import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdir, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { describe, test } from 'node:test';
import { DownloadFolder } from '../../src/client/paths.js';
import { fetchAll } from '../../src/client/batch.js';
import { bookkeeping, downloaded, ownFiles } from '../helpers/download-dir.js';
import { servesFiles, startFakeServer } from '../helpers/fake-server.js';
import { eventsOf, newSession } from '../helpers/session.js';
import { patternBytes, sha256, tempDir } from '../helpers/tmp.js';

const MiB = 1024 * 1024;
const hashOf = (name: string) => createHash('sha256').update(name).digest('hex');

describe('DownloadFolder', () => {
  test('places a name under data/, and its .part and state in data/.xfer/ under the hash of the name', async (t) => {
    const data = await tempDir(t);
    const p = await new DownloadFolder(data).paths('sub/dir/a b.bin');
    assert.equal(p.final, join(data, 'sub', 'dir', 'a b.bin'));
    assert.equal(p.part, join(data, '.xfer', `${hashOf('sub/dir/a b.bin')}.part`));
    assert.equal(p.state, join(data, '.xfer', `${hashOf('sub/dir/a b.bin')}.state`));
    // A name as long as the protocol allows still gets short bookkeeping names.
    const long = Array(15).fill('n'.repeat(255)).join('/');
    assert.equal(basename((await new DownloadFolder(data).paths(long)).part).length, 64 + 5);
  });

  for (const name of ['.xfer/x.part', 'sub/.xfer/y', '.XFER/z']) {
    test(`refuses ${JSON.stringify(name)}: the client's own folder is no download name`, async (t) => {
      const data = await tempDir(t);
      await assert.rejects(new DownloadFolder(data).paths(name), {
        code: 'ERR_XFER_UNSAFE_PATH',
        message: /where xfer keeps its own files/,
      });
    });
  }

  test('refuses a .xfer folder planted as a symlink', async (t) => {
    const data = await tempDir(t);
    await symlink(await tempDir(t), join(data, '.xfer'));
    await assert.rejects(new DownloadFolder(data).paths('a'), { code: 'ERR_XFER_UNSAFE_PATH' });
  });

  for (const name of ['../x', '/etc/x', 'a\\b', 'a/../../b', 'nul\0', 'esc\x1b[2J', '']) {
    test(`refuses ${JSON.stringify(name)}`, async (t) => {
      const data = await tempDir(t);
      await assert.rejects(new DownloadFolder(data).paths(name), { code: 'ERR_XFER_UNSAFE_PATH' });
    });
  }

  test('refuses a subfolder that is a symlink leading out of data/', async (t) => {
    const data = await tempDir(t);
    const outside = await tempDir(t);
    await mkdir(join(data, 'ok'));
    await symlink(outside, join(data, 'evil'));
    const folder = new DownloadFolder(data);
    await folder.paths('ok/file');
    await assert.rejects(folder.paths('evil/file'), { code: 'ERR_XFER_UNSAFE_PATH' });
  });

  test('remembers a safe folder until recheck(), then catches a swap for a symlink', async (t) => {
    const data = await tempDir(t);
    const outside = await tempDir(t);
    const folder = new DownloadFolder(data);
    await folder.paths('sub/a');
    await rm(join(data, 'sub'), { recursive: true });
    await symlink(outside, join(data, 'sub'));
    // Within a batch the folder is not walked again (that is the saving)...
    assert.equal((await folder.paths('sub/b')).final, join(data, 'sub', 'b'));
    // ...and the next batch checks it afresh.
    folder.recheck();
    await assert.rejects(folder.paths('sub/c'), { code: 'ERR_XFER_UNSAFE_PATH' });
  });

  test('a download folder that cannot be made is a clear ERR_XFER_FS', async (t) => {
    const data = await tempDir(t);
    await writeFile(join(data, 'file'), 'x');
    await assert.rejects(new DownloadFolder(join(data, 'file', 'data')).paths('a'), {
      code: 'ERR_XFER_FS',
      message: /cannot be used as the download folder/,
    });
  });
});

describe('bookkeeping names cannot collide with file names', () => {
  const big = patternBytes(12 * MiB, 41);
  const bigPart = patternBytes(12 * MiB, 42);
  /** Every name the client creates or ever created for `big.bin`, listed as a file of its own. */
  const files: Record<string, Buffer> = {
    'big.bin': big,
    'big.bin.part': bigPart,
    '.big.bin.xfer': Buffer.from('{"size":1,"mtimeUs":1,"sha256":"00","pieceSize":1,"done":""}'),
    '.big.bin.xfer.tmp': Buffer.from('tmp'),
    [`${hashOf('big.bin')}.part`]: patternBytes(3 * MiB, 43),
    [`${hashOf('big.bin')}.state`]: Buffer.from('state?'),
    a: Buffer.from('a'),
    'a.part': Buffer.from('a.part'),
    '.a.xfer': Buffer.from('.a.xfer'),
    'a.state': Buffer.from('a.state'),
    [`${hashOf('a')}.part`]: Buffer.from('hash part'),
    'sub/a': Buffer.from('sub a'),
    'sub/a.part': Buffer.from('sub a.part'),
    'sub/.a.xfer': Buffer.from('sub .a.xfer'),
  };
  const refused = ['.xfer/x', `.xfer/${hashOf('big.bin')}.part`, 'sub/.xfer/a'];

  async function serve(t: Parameters<typeof newSession>[0]) {
    const extra = Object.fromEntries(refused.map((n) => [n, Buffer.from('never')]));
    const { port } = await startFakeServer(t, servesFiles({ ...files, ...extra }));
    return newSession(t, port);
  }

  async function assertAllExact(data: string): Promise<void> {
    for (const [name, content] of Object.entries(files)) {
      assert.equal(sha256(await readFile(join(data, name))), sha256(content), name);
    }
    assert.deepEqual(await downloaded(data), [...Object.keys(files), 'sub'].sort());
    assert.deepEqual(await bookkeeping(data), [], "nothing of the client's own is left");
  }

  test('fetched one at a time, the most dangerous order first: every file done stays exact', async (t) => {
    const run = await serve(t);
    const order = ['big.bin.part', '.big.bin.xfer', '.big.bin.xfer.tmp', ...Object.keys(files)];
    for (const name of new Set(order)) assert.ok((await run.session.fetch(name)).ok, name);
    await assertAllExact(run.dataDir);
    for (const name of refused) {
      assert.deepEqual(await run.session.fetch(name), { ok: false, retryable: false }, name);
    }
    assert.deepEqual(
      eventsOf(run.events, 'error').map((e) => e.code),
      refused.map(() => 'ERR_XFER_UNSAFE_PATH'),
    );
    assert.deepEqual(eventsOf(run.events, 'resume'), [], 'no download adopted anything as its partial');
  });

  test('all in one batch, small and large side by side: every file done stays exact', async (t) => {
    const run = await serve(t);
    const outcomes = new Map<string, boolean>();
    await fetchAll(run.session, [...Object.keys(files), ...refused], new AbortController().signal, (n, o) =>
      outcomes.set(n, o.ok),
    );
    for (const name of Object.keys(files)) assert.equal(outcomes.get(name), true, name);
    for (const name of refused) assert.equal(outcomes.get(name), false, name);
    await assertAllExact(run.dataDir);
  });

  test("a partial of the client's own is neither adopted nor destroyed by other names, and still resumes", async (t) => {
    const run = await serve(t);
    // Half of big.bin fetched earlier: its partial and resume state, as the client writes them.
    const own = ownFiles(run.dataDir, 'big.bin');
    await mkdir(join(run.dataDir, '.xfer'), { recursive: true });
    const partial = Buffer.concat([big.subarray(0, 6 * MiB), Buffer.alloc(6 * MiB)]);
    await writeFile(own.part, partial);
    const state = {
      size: big.length,
      mtimeUs: 1,
      sha256: sha256(big),
      pieceSize: MiB,
      done: Buffer.from([0x3f, 0]).toString('base64'),
    };
    await writeFile(own.state, JSON.stringify(state));
    for (const name of [
      'big.bin.part',
      `${hashOf('big.bin')}.part`,
      `${hashOf('big.bin')}.state`,
      '.big.bin.xfer',
    ]) {
      assert.ok((await run.session.fetch(name)).ok, name);
    }
    assert.ok((await readFile(own.part)).equals(partial), 'the partial is untouched');
    assert.ok((await run.session.fetch('big.bin')).ok);
    assert.match(eventsOf(run.events, 'resume')[0]?.message ?? '', /6 of 12 pieces verified/);
    assert.equal(sha256(await readFile(join(run.dataDir, 'big.bin'))), sha256(big));
    assert.equal(sha256(await readFile(join(run.dataDir, 'big.bin.part'))), sha256(bigPart));
  });
});
