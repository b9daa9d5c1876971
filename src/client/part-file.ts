import { constants as fsc } from 'node:fs';
import { open, type FileHandle } from 'node:fs/promises';
import { FileError, toXferError } from '../errors.js';

/**
 * The `.part` file a download writes into: opened without following a symlink,
 * sized up front, and written at each byte's final offset (no temp part files,
 * no concatenation pass).
 */
export class PartFile {
  private constructor(
    readonly fh: FileHandle,
    readonly path: string,
  ) {}

  static async open(path: string, size: number): Promise<PartFile> {
    let fh: FileHandle;
    try {
      fh = await open(path, fsc.O_RDWR | fsc.O_CREAT | fsc.O_NOFOLLOW, 0o644);
    } catch (err) {
      const e = toXferError(err);
      if ((err as NodeJS.ErrnoException).code === 'ELOOP') {
        throw new FileError('ERR_XFER_UNSAFE_PATH', `${path} is a symlink; refusing to write through it.`, {
          cause: err,
        });
      }
      throw e;
    }
    try {
      const st = await fh.stat();
      if (!st.isFile()) throw new FileError('ERR_XFER_UNSAFE_PATH', `${path} is not a regular file.`);
      if (st.size !== size) await fh.truncate(size);
    } catch (err) {
      await fh.close();
      throw toXferError(err);
    }
    return new PartFile(fh, path);
  }

  /** Positional vectored write: a batch of network chunks goes to disk in one syscall, without copying. */
  async write(chunks: Buffer[], position: number): Promise<void> {
    let pos = position;
    let rest = chunks;
    while (rest.length > 0) {
      const { bytesWritten } = await this.fh.writev(rest, pos);
      pos += bytesWritten;
      rest = dropBytes(rest, bytesWritten);
    }
  }

  close(): Promise<void> {
    return this.fh.close();
  }
}

/** What is left of `chunks` after the first `n` bytes (a short write is rare but legal). */
function dropBytes(chunks: Buffer[], n: number): Buffer[] {
  let skip = n;
  const out: Buffer[] = [];
  for (const c of chunks) {
    if (skip >= c.length) {
      skip -= c.length;
      continue;
    }
    out.push(skip > 0 ? c.subarray(skip) : c);
    skip = 0;
  }
  return out;
}
