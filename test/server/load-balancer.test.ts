import assert from 'node:assert/strict';
import { mkdir, readFile, utimes, writeFile } from 'node:fs/promises';
import { connect, createServer, type Server, type Socket } from 'node:net';
import { join } from 'node:path';
import { describe, test, type TestContext } from 'node:test';
import { finished, startCli, type CliResult } from '../helpers/cli.js';
import {
  haproxyBinary,
  haproxyConfig,
  startHaproxy,
  startServe,
  type RunningHaproxy,
  type ServeProcess,
} from '../helpers/haproxy.js';
import { fetchHttp } from '../helpers/http.js';
import { patternBytes, sha256, tempDir, waitFor } from '../helpers/tmp.js';

const MiB = 1024 * 1024;

/**
 * Several real `xfer serve` processes behind a real HAProxy, with the config
 * docs/scaling.md shows, and real `xfer get` processes as clients.
 */

/** The haproxy binary; outside CI a missing one skips the test with its reason. */
function needHaproxy(t: TestContext): string | undefined {
  const binary = haproxyBinary();
  if (!binary) {
    if (process.env['CI'] === 'true')
      throw new Error('haproxy is missing in CI (.ci/run installs it as root)');
    t.skip('haproxy is not installed (apt-get install haproxy)');
  }
  return binary;
}

async function backends(t: TestContext, roots: string[], extraArgs: string[] = []): Promise<ServeProcess[]> {
  const started = await Promise.all(
    roots.map((root) => startServe(root, ['--proxy-protocol', ...extraArgs])),
  );
  t.after(() => Promise.all(started.map((s) => s.stop())));
  return started;
}

async function balancer(
  t: TestContext,
  binary: string,
  dir: string,
  servers: { name: string; port: number }[],
  options: { http?: boolean } = {},
): Promise<RunningHaproxy> {
  const haproxy = await startHaproxy(binary, dir, servers, options);
  t.after(() => haproxy.stop());
  return haproxy;
}

/** `xfer get` through the balancer, with --json so its events can be read. */
function get(port: number, names: string[], out: string): Promise<CliResult> {
  return finished(startCli(['get', `127.0.0.1:${port}`, ...names, '--out', out, '--json']), 90_000);
}

function events(result: CliResult): Record<string, unknown>[] {
  return result.stdout
    .split('\n')
    .filter((line) => line.trim() !== '')
    .map((line) => JSON.parse(line) as Record<string, unknown>);
}

/** A folder with resources/ holding `files`, every file's mtime set to `mtime` (as rsync -t keeps it). */
async function shareFolder(parent: string, name: string, files: Record<string, Buffer>, mtime: Date) {
  const root = join(parent, name);
  await mkdir(join(root, 'resources'), { recursive: true });
  for (const [file, bytes] of Object.entries(files)) {
    await writeFile(join(root, 'resources', file), bytes);
    await utimes(join(root, 'resources', file), mtime, mtime);
  }
  return root;
}

