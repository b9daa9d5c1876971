import { lstat, mkdir, realpath } from 'node:fs/promises';
import { basename, dirname, join, sep } from 'node:path';
import { FileSystemError, UnsafePathError } from '../errors.js';
import { printableName, validateName } from '../protocol/index.js';

export interface DownloadPaths {
  final: string;
  part: string;
  /** Hidden beside the .part: `.NAME.xfer`. */
  state: string;
}

/**
 * The download folder (data/ or --out) and where each file from the server
 * lands in it. A name is validated like every wire name (no `..`, no absolute
 * path, no backslash, no control chars), then the folder it lands in is
 * resolved and must still lie inside the download folder: a symlinked
 * subfolder planted there cannot redirect the write.
 *
 * Folders found safe are remembered until `recheck()`, which the session calls
 * before each batch of names: thousands of small files in one folder then cost
 * one check, not a realpath walk each.
 */
export class DownloadFolder {
  private real: string | undefined;
  private readonly checked = new Set<string>();

  constructor(readonly path: string) {}

  recheck(): void {
    this.real = undefined;
    this.checked.clear();
  }

  async paths(name: string): Promise<DownloadPaths> {
    try {
      validateName(name);
    } catch (err) {
      throw new UnsafePathError((err as Error).message);
    }
    const root = await this.root();
    const final = join(root, ...name.split('/'));
    const folder = dirname(final);
    if (folder !== root && !this.checked.has(folder)) {
      await mkdir(folder, { recursive: true });
      const folderReal = await realpath(folder);
      if (folderReal !== folder || !folderReal.startsWith(root + sep)) {
        throw new UnsafePathError(
          `Refusing to write "${printableName(name)}": its folder leads outside ${this.path}.`,
        );
      }
      this.checked.add(folder);
    }
    return { final, part: `${final}.part`, state: join(folder, `.${basename(final)}.xfer`) };
  }

  /** The folder's real path, created if missing. */
  private async root(): Promise<string> {
    if (this.real !== undefined) return this.real;
    try {
      await mkdir(this.path, { recursive: true });
      this.real = await realpath(this.path);
    } catch (err) {
      throw new FileSystemError(
        `${this.path} cannot be used as the download folder (${(err as NodeJS.ErrnoException).code ?? (err as Error).message}); make it a writable folder.`,
        { cause: err },
      );
    }
    return this.real;
  }
}

/** True when `path` exists and is a symlink (which xfer never follows nor writes through). */
export async function isSymlink(path: string): Promise<boolean> {
  try {
    return (await lstat(path)).isSymbolicLink();
  } catch {
    return false;
  }
}
