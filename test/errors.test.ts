import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { describe, test } from 'node:test';
import * as errors from '../src/errors.js';
import { ERROR_CODES, XferError, errorFromCode, toXferError } from '../src/errors.js';
import { FrameType } from '../src/protocol/index.js';

const docs = (name: string) => readFile(new URL(`../../docs/${name}`, import.meta.url), 'utf8');

describe('errors', () => {
  test('docs/errors.md lists exactly the codes in src/errors.ts, each with its class', async () => {
    const page = await docs('errors.md');
    const listed = [...page.matchAll(/`(ERR_XFER_[A-Z_0-9]+)`/g)].map((m) => m[1]);
    assert.deepEqual([...new Set(listed)].sort(), Object.keys(ERROR_CODES).sort());
    const rows = [...page.matchAll(/^\| `(ERR_XFER_[A-Z_0-9]+)` \| `(\w+)` \|/gm)];
    assert.equal(rows.length, Object.keys(ERROR_CODES).length, 'one row with a class per code');
    for (const [, code = '', className] of rows) assert.equal(className, errorFromCode(code).name, code);
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

  test('each code has exactly one class, whose errors carry that code and its advice by default', () => {
    const kinds = Object.values(errors as Record<string, unknown>).filter(
      (v): v is new (message?: string) => XferError =>
        typeof v === 'function' && v.prototype instanceof XferError && v.name !== '',
    );
    const codes = kinds.map((Kind) => new Kind().code);
    assert.deepEqual([...codes].sort(), Object.keys(ERROR_CODES).sort());
    for (const Kind of kinds) {
      const error = new Kind();
      assert.equal(error.name, Kind.name);
      assert.equal(error.message, ERROR_CODES[error.code]);
      assert.ok(error instanceof XferError && error instanceof Error);
      assert.equal(new Kind('A sentence.').message, 'A sentence.');
    }
  });

  test('an error a peer reports becomes the class of its code; an unknown code becomes internal', () => {
    const known = errorFromCode('ERR_XFER_NOT_FOUND', 'No file named "x".');
    assert.ok(known instanceof errors.NotFoundError);
    assert.equal(known.message, 'No file named "x".');
    assert.ok(errorFromCode('ERR_XFER_STALLED', 'slow').retryable);
    const unknown = errorFromCode('ERR_XFER_FROM_THE_FUTURE', 'new');
    assert.ok(unknown instanceof errors.InternalError);
    assert.equal(unknown.code, 'ERR_XFER_INTERNAL');
    assert.equal(unknown.message, 'new');
    const cause = new errors.StalledError();
    assert.equal(errorFromCode(cause.code, 'Gave up.', { cause }).cause, cause);
  });

  test('system errors keep the original as the cause', () => {
    const original = Object.assign(new Error('no space'), { code: 'ENOSPC' });
    const mapped = toXferError(original);
    assert.ok(mapped instanceof errors.DiskFullError);
    assert.equal(mapped.cause, original);
    assert.equal(toXferError(mapped), mapped);
  });
});
