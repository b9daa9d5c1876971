import assert from 'node:assert/strict';
import { open, readFile, utimes, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { havePeer, runPeer } from '../helpers/peers.js';
import { startServer } from '../helpers/server.js';
import { patternBytes, sha256, tempDir, waitFor } from '../helpers/tmp.js';

const content = patternBytes(9 * 1024 * 1024 + 333, 11);
const unicodeName = 'dossier été/日本 語 #1.bin';
const unicodeUrlPath = '/dossier%20%C3%A9t%C3%A9/%E6%97%A5%E6%9C%AC%20%E8%AA%9E%20%231.bin';
const files = { 'big.bin': content, [unicodeName]: content.subarray(0, 100_000) };

async function served(t: Parameters<typeof startServer>[0]) {
  const s = await startServer(t, files);
  await waitFor(() => s.server.catalog.entries().every((e) => e.sha256), 20_000, 'files hashed');
  return { ...s, url: `http://127.0.0.1:${s.port}` };
}

describe('real HTTP clients against the HTTP face', () => {
  test('curl: HEAD, whole file, a range, -C - resume, --compressed with a range, a unicode name', async (t) => {
    if (!havePeer(t, 'curl')) return;
    const s = await served(t);
    const dir = await tempDir(t);
    const head = await runPeer('curl', ['-sS', '-I', `${s.url}/big.bin`]);
    assert.equal(head.code, 0, head.stderr);
    assert.match(head.stdout, /^HTTP\/1\.1 200 OK/);
    assert.match(head.stdout, new RegExp(`content-length: ${content.length}\\r`, 'i'));
    assert.ok(
      head.stdout.includes(
        `Repr-Digest: sha-256=:${Buffer.from(sha256(content), 'hex').toString('base64')}:`,
      ),
    );

    const whole = await runPeer('curl', ['-sSf', '-o', 'whole.bin', `${s.url}/big.bin`], { cwd: dir });
    assert.equal(whole.code, 0, whole.stderr);
    assert.equal(sha256(await readFile(join(dir, 'whole.bin'))), sha256(content));

    const range = await runPeer(
      'curl',
      ['-sSf', '-r', '1000000-1999999', '-o', 'range.bin', `${s.url}/big.bin`],
      { cwd: dir },
    );
    assert.equal(range.code, 0, range.stderr);
    assert.equal(
      sha256(await readFile(join(dir, 'range.bin'))),
      sha256(content.subarray(1_000_000, 2_000_000)),
    );

    await writeFile(join(dir, 'resumed.bin'), content.subarray(0, 4_000_001));
    const resumed = await runPeer('curl', ['-sSf', '-C', '-', '-o', 'resumed.bin', `${s.url}/big.bin`], {
      cwd: dir,
    });
    assert.equal(resumed.code, 0, resumed.stderr);
    assert.equal(sha256(await readFile(join(dir, 'resumed.bin'))), sha256(content));

    const compressed = await runPeer(
      'curl',
      ['-sSf', '--compressed', '-r', '-777', '-o', 'tail.bin', `${s.url}/big.bin`],
      { cwd: dir },
    );
    assert.equal(compressed.code, 0, compressed.stderr);
    assert.equal(sha256(await readFile(join(dir, 'tail.bin'))), sha256(content.subarray(-777)));

    const unicode = await runPeer('curl', ['-sSf', '-o', 'u.bin', `${s.url}${unicodeUrlPath}`], { cwd: dir });
    assert.equal(unicode.code, 0, unicode.stderr);
    assert.equal(sha256(await readFile(join(dir, 'u.bin'))), sha256(files[unicodeName]));
  });

  test('wget -c resumes a partial file exactly', async (t) => {
    if (!havePeer(t, 'wget')) return;
    const s = await served(t);
    const dir = await tempDir(t);
    await writeFile(join(dir, 'big.bin'), content.subarray(0, 3_333_333));
    const run = await runPeer('wget', ['-q', '-c', `${s.url}/big.bin`], { cwd: dir });
    assert.equal(run.code, 0, run.stderr);
    assert.equal(sha256(await readFile(join(dir, 'big.bin'))), sha256(content));
  });

  test('axel -n 4 fetches the whole file exactly', async (t) => {
    if (!havePeer(t, 'axel')) return;
    const s = await served(t);
    const dir = await tempDir(t);
    const run = await runPeer('axel', ['-q', '-n', '4', '-o', 'big.bin', `${s.url}/big.bin`], { cwd: dir });
    assert.equal(run.code, 0, run.stderr);
    assert.equal(sha256(await readFile(join(dir, 'big.bin'))), sha256(content));
  });

  test('aria2c -x4 -s4 fetches the whole file exactly, checking the Digest it asked for', async (t) => {
    if (!havePeer(t, 'aria2c')) return;
    const s = await served(t);
    const dir = await tempDir(t);
    const args = ['-q', '-x4', '-s4', '--min-split-size=1M', '--log=-', '--log-level=info', '-d', dir];
    const run = await runPeer('aria2c', [...args, `${s.url}/big.bin`]);
    assert.equal(run.code, 0, run.stderr + run.stdout);
    assert.equal(sha256(await readFile(join(dir, 'big.bin'))), sha256(content));
    // It received the Digest it asked for (the corruption test shows that it then checks it).
    assert.ok(
      run.stdout.includes(`Digest: SHA-256=${Buffer.from(sha256(content), 'hex').toString('base64')}`),
    );

    const unicode = await runPeer('aria2c', ['-q', '-d', dir, '-o', 'u.bin', `${s.url}${unicodeUrlPath}`]);
    assert.equal(unicode.code, 0, unicode.stderr);
    assert.equal(sha256(await readFile(join(dir, 'u.bin'))), sha256(files[unicodeName]));
  });

  test('aria2c -M NAME.meta4 checks every piece and succeeds on intact bytes', async (t) => {
    if (!havePeer(t, 'aria2c')) return;
    const s = await served(t);
    const dir = await tempDir(t);
    await writeFile(join(dir, 'big.meta4'), await fetchBytes(`${s.url}/big.bin.meta4`));
    const run = await runPeer('aria2c', ['-q', '-x4', '-d', join(dir, 'out'), '-M', join(dir, 'big.meta4')]);
    assert.equal(run.code, 0, run.stderr + run.stdout);
    assert.equal(sha256(await readFile(join(dir, 'out', 'big.bin'))), sha256(content));
  });

  test('aria2c refuses a file corrupted on the server, via Digest and via the Metalink piece hashes', async (t) => {
    if (!havePeer(t, 'aria2c')) return;
    const s = await served(t);
    const dir = await tempDir(t);
    const path = join(s.resources, 'big.bin');
    await writeFile(join(dir, 'big.meta4'), await fetchBytes(`${s.url}/big.bin.meta4`));
    // Silent corruption (bit rot): one byte changes in place and the mtime is put back, so
    // the server's identity, and the digests it announces, still describe the original bytes.
    const listed = s.server.catalog.get('big.bin');
    assert.ok(listed);
    const whole = new Date(Math.floor(listed.mtimeUs / 1e6) * 1000);
    const original = content[5_000_000] ?? 0;
    const setByte = async (value: number) => {
      const fh = await open(path, 'r+');
      await fh.write(Buffer.from([value]), 0, 1, 5_000_000);
      await fh.close();
      await utimes(path, whole, whole);
    };
    // First the mtime becomes a whole second (exactly restorable) and that version is hashed;
    // then the catalog stops watching, so the server cannot notice the write and re-hash.
    // (A stopped catalog scans no more, so the rescan comes first; stop() waits for a scan
    // the watcher may have started meanwhile, and nothing starts another.)
    await setByte(original);
    await s.server.catalog.rescan();
    await waitFor(() => s.server.catalog.entries().every((e) => e.sha256), 20_000, 'hashed');
    await s.server.catalog.stop();
    await setByte(original ^ 0xff);
    const announced = `sha-256=:${Buffer.from(sha256(content), 'hex').toString('base64')}:`;
    const head = await fetch(`${s.url}/big.bin`, { method: 'HEAD' });
    assert.equal(
      head.headers.get('repr-digest'),
      announced,
      'the server still announces the original digest',
    );

    const aria = ['--max-tries=1', '--console-log-level=error', '--summary-interval=0'];
    const viaDigest = await runPeer('aria2c', [
      ...aria,
      '-x4',
      '-s4',
      '--min-split-size=1M',
      '-d',
      join(dir, 'a'),
      `${s.url}/big.bin`,
    ]);
    assert.equal(
      viaDigest.code,
      32,
      `aria2c exit code 32 is "checksum validation failed": ${viaDigest.stdout}`,
    );
    assert.match(viaDigest.stdout + viaDigest.stderr, /checksum error/i);

    const viaMetalink = await runPeer('aria2c', [
      ...aria,
      '-d',
      join(dir, 'b'),
      '-M',
      join(dir, 'big.meta4'),
    ]);
    assert.notEqual(viaMetalink.code, 0, 'aria2c accepted a piece that does not match its hash');
    assert.match(viaMetalink.stdout + viaMetalink.stderr, /Invalid checksum/);
    const kept = await readFile(join(dir, 'b', 'big.bin')).catch(() => Buffer.alloc(0));
    assert.notEqual(sha256(kept), sha256(content));
  });
});

async function fetchBytes(url: string): Promise<Buffer> {
  return Buffer.from(await (await fetch(url)).arrayBuffer());
}