describe('xfer servers behind HAProxy', () => {
  test('docs/scaling.md shows exactly the configuration these tests run', async () => {
    const doc = await readFile(new URL('../../../docs/scaling.md', import.meta.url), 'utf8');
    const example = haproxyConfig({
      bind: '',
      port: 9876,
      httpPort: 8080,
      statsSocket: '/run/haproxy/xfer.sock',
      backends: [1, 2, 3].map((i) => ({ name: `xfer${i}`, host: `10.0.0.1${i}`, port: 9876 })),
    });
    assert.ok(
      doc.includes(`\`\`\`\n${example}\`\`\`\n`),
      'the config in docs/scaling.md is not haproxyConfig() output',
    );
  });

  test('health checks pass on the xfer handshake and leave no line in the server log', async (t) => {
    const binary = needHaproxy(t);
    if (!binary) return;
    const dir = await tempDir(t);
    const root = await shareFolder(dir, 'share', { 'a.txt': Buffer.from('hello') }, new Date());
    // Two alike backends; the second logs at --verbose, so its debug lines show the probes arriving.
    const [quiet, verbose] = [...(await backends(t, [root])), ...(await backends(t, [root], ['--verbose']))];
    const probes = new Set<Socket>();
    const notXfer: Server = createServer((socket) => {
      probes.add(socket.on('error', () => undefined).on('close', () => probes.delete(socket)));
      socket.end('HTTP/1.0 400 Bad Request\r\n\r\n');
    });
    await new Promise<void>((resolve) => notXfer.listen(0, '127.0.0.1', resolve));
    t.after(() => {
      notXfer.close();
      probes.forEach((socket) => socket.destroy());
    });
    const haproxy = await balancer(t, binary, dir, [
      { name: 'quiet', port: quiet!.port },
      { name: 'verbose', port: verbose!.port },
      { name: 'not-xfer', port: (notXfer.address() as { port: number }).port },
    ]);

    await waitFor(() => (verbose!.log().match(/ connected$/gm) ?? []).length >= 3, 15_000, 'three probes');
    const stats = await haproxy.stats();
    assert.equal(stats.get('quiet')?.check, 'L7OK', 'the probe got its WELCOME');
    assert.equal(stats.get('quiet')?.status, 'UP');
    assert.equal(stats.get('not-xfer')?.status, 'DOWN', 'a server that does not answer WELCOME is taken out');
    // Only the banner: where it serves, and the HTTP face on the same port.
    const banner = /^(xfer serving \d+ files? from |HTTP on the same port: )/;
    assert.deepEqual(
      quiet!
        .log()
        .trim()
        .split('\n')
        .filter((line) => !banner.test(line)),
      [],
      `the probes logged:\n${quiet!.log()}`,
    );
    assert.match(quiet!.log(), /^xfer serving 1 file/);
  });

  test('the backends count and log each client by its own address (PROXY protocol), through both frontends', async (t) => {
    const binary = needHaproxy(t);
    if (!binary) return;
    const dir = await tempDir(t);
    const root = await shareFolder(dir, 'share', { 'a.txt': Buffer.from('hello') }, new Date());
    const [server] = await backends(t, [root], ['--verbose']);
    const haproxy = await balancer(t, binary, dir, [{ name: 'xfer1', port: server!.port }], { http: true });
    await waitFor(async () => (await haproxy.stats()).get('xfer1')?.status === 'UP', 15_000, 'backend up');
    // Loopback clients from three different addresses of 127/8, through the TCP and the HTTP frontend.
    const clients: [string, number][] = [
      ['127.0.0.2', haproxy.port],
      ['127.0.0.3', haproxy.port],
      ['127.0.0.4', haproxy.httpPort!],
    ];
    for (const [address, port] of clients) {
      const answer = await new Promise<string>((resolve, reject) => {
        const socket = connect({ port, host: '127.0.0.1', localAddress: address });
        let text = '';
        socket.on('data', (d: Buffer) => (text += d.toString()));
        socket.on('end', () => resolve(text)).on('error', reject);
        socket.write('GET /a.txt HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n');
      });
      assert.match(answer, /^HTTP\/1\.1 200 OK[\s\S]*hello$/);
      await waitFor(
        () => server!.log().includes(` debug ${address} "GET /a.txt HTTP/1.1" 200 5 `),
        10_000,
        `the access line naming ${address}`,
      );
    }
    assert.doesNotMatch(server!.log(), /PROXY header/, 'every connection, health checks included, had one');
  });

  test('the HTTP face behind the HTTP-mode frontend: whole files and ranges, and a dead backend is routed around', async (t) => {
    const binary = needHaproxy(t);
    if (!binary) return;
    const dir = await tempDir(t);
    const content = patternBytes(3 * MiB, 51);
    const root = await shareFolder(dir, 'share', { 'f.bin': content }, new Date());
    // --verbose: each backend's access log shows the requests it answered.
    const servers = await backends(t, [root, root], ['--verbose']);
    const haproxy = await balancer(
      t,
      binary,
      dir,
      servers.map((s, i) => ({ name: `xfer${i + 1}`, port: s.port })),
      { http: true },
    );
    const port = haproxy.httpPort!;
    // Up once the xfer checks (which the HTTP servers track) have passed.
    await waitFor(
      async () => [...(await haproxy.stats()).values()].every((s) => s.status === 'UP'),
      15_000,
      'both backends up',
    );

    const fetchAll = async () => {
      for (let i = 0; i < 4; i++) {
        const whole = await fetchHttp(port, '/f.bin');
        assert.equal(whole.status, 200);
        assert.ok(whole.body.equals(content), 'the whole file through HAProxy is the file');
        const range = await fetchHttp(port, '/f.bin', { headers: { range: 'bytes=1000-1999' } });
        assert.equal(range.status, 206);
        assert.ok(range.body.equals(content.subarray(1000, 2000)), 'the range through HAProxy is right');
      }
    };
    await fetchAll();
    for (const [i, server] of servers.entries()) {
      assert.match(
        server.log(),
        /"GET \/f\.bin HTTP\/1\.1" 20[06] /,
        `HAProxy sent no HTTP request to xfer${i + 1}`,
      );
    }

    await servers[0]!.stop();
    await waitFor(
      async () => (await haproxy.stats()).get('xfer1')?.status === 'DOWN',
      15_000,
      'the stopped backend marked down',
    );
    await fetchAll();
  });

  test('a backend killed mid-download costs only time: every client ends with the right bytes', async (t) => {
    const binary = needHaproxy(t);
    if (!binary) return;
    const dir = await tempDir(t);
    const size = 24 * MiB;
    const content = patternBytes(size, 21);
    const root = await shareFolder(dir, 'share', { 'big.bin': content }, new Date());
    // One folder shared by all three; each capped so the downloads last long enough to cut one.
    const servers = await backends(t, [root, root, root], ['--limit-rate-total', '16M', '--verbose']);
    const names = servers.map((_, i) => `xfer${i + 1}`);
    const haproxy = await balancer(
      t,
      binary,
      dir,
      servers.map((s, i) => ({ name: names[i]!, port: s.port })),
    );

    const clients = [0, 1, 2, 3].map((i) => get(haproxy.port, ['big.bin'], join(dir, `out${i}`)));
    // Cut a backend once it has finished sending 4 MiB: it is mid-range on someone by then.
    let victim = -1;
    await waitFor(
      () => (victim = servers.findIndex((s) => s.bytesSent() >= 4 * MiB)) >= 0,
      20_000,
      'a backend 4 MiB into the downloads',
    );
    const killedAt = new Date();
    servers[victim]!.child.kill('SIGKILL');
    const results = await Promise.all(clients);

    for (const [i, result] of results.entries()) {
      assert.equal(result.code, 0, `client ${i}: ${result.stderr}`);
      assert.ok(
        (await readFile(join(dir, `out${i}`, 'big.bin'))).equals(content),
        `client ${i}: bytes differ`,
      );
    }
    const survivors = servers.filter((_, i) => i !== victim);
    const before =
      servers.reduce((n, s) => n + s.bytesSent(), 0) -
      survivors.reduce((n, s) => n + s.bytesSent(killedAt), 0);
    const afterKill = survivors.reduce((n, s) => n + s.bytesSent(killedAt), 0);
    // What was not finished when the victim died, less what its cut ranges had already delivered
    // (at most two 4 MiB requests on each of its connections), came from the survivors.
    const victimConnections = (await haproxy.stats()).get(`xfer${victim + 1}`)?.connections ?? 0;
    assert.ok(afterKill > 0, 'the survivors served nothing after the kill');
    assert.ok(
      before + afterKill + victimConnections * 8 * MiB >= 4 * size,
      `before the kill ${before} bytes, after it ${afterKill}: the survivors did not carry the rest`,
    );
  });

  test('a backend holding another version of a file never mixes into a download', async (t) => {
    const binary = needHaproxy(t);
    if (!binary) return;
    const dir = await tempDir(t);
    const listed = { 'big.bin': patternBytes(8 * MiB, 31), 'small.bin': patternBytes(100_000, 32) };
    // Same names and sizes, other bytes (and another mtime): another version of each file.
    const other = { 'big.bin': patternBytes(8 * MiB, 41), 'small.bin': patternBytes(100_000, 42) };
    const mtime = new Date(Date.now() - 3_600_000);
    const roots = [
      await shareFolder(dir, 'a', listed, mtime),
      await shareFolder(dir, 'b', listed, mtime),
      await shareFolder(dir, 'stale', other, new Date()),
    ];
    const servers = await backends(t, roots);
    const haproxy = await balancer(
      t,
      binary,
      dir,
      servers.map((s, i) => ({ name: ['a', 'b', 'stale'][i]!, port: s.port })),
    );

    const results = await Promise.all(
      [0, 1, 2, 3, 4, 5].map((i) => get(haproxy.port, ['big.bin', 'small.bin'], join(dir, `out${i}`))),
    );

    let refusals = 0;
    for (const [i, result] of results.entries()) {
      const seen = events(result);
      const trouble = seen.filter((e) => e['type'] !== 'progress').map((e) => JSON.stringify(e));
      assert.equal(result.code, 0, `client ${i}:\n${trouble.join('\n')}`);
      refusals += seen.filter((e) => e['type'] === 'retry' && e['code'] === 'ERR_XFER_CHANGED').length;
      for (const name of ['big.bin', 'small.bin'] as const) {
        const bytes = await readFile(join(dir, `out${i}`, name));
        // Whichever version the client was told of (by the backend its STAT reached), all of it.
        assert.ok(
          bytes.equals(listed[name]) || bytes.equals(other[name]),
          `client ${i}: ${name} mixes versions`,
        );
        const done = seen.find((e) => e['type'] === 'done' && e['file'] === name);
        assert.equal(done?.['sha256'], sha256(bytes), `client ${i}: ${name} is not the version it verified`);
      }
    }
    assert.ok(refusals > 0, 'no GET reached the backend with the other version: the test proved nothing');
  });
});
