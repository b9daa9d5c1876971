import assert from 'node:assert/strict';
import { mkdir, rm, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { DownloadFolder } from '../../src/client/paths.js';
import { tempDir } from '../helpers/tmp.js';

describe('DownloadFolder', () => {
  test('places a name, its .part and its hidden state under data/', async (t) => {
    const data = await tempDir(t);
    const p = await new DownloadFolder(data).paths('sub/dir/a b.bin');
    assert.equal(p.final, join(data, 'sub', 'dir', 'a b.bin'));
    assert.equal(p.part, join(data, 'sub', 'dir', 'a b.bin.part'));
    assert.equal(p.state, join(data, 'sub', 'dir', '.a b.bin.xfer'));
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
