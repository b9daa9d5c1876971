import { constants } from 'node:fs';
import { access, mkdir } from 'node:fs/promises';
import { ReadOnlyFolderError } from '../errors.js';

/** A folder the files cannot be written to is one clear failure up front, not an EACCES per file. */
export async function ensureWritable(dir: string, flag: string): Promise<void> {
  try {
    await mkdir(dir, { recursive: true });
    await access(dir, constants.W_OK);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code !== 'EACCES' && code !== 'EPERM' && code !== 'EROFS') throw err;
    const why = code === 'EROFS' ? 'its file system is read-only' : 'permission denied';
    throw new ReadOnlyFolderError(
      `Cannot write to ${dir} (${why}): fix its permissions or choose another folder with ${flag}.`,
      { cause: err },
    );
  }
}
