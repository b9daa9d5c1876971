import assert from 'node:assert/strict';
import { mkdir, symlink } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { downloadPaths } from '../../src/client/paths.js';
import { tempDir } from '../helpers/tmp.js';

describe('downloadPaths', () => {
  test('places a name, its .part and its hidden state under data/', async (t) => {
    const data = await tempDir(t);
    const p = await downloadPaths(data, 'sub/dir/a b.bin');
    assert.equal(p.final, join(data, 'sub', 'dir', 'a b.bin'));
    assert.equal(p.part, join(data, 'sub', 'dir', 'a b.bin.part'));
    assert.equal(p.state, join(data, 'sub', 'dir', '.a b.bin.xfer'));
  });

  for (const name of ['../x', '/etc/x', 'a\\b', 'a/../../b', 'nul\0', 'esc\x1b[2J', '']) {
    test(`refuses ${JSON.stringify(name)}`, async (t) => {
      const data = await tempDir(t);
      await assert.rejects(downloadPaths(data, name), { code: 'ERR_XFER_UNSAFE_PATH' });
    });
  }

  test('refuses a subfolder that is a symlink leading out of data/', async (t) => {
    const data = await tempDir(t);
    const outside = await tempDir(t);
    await mkdir(join(data, 'ok'));
    await symlink(outside, join(data, 'evil'));
    await downloadPaths(data, 'ok/file');
    await assert.rejects(downloadPaths(data, 'evil/file'), { code: 'ERR_XFER_UNSAFE_PATH' });
  });
});
