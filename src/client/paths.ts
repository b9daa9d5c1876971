import { lstat, mkdir, realpath } from 'node:fs/promises';
import { basename, dirname, join, sep } from 'node:path';
import { FileError } from '../errors.js';
import { printableName, validateName } from '../protocol/index.js';

export interface DownloadPaths {
  final: string;
  part: string;
  /** Hidden beside the .part: `.NAME.xfer`. */
  state: string;
}

/**
 * Where a file from the server lands under data/. The name is validated like
 * every wire name (no `..`, no absolute path, no backslash, no control chars),
 * then the folder it lands in is resolved and must still lie inside data/:
 * a symlinked subfolder planted in data/ cannot redirect the write.
 */
export async function downloadPaths(dataDir: string, name: string): Promise<DownloadPaths> {
  try {
    validateName(name);
  } catch (err) {
    throw new FileError('ERR_XFER_UNSAFE_PATH', (err as Error).message);
  }
  const dataReal = await realpath(dataDir);
  const final = join(dataReal, ...name.split('/'));
  const folder = dirname(final);
  if (folder !== dataReal) {
    await mkdir(folder, { recursive: true });
    const folderReal = await realpath(folder);
    if (folderReal !== folder || !folderReal.startsWith(dataReal + sep)) {
      throw new FileError(
        'ERR_XFER_UNSAFE_PATH',
        `Refusing to write "${printableName(name)}": its folder leads outside data/.`,
      );
    }
  }
  return { final, part: `${final}.part`, state: join(folder, `.${basename(final)}.xfer`) };
}

/** True when `path` exists and is a symlink (which xfer never follows nor writes through). */
export async function isSymlink(path: string): Promise<boolean> {
  try {
    return (await lstat(path)).isSymbolicLink();
  } catch {
    return false;
  }
}
