import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { finished, runCli, startCli, waitForStderr } from '../helpers/cli.js';
import { tempDir } from '../helpers/tmp.js';

describe('xfer serve', () => {
  test('listens dual-stack by default: the README examples ([::1]:PORT and 127.0.0.1:PORT) both work', async (t) => {
    const root = await tempDir(t);
    const child = startCli(['serve', '--root', root, '-p', '0']);
    const exit = finished(child, 30_000);
    t.after(() => child.kill('SIGKILL'));
    const banner = await waitForStderr(child, /xfer serving .* on \S+:\d+/);
    const [, host, port] = /on (\S+):(\d+)/.exec(banner) ?? [];
    assert.equal(host, '[::]', banner);
    for (const server of [`[::1]:${port}`, `127.0.0.1:${port}`]) {
      const r = await runCli(['ls', server]);
      assert.equal(r.code, 0, `${server}: ${r.stderr}`);
      assert.equal(r.stdout, '(the server offers no files)\n');
    }
    child.kill('SIGINT');
    assert.equal((await exit).code, 130);
  });
});
