import { constants as fsc, writeSync } from 'node:fs';
import { open, type FileHandle } from 'node:fs/promises';
import { UnsafePathError, toXferError } from '../errors.js';

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
        throw new UnsafePathError(`${path} is a symlink; refusing to write through it.`, {
          cause: err,
        });
      }
      throw e;
    }
    try {
      const st = await fh.stat();
      if (!st.isFile()) throw new UnsafePathError(`${path} is not a regular file.`);
      if (st.size !== size) await fh.truncate(size);
    } catch (err) {
      await fh.close();
      throw toXferError(err);
    }
    return new PartFile(fh, path);
  }

  /** Writes `chunk` at `position` now. */
  writeSync(chunk: Buffer, position: number): void {
    writeAllSync(this.fh.fd, chunk, position);
  }

  close(): Promise<void> {
    return this.fh.close();
  }
}

/** Writes all of `data` at `position` (a short write is rare but legal, so it loops). */
export function writeAllSync(fd: number, data: Buffer, position: number): void {
  for (let done = 0; done < data.length;) {
    done += writeSync(fd, data, done, data.length - done, position + done);
  }
}
