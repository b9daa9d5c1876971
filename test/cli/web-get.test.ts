import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { readFile, readdir, rename, utimes, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { peakConcurrentConnections, startNginx } from '../helpers/nginx.js';
import { finished, runCli, startCli } from '../helpers/cli.js';
import { patternBytes, sha256, tempDir, waitFor } from '../helpers/tmp.js';
import { startServer } from '../helpers/server.js';
import { sendFile, startWebServer } from '../helpers/web-server.js';

const MiB = 1024 * 1024;

/** The NDJSON events printed so far. */
function events(stdout: string): Record<string, unknown>[] {
  return stdout
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .map((l) => JSON.parse(l) as Record<string, unknown>);
}

describe('xfer get URL', () => {
  test('fetches from nginx with --json: done says what was verified; --checksum right and wrong', async (t) => {
    const nginx = await startNginx(t);
    if (!nginx) return;
    const data = patternBytes(5 * MiB + 7, 21);
    await writeFile(join(nginx.root, 'f.bin'), data);
    const out = await tempDir(t);
    const plain = await runCli(['get', `${nginx.base}f.bin`, '--out', out, '--json']);
    assert.equal(plain.code, 0, plain.stderr);
    const done = events(plain.stdout).find((e) => e['type'] === 'done');
    assert.equal(done?.['verified'], 'size only');
    assert.equal(done?.['sha256'], sha256(data));
    assert.ok((await readFile(join(out, 'f.bin'))).equals(data));

    const right = await runCli([
      'get',
      `${nginx.base}f.bin`,
      '--out',
      join(out, 'r'),
      '--checksum',
      `sha256=${sha256(data)}`,
    ]);
    assert.equal(right.code, 0, right.stderr);
    assert.match(right.stderr, /verified: sha256 \(checksum\)/);
    const wrong = await runCli([
      'get',
      `${nginx.base}f.bin`,
      '--out',
      join(out, 'w'),
      '--checksum',
      `sha256=${'0'.repeat(64)}`,
      '--json',
    ]);
    assert.equal(wrong.code, 1);
    assert.equal(events(wrong.stdout).find((e) => e['type'] === 'error')?.['code'], 'ERR_XFER_CORRUPT');
    assert.deepEqual(
      (await readdir(join(out, 'w'))).filter((n) => n !== '.xfer'),
      [],
    );
  });

  test('130 MiB from nginx: hashed by the worker as it arrives over 4 keep-alive connections; one byte off is ERR_XFER_CORRUPT', async (t) => {
    const nginx = await startNginx(t);
    if (!nginx) return;
    // From 128 MiB the SHA-256 runs in a worker during the download; range bodies come over RangeSockets.
    const data = patternBytes(130 * MiB, 23);
    const off = Buffer.from(data);
    off[77 * MiB + 5] = (off[77 * MiB + 5] ?? 0) ^ 1;
    await writeFile(join(nginx.root, 'good.bin'), data);
    await writeFile(join(nginx.root, 'off.bin'), off);
    const out = await tempDir(t);
    const checksum = `sha256=${sha256(data)}`;
    const good = await runCli([
      'get',
      `${nginx.base}good.bin`,
      '--out',
      out,
      '--checksum',
      checksum,
      '--json',
    ]);
    assert.equal(good.code, 0, good.stderr);
    assert.equal(events(good.stdout).find((e) => e['type'] === 'done')?.['verified'], 'sha256 (checksum)');
    assert.equal(sha256(await readFile(join(out, 'good.bin'))), sha256(data));
    const ranges = (await nginx.requests()).filter((l) => l.status === 206 && l.range !== 'bytes=0-');
    assert.ok(ranges.length >= Math.ceil(130 / 4), `${ranges.length} range requests`);
    assert.equal(new Set(ranges.map((l) => l.connection)).size, 4, 'four connections, each kept alive');

    const bad = await runCli([
      'get',
      `${nginx.base}off.bin`,
      '--out',
      join(out, 'bad'),
      '--checksum',
      checksum,
      '--json',
    ]);
    assert.equal(bad.code, 1);
    assert.equal(events(bad.stdout).find((e) => e['type'] === 'error')?.['code'], 'ERR_XFER_CORRUPT');
    assert.deepEqual(
      (await readdir(join(out, 'bad'))).filter((n) => n !== '.xfer'),
      [],
    );
  });

  test('--checksums FILE in sha256sum format, --output NAME, and usage errors (exit 2)', async (t) => {
    const nginx = await startNginx(t);
    if (!nginx) return;
    const data = patternBytes(100_000, 22);
    await writeFile(join(nginx.root, 'a.bin'), data);
    const out = await tempDir(t);
    await writeFile(join(out, 'SHA256SUMS'), `${sha256(data)}  a.bin\n`);
    const listed = await runCli([
      'get',
      `${nginx.base}a.bin`,
      '--out',
      join(out, 'd'),
      '--checksums',
      join(out, 'SHA256SUMS'),
      '--output',
      'renamed.bin',
    ]);
    assert.equal(listed.code, 0, listed.stderr);
    assert.match(listed.stderr, /verified: sha256 \(checksum list\)/);
    assert.ok((await readFile(join(out, 'd', 'renamed.bin'))).equals(data));
    // The list from a URL, and the probe by HEAD.
    await writeFile(join(nginx.root, 'SHA256SUMS'), `${sha256(data)} *a.bin\n`);
    const remote = await runCli([
      'get',
      `${nginx.base}a.bin`,
      '--out',
      join(out, 'e'),
      '--checksums',
      `${nginx.base}SHA256SUMS`,
      '--head',
    ]);
    assert.equal(remote.code, 0, remote.stderr);
    assert.match(remote.stderr, /verified: sha256 \(checksum list\)/);
    assert.ok((await nginx.requests()).some((l) => l.request.startsWith('HEAD /a.bin')));
    for (const args of [
      ['get', `${nginx.base}a.bin`, `${nginx.base}b.bin`, '--checksum', `sha256=${sha256(data)}`],
      ['get', `${nginx.base}a.bin`, '--checksum', 'md5=abc'],
      ['get', `${nginx.base}a.bin`, '127.0.0.1'],
      ['get', `${nginx.base}a.bin`, '--header', 'Bad Header'],
    ]) {
      const r = await runCli([...args, '--out', join(out, 'u')]);
      assert.equal(r.code, 2, `${args.join(' ')}: ${r.stderr}`);
    }
  });

  test('credentials in the URL are sent as Authorization and never printed', async (t) => {
    const web = await startWebServer(t, (_req, res) => res.writeHead(404).end());
    const out = await tempDir(t);
    const url = web.origin.replace('//', '//user:s3cret-pass@') + '/missing.bin';
    const r = await runCli(['get', url, '--out', out]);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /ERR_XFER_NOT_FOUND/);
    assert.ok(!`${r.stdout}${r.stderr}`.includes('s3cret'));
    assert.equal(
      web.requests[0]?.headers.authorization,
      `Basic ${Buffer.from('user:s3cret-pass').toString('base64')}`,
    );
  });

  test('resume after kill -9 re-sends well under the whole file', async (t) => {
    const nginx = await startNginx(t, { config: 'limit_rate 2m;' });
    if (!nginx) return;
    const data = patternBytes(32 * MiB, 23);
    await writeFile(join(nginx.root, 'r.bin'), data);
    const out = await tempDir(t);
    const first = startCli(['get', `${nginx.base}r.bin`, '--out', out, '--json']);
    let stdout = '';
    first.stdout?.on('data', (d: Buffer) => (stdout += d.toString()));
    const progressed = () =>
      events(stdout).some((e) => e['type'] === 'progress' && Number(e['bytes']) >= 12 * MiB);
    await waitFor(progressed, 60_000, '12 MiB on disk');
    // State is saved at least every second: give it one save after the 12 MiB mark.
    await new Promise((r) => setTimeout(r, 1200));
    first.kill('SIGKILL');
    await finished(first);
    await waitFor(
      async () => (await nginx.requests()).every((l) => l.range === '' || l.status > 0),
      5000,
      'nginx log',
    );
    const before = (await nginx.requests()).length;
    const second = await runCli(['get', `${nginx.base}r.bin`, '--out', out, '--json'], {
      timeoutMs: 120_000,
    });
    assert.equal(second.code, 0, second.stderr);
    assert.ok(events(second.stdout).some((e) => e['type'] === 'resume'));
    assert.ok((await readFile(join(out, 'r.bin'))).equals(data));
    const resent = (await nginx.requests()).slice(before).reduce((n, l) => n + l.bytesSent, 0);
    assert.ok(resent < 0.75 * data.length, `re-sent ${resent} of ${data.length} bytes`);
  });

  test('the file replaced on nginx mid-download: a restart event and the new file, never a mix', async (t) => {
    const nginx = await startNginx(t, { config: 'limit_rate 4m;' });
    if (!nginx) return;
    // Larger than the first four 4 MiB requests, so later ones meet the new version.
    const v1 = patternBytes(40 * MiB, 31);
    const v2 = patternBytes(40 * MiB, 32);
    await writeFile(join(nginx.root, 'm.bin'), v1);
    const out = await tempDir(t);
    const child = startCli(['get', `${nginx.base}m.bin`, '--out', out, '--json']);
    let stdout = '';
    child.stdout?.on('data', (d: Buffer) => (stdout += d.toString()));
    const result = finished(child, 120_000);
    await waitFor(
      () => events(stdout).some((e) => e['type'] === 'progress' && Number(e['bytes']) >= 2 * MiB),
      60_000,
      'progress',
    );
    await writeFile(join(nginx.root, 'm.new'), v2);
    // A different mtime gives nginx a different ETag even within the same second.
    const later = new Date(Date.now() + 60_000);
    await utimes(join(nginx.root, 'm.new'), later, later);
    await rename(join(nginx.root, 'm.new'), join(nginx.root, 'm.bin'));
    const r = await result;
    assert.equal(r.code, 0, r.stderr);
    assert.ok(events(r.stdout).some((e) => e['type'] === 'restart'));
    const got = await readFile(join(out, 'm.bin'));
    assert.equal(createHash('sha256').update(got).digest('hex'), sha256(v2));
    assert.ok(peakConcurrentConnections(await nginx.requests()) >= 2);
  });

  test('input.txt lines that are URLs are fetched in their place among xfer names', async (t) => {
    const nginx = await startNginx(t);
    if (!nginx) return;
    const web = patternBytes(300_000, 41);
    await writeFile(join(nginx.root, 'web file.bin'), web);
    const xfer = await startServer(t, { 'first.txt': 'first', 'last.txt': 'last' });
    const dir = await tempDir(t);
    await writeFile(join(dir, 'input.txt'), `first.txt\n${nginx.base}web%20file.bin\nlast.txt\n`);
    const r = await runCli(['client', `127.0.0.1:${xfer.port}`, '--dir', dir, '--once', '--json']);
    assert.equal(r.code, 0, r.stderr);
    const done = events(r.stdout)
      .filter((e) => e['type'] === 'done')
      .map((e) => e['file']);
    assert.deepEqual(done, ['first.txt', 'web file.bin', 'last.txt']);
    assert.ok((await readFile(join(dir, 'data', 'web file.bin'))).equals(web));
  });

  test('many URLs: at most 16 in flight at once, and one failing URL stops none of the others', async (t) => {
    const count = 40;
    const files = new Map<string, Buffer>(
      Array.from({ length: count }, (_, i) => [`/f${i}.bin`, patternBytes(2048 + i, 60 + i)]),
    );
    const held: (() => void)[] = [];
    let inFlight = 0;
    let peak = 0;
    const server = await startWebServer(t, (req, res) => {
      inFlight++;
      peak = Math.max(peak, inFlight);
      // Every answer waits for the test: the client's window fills up, whatever its size.
      held.push(() => {
        inFlight--;
        const data = files.get(req.url ?? '');
        if (data) sendFile(req, res, { data, etag: '"v1"' });
        // With a length, as web servers send it: an answer xfer's own connections read (a chunked one is asked again through undici).
        else res.writeHead(404, { 'content-length': 0 }).end();
      });
    });
    const urls = [...files.keys()].map((path) => `${server.origin}${path}`);
    urls.splice(7, 0, `${server.origin}/missing.bin`);
    const out = await tempDir(t);
    const child = startCli(['get', ...urls, '--out', out, '--json']);
    const result = finished(child);
    for (let answered = 0; answered < urls.length; answered++) {
      // A full window, or every URL asked: then one answer more.
      await waitFor(() => inFlight >= 16 || server.requests.length === urls.length, 20_000, 'a full window');
      held.shift()?.();
    }
    const r = await result;
    assert.equal(r.code, 1, r.stderr);
    assert.doesNotMatch(r.stderr, /Warning/);
    assert.equal(peak, 16);
    const ev = events(r.stdout);
    const errors = ev.filter((e) => e['type'] === 'error');
    assert.deepEqual(
      errors.map((e) => [e['file'], e['code']]),
      [[`${server.origin}/missing.bin`, 'ERR_XFER_NOT_FOUND']],
    );
    assert.equal(ev.filter((e) => e['type'] === 'done').length, count);
    for (const [path, data] of files) assert.ok((await readFile(join(out, path.slice(1)))).equals(data));
    assert.equal(server.requests.length, urls.length, 'one request per small file');
  });

  test('--limit-rate caps the whole run: a file takes at least its size over the rate', async (t) => {
    const data = patternBytes(3 * MiB, 43);
    const web = await startWebServer(t, (req, res) => sendFile(req, res, { data, etag: '"l"' }));
    const out = await tempDir(t);
    const started = Date.now();
    const fast = await runCli(['get', `${web.origin}/l.bin`, '--out', join(out, 'fast')]);
    const baseline = Date.now() - started;
    const limitedStart = Date.now();
    const slow = await runCli([
      'get',
      `${web.origin}/l.bin`,
      '--out',
      join(out, 'slow'),
      '--limit-rate',
      '1M',
    ]);
    const limited = Date.now() - limitedStart;
    assert.equal(fast.code, 0, fast.stderr);
    assert.equal(slow.code, 0, slow.stderr);
    assert.ok((await readFile(join(out, 'slow', 'l.bin'))).equals(data));
    // 3 MiB at 1 MiB/s less the quarter-second burst: at least 2.5 s, whatever the load.
    assert.ok(limited >= 2500, `took ${limited} ms`);
    assert.ok(limited > baseline, `limited ${limited} ms, unlimited ${baseline} ms`);
  });

  test('Ctrl+C stops a web download with exit 130 and keeps no final file', async (t) => {
    const data = patternBytes(3 * MiB, 44);
    const web = await startWebServer(t, (req, res) => sendFile(req, res, { data, etag: '"i"' }));
    const out = await tempDir(t);
    const child = startCli(['get', `${web.origin}/i.bin`, '--out', out, '--limit-rate', '200K', '--json']);
    let stdout = '';
    child.stdout?.on('data', (d: Buffer) => (stdout += d.toString()));
    const result = finished(child);
    await waitFor(() => events(stdout).some((e) => e['type'] === 'start'), 20_000, 'start');
    child.kill('SIGINT');
    const r = await result;
    assert.equal(r.code, 130, r.stderr);
    assert.deepEqual(
      (await readdir(out)).filter((n) => n !== '.xfer'),
      [],
    );
  });
});
