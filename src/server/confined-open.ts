import {
  closeSync,
  constants as fsc,
  fstatSync,
  openSync,
  readSync,
  readlinkSync,
  realpathSync,
  type BigIntStats,
} from 'node:fs';
import { open, readlink, realpath, type FileHandle } from 'node:fs/promises';
import { LimitError, NotFoundError } from '../errors.js';
import { printableName } from '../protocol/index.js';
import {
  isInside,
  isTemporaryFsError,
  mtimeMicros,
  sameVersion,
  versionKey,
  type FileRecord,
} from './scan.js';

/**
 * Opening a listed file, confined to resources/: the real path found by the
 * scan is opened without following a symlink at the last step (O_NOFOLLOW),
 * then the path of the opened descriptor (/proc/self/fd/N) must still lie
 * inside resources/, so a symlink swapped in after the scan is caught. The
 * async form (for streaming) and the sync form (for small reads) sit side by
 * side so their checks cannot drift apart.
 */

/** A file's identity, from fstat of an open descriptor (not from the path). */
export interface FileVersion {
  size: number;
  mtimeUs: number;
  versionKey: string;
}

/** An opened file whose identity comes from fstat of the open descriptor, not from the path. */
export interface OpenedFile extends FileVersion {
  fh: FileHandle;
}

/** Bytes read whole by `readConfined`, with the version they were read from. */
export interface SmallRead {
  file: FileVersion;
  bytes: Buffer;
  /** The file's version changed while it was read (the bytes may mix two versions). */
  changedMeanwhile: boolean;
}

/**
 * Why a listed file could not be opened: out of descriptors or memory is
 * temporary (ERR_XFER_LIMIT, the client retries); anything else means the
 * file is gone (ERR_XFER_NOT_FOUND, and the catalog is out of date).
 */
function openFailure(record: FileRecord, err: unknown): LimitError | NotFoundError {
  return isTemporaryFsError(err)
    ? new LimitError('The server is short of file descriptors or memory right now; try again shortly.', {
        cause: err,
      })
    : new NotFoundError(`"${printableName(record.name)}" is no longer available.`, { cause: err });
}

export async function openConfined(rootReal: string, record: FileRecord): Promise<OpenedFile> {
  let fh: FileHandle;
  try {
    fh = await open(record.realPath, fsc.O_RDONLY | fsc.O_NOFOLLOW);
  } catch (err) {
    throw openFailure(record, err);
  }
  try {
    const opened = await readlink(`/proc/self/fd/${fh.fd}`).catch(() => realpath(record.realPath));
    return { fh, ...checkOpened(rootReal, record, opened, await fh.stat({ bigint: true })) };
  } catch (err) {
    await fh.close();
    throw err;
  }
}

/**
 * Bytes [offset, offset + length) of a listed file, read whole with the same
 * checks as openConfined, synchronously. Meant for small reads: for a few KiB
 * from the page cache each call takes microseconds, less than the thread-pool
 * round trip of its async form, and a run of thousands of small files is
 * made of little else. (A server without async disk I/O, like nginx without
 * aio, blocks the same way.) O_NONBLOCK: a FIFO swapped in opens at once and
 * is then refused, instead of blocking the whole server.
 */
export function readConfined(
  rootReal: string,
  record: FileRecord,
  offset: number,
  length: number,
): SmallRead {
  let fd: number;
  try {
    fd = openSync(record.realPath, fsc.O_RDONLY | fsc.O_NOFOLLOW | fsc.O_NONBLOCK);
  } catch (err) {
    throw openFailure(record, err);
  }
  try {
    let opened: string;
    try {
      opened = readlinkSync(`/proc/self/fd/${fd}`);
    } catch {
      opened = realpathSync(record.realPath);
    }
    const file = checkOpened(rootReal, record, opened, fstatSync(fd, { bigint: true }));
    const bytes = Buffer.allocUnsafe(Math.max(0, Math.min(length, file.size - offset)));
    for (let got = 0; got < bytes.length;) {
      const n = readSync(fd, bytes, got, bytes.length - got, offset + got);
      if (n === 0) return { file, bytes: bytes.subarray(0, got), changedMeanwhile: true };
      got += n;
    }
    const after = fstatSync(fd, { bigint: true });
    const changedMeanwhile = !sameVersion(after, file);
    return { file, bytes, changedMeanwhile };
  } finally {
    closeSync(fd);
  }
}

/** What was opened must be a regular file inside resources/; its identity comes from fstat. */
function checkOpened(rootReal: string, record: FileRecord, openedPath: string, st: BigIntStats): FileVersion {
  if (!isInside(rootReal, openedPath)) {
    throw new NotFoundError(`"${printableName(record.name)}" is not inside resources/.`);
  }
  if (!st.isFile()) throw new NotFoundError(`"${printableName(record.name)}" is not a file.`);
  const size = Number(st.size);
  const mtimeUs = mtimeMicros(st);
  return { size, mtimeUs, versionKey: versionKey(st.dev, st.ino, size, mtimeUs) };
}
