import assert from 'node:assert/strict';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { finished, startCli, waitForStderr } from '../helpers/cli.js';
import { fetchHttp, rawHttp } from '../helpers/http.js';
import { tempDir } from '../helpers/tmp.js';

async function shareWithOneFile(t: Parameters<typeof tempDir>[0]): Promise<string> {
  const root = await tempDir(t);
  await mkdir(join(root, 'resources'));
  await writeFile(join(root, 'resources', 'hello.txt'), 'hello\n');
  return root;
}

/** Starts `xfer serve` on a free port; returns once its stderr matches `until` after the listening line. */
async function serve(t: Parameters<typeof tempDir>[0], args: string[], until = /\n/) {
  const root = await shareWithOneFile(t);
  const child = startCli(['serve', '--root', root, '--host', '127.0.0.1', '--port', '0', ...args]);
  const done = finished(child);
  t.after(async () => {
    child.kill('SIGTERM');
    await done;
  });
  const said = await waitForStderr(child, new RegExp(`on 127\\.0\\.0\\.1:\\d+[^]*${until.source}`));
  return { child, said, port: Number(/on 127\.0\.0\.1:(\d+)/.exec(said)?.[1]) };
}

describe('xfer serve and its HTTP face', () => {
  test('says where HTTP is, and --verbose logs one access line per request', async (t) => {
    const { child, port, said } = await serve(t, ['--verbose'], /HTTP on the same port: \S+/);
    assert.ok(said.includes(`HTTP on the same port: http://127.0.0.1:${port}/`), said);
    const access = waitForStderr(child, /"GET \/hello\.txt HTTP\/1\.1" 200 6 \d+ms/);
    assert.equal((await fetchHttp(port, '/hello.txt')).body.toString(), 'hello\n');
    await access;
  });

  test('--no-http leaves the port to the xfer protocol alone', async (t) => {
    const { port } = await serve(t, ['--no-http']);
    const answer = await rawHttp(port, 'GET /hello.txt HTTP/1.1\r\nHost: x\r\n\r\n');
    assert.ok(!answer.received.toString('latin1').includes('HTTP/1.1'));
    assert.ok(answer.received.subarray(0, 4).equals(Buffer.from('XFER')));
  });

  test('a token without TLS keeps HTTP off and says why at start', async (t) => {
    await serve(t, ['--token', 'secret'], /HTTP is off: a bearer token must not cross the network in clear/);
  });
});
