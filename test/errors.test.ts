import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { describe, test } from 'node:test';
import { ERROR_CODES, toXferError } from '../src/errors.js';
import { FrameType } from '../src/protocol/index.js';

const docs = (name: string) => readFile(new URL(`../../docs/${name}`, import.meta.url), 'utf8');

describe('errors', () => {
  test('docs/errors.md lists exactly the codes in src/errors.ts', async () => {
    const listed = [...(await docs('errors.md')).matchAll(/`(ERR_XFER_[A-Z_0-9]+)`/g)].map((m) => m[1]);
    assert.deepEqual([...new Set(listed)].sort(), Object.keys(ERROR_CODES).sort());
  });

  test('docs/protocol.md documents every frame type with its number', async () => {
    const spec = await docs('protocol.md');
    for (const [name, value] of Object.entries(FrameType)) {
      const hex = `0x${value.toString(16).toUpperCase().padStart(2, '0')}`;
      assert.match(spec, new RegExp(`\\| \`${hex}\` \\| ${name} \\|`), `${name} (${hex})`);
    }
  });

  test('system errors map to codes a person can act on', () => {
    const sys = (code: string) => Object.assign(new Error(code), { code });
    assert.equal(toXferError(sys('ENOSPC')).code, 'ERR_XFER_DISK_FULL');
    assert.equal(toXferError(sys('EFBIG')).code, 'ERR_XFER_FILE_TOO_LARGE');
    assert.match(toXferError(sys('EFBIG')).message, /too large for this file system/i);
    const long = Object.assign(sys('ENAMETOOLONG'), { path: `/data/${'n'.repeat(300)}` });
    assert.equal(toXferError(long).code, 'ERR_XFER_FS');
    assert.ok(toXferError(long).message.length < 120, toXferError(long).message);
    assert.equal(toXferError(sys('EACCES')).code, 'ERR_XFER_FS');
    assert.equal(toXferError(sys('ECONNREFUSED')).code, 'ERR_XFER_CONNECT');
    assert.equal(toXferError(sys('ECONNRESET')).code, 'ERR_XFER_CLOSED');
    assert.equal(toXferError(sys('ELOOP')).code, 'ERR_XFER_UNSAFE_PATH');
    assert.equal(toXferError('odd').code, 'ERR_XFER_INTERNAL');
    assert.ok(toXferError(sys('ECONNRESET')).retryable);
    assert.ok(!toXferError(sys('ENOSPC')).retryable);
  });
});
