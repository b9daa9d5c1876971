import assert from 'node:assert/strict';
import { mkdir, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { Catalog } from '../../src/server/catalog.js';
import { sha256, tempDir } from '../helpers/tmp.js';

async function catalogOf(
  t: Parameters<typeof tempDir>[0],
  build: (resources: string, outside: string) => Promise<void>,
) {
  const root = await tempDir(t);
  const resources = join(root, 'resources');
  const outside = join(root, 'outside');
  await mkdir(resources);
  await mkdir(outside);
  await writeFile(join(outside, 'secret'), 'secret');
  await build(resources, outside);
  const catalog = new Catalog(resources);
  await catalog.rescan();
  return catalog;
}

describe('Catalog', () => {
  test('lists regular files, subfolders with /, and skips dotfiles and .part files', async (t) => {
    const catalog = await catalogOf(t, async (r) => {
      await writeFile(join(r, 'b.txt'), 'b');
      await writeFile(join(r, 'a file.txt'), 'a');
      await writeFile(join(r, '.hidden'), 'h');
      await writeFile(join(r, 'x.part'), 'p');
      await mkdir(join(r, 'sub', 'deeper'), { recursive: true });
      await writeFile(join(r, 'sub', 'deeper', 'ü.bin'), 'u');
      await mkdir(join(r, '.git'));
      await writeFile(join(r, '.git', 'config'), 'c');
    });
    assert.deepEqual(
      catalog.entries().map((e) => e.name),
      ['a file.txt', 'b.txt', 'sub/deeper/ü.bin'],
    );
  });

  test('follows symlinks that stay inside resources/ and drops those that leave it', async (t) => {
    const catalog = await catalogOf(t, async (r, outside) => {
      await writeFile(join(r, 'real.txt'), 'r');
      await symlink(join(r, 'real.txt'), join(r, 'alias.txt'));
      await symlink(join(outside, 'secret'), join(r, 'escape.txt'));
      await symlink(outside, join(r, 'escape-dir'));
      await symlink('../outside/secret', join(r, 'relative-escape'));
      await symlink(join(r, 'missing'), join(r, 'dangling'));
      await symlink(r, join(r, 'loop'));
    });
    assert.deepEqual(
      catalog.entries().map((e) => e.name),
      ['alias.txt', 'real.txt'],
    );
  });

  test('refuses to open a listed file that was swapped for an escaping symlink', async (t) => {
    let resources = '';
    let outsideDir = '';
    const catalog = await catalogOf(t, async (r, outside) => {
      resources = r;
      outsideDir = outside;
      await mkdir(join(r, 'dir'));
      await writeFile(join(r, 'dir', 'f.txt'), 'inside');
      await writeFile(join(r, 'g.txt'), 'inside');
    });
    const dirRecord = catalog.get('dir/f.txt');
    const fileRecord = catalog.get('g.txt');
    assert.ok(dirRecord && fileRecord);
    // Swap the file itself for a symlink: O_NOFOLLOW refuses it.
    const { rm, rename } = await import('node:fs/promises');
    await rm(join(resources, 'g.txt'));
    await symlink(join(outsideDir, 'secret'), join(resources, 'g.txt'));
    await assert.rejects(catalog.open(fileRecord), { code: 'ERR_XFER_NOT_FOUND' });
    // Swap a parent folder for a symlink to outside: the opened path is checked after open.
    await rename(join(resources, 'dir'), join(resources, 'moved'));
    await writeFile(join(outsideDir, 'f.txt'), 'outside');
    await symlink(outsideDir, join(resources, 'dir'));
    await assert.rejects(catalog.open(dirRecord), { code: 'ERR_XFER_NOT_FOUND' });
  });

  test('a file still being hashed is listed without its SHA-256, then with it', async (t) => {
    const content = Buffer.alloc(64 * 1024 * 1024, 3);
    const catalog = await catalogOf(t, async (r) => writeFile(join(r, 'big'), content));
    assert.equal(catalog.entries()[0]?.sha256, undefined, 'listed before its hash is ready');
    const record = catalog.get('big');
    assert.ok(record);
    const opened = await catalog.open(record);
    await catalog.hashes(opened);
    await opened.fh.close();
    assert.equal(catalog.entries()[0]?.sha256?.toString('hex'), sha256(content));
  });

  test('hashes each version once and gives whole-file and per-piece SHA-256', async (t) => {
    const content = Buffer.alloc(3 * 1024 * 1024 + 5, 7);
    const catalog = await catalogOf(t, async (r) => writeFile(join(r, 'f'), content));
    const record = catalog.get('f');
    assert.ok(record);
    const first = await catalog.open(record);
    const h1 = await catalog.hashes(first);
    const second = await catalog.open(record);
    const h2 = await catalog.hashes(second);
    await first.fh.close();
    await second.fh.close();
    assert.equal(h1, h2, 'the cached result is reused');
    assert.equal(h1.sha256.toString('hex'), sha256(content));
    assert.equal(h1.pieces.length, 4);
    assert.equal(h1.pieces[3]?.toString('hex'), sha256(content.subarray(3 * 1024 * 1024)));
  });
});

describe('Catalog rescans that fail', () => {
  test('keep the last good catalog, report it once per failure, and recover on the next good scan', async (t) => {
    const { rename } = await import('node:fs/promises');
    const root = await tempDir(t);
    const resources = join(root, 'resources');
    await mkdir(resources);
    await writeFile(join(resources, 'a.txt'), 'a');
    const catalog = new Catalog(resources);
    await catalog.rescan();
    const failures: string[] = [];
    let changes = 0;
    catalog.on('scan-failed', (m) => failures.push(m));
    catalog.on('change', () => changes++);
    await rename(resources, join(root, 'away'));
    await catalog.rescan();
    assert.equal(catalog.size, 1);
    assert.ok(catalog.stale);
    assert.equal(changes, 0, 'nothing was published');
    assert.match(failures[0] ?? '', /failed for now \(ENOENT.*last catalog of 1 file /);
    await rename(join(root, 'away'), resources);
    // Written beside and renamed in: a rescan of its own (hashing a.txt in the background
    // found it gone and asked for one) must not catch b.txt empty and then again full.
    await writeFile(join(root, 'b.txt'), 'b');
    await rename(join(root, 'b.txt'), join(resources, 'b.txt'));
    await catalog.rescan();
    assert.equal(catalog.stale, false);
    assert.equal(catalog.size, 2);
    assert.equal(changes, 1);
  });

  test('the first scan of a missing folder fails loudly', async (t) => {
    const root = await tempDir(t);
    await assert.rejects(new Catalog(join(root, 'nope')).rescan(), { code: 'ENOENT' });
  });
});
