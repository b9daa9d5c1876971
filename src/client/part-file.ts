import { constants as fsc, writeSync } from 'node:fs';
import { lstat, open, statfs, type FileHandle } from 'node:fs/promises';
import { dirname } from 'node:path';
import { DiskFullError, UnsafePathError, toXferError } from '../errors.js';
import { printableName } from '../protocol/index.js';

/**
 * The `.part` file a download writes into: opened without following a symlink,
 * sized up front, and written at each byte's final offset (no temp part files,
 * no concatenation pass). Its size comes from the server, so the disk is
 * asked first whether it has room: a claimed terabyte is refused before a
 * single block, or a sparse file of that size, is left behind.
 */
export class PartFile {
  private constructor(readonly fh: FileHandle) {}

  /** `name` is the file's name, for the message when it does not fit. */
  static async open(path: string, size: number, name: string): Promise<PartFile> {
    await ensureRoom(path, size, name);
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
    return new PartFile(fh);
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

/** Refuses a file that would not fit in the free space left (counting the blocks its partial already holds). */
async function ensureRoom(path: string, size: number, name: string): Promise<void> {
  let fs;
  try {
    fs = await statfs(dirname(path));
  } catch {
    return; // a file system that cannot say: the writes themselves will tell
  }
  const held = await lstat(path).then(
    (st) => st.blocks * 512,
    () => 0,
  );
  const free = fs.bavail * fs.bsize;
  if (size - held > free) {
    throw new DiskFullError(
      `"${printableName(name)}" needs ${size - held} more bytes on disk, and only ${free} are free; nothing was written.`,
    );
  }
}
