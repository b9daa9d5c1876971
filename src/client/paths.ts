import { createHash } from 'node:crypto';
import { lstat, mkdir, realpath } from 'node:fs/promises';
import { dirname, join, sep } from 'node:path';
import { FileSystemError, UnsafePathError } from '../errors.js';
import { printableName, validateName } from '../protocol/index.js';

export interface DownloadPaths {
  final: string;
  /** `.xfer/HASH.part`: the bytes being fetched, renamed to `final` once verified. */
  part: string;
  /** `.xfer/HASH.state`: what a resume needs (resume-state.ts). */
  state: string;
}

/**
 * The client's own files (partials, resume state) live in this folder at the
 * top of the download folder, named by the SHA-256 of the file's name. A name
 * with a `.xfer` segment is never downloaded, so nothing a server lists can
 * reach them, and two names never share a partial: collisions are impossible
 * by construction. The hashed names are also short, whatever the file's name.
 */
export const BOOKKEEPING_FOLDER = '.xfer';

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
  private bookkeeping: string | undefined;
  private readonly checked = new Set<string>();

  constructor(readonly path: string) {}

  recheck(): void {
    this.real = undefined;
    this.bookkeeping = undefined;
    this.checked.clear();
  }

  async paths(name: string): Promise<DownloadPaths> {
    try {
      validateName(name);
    } catch (err) {
      throw new UnsafePathError((err as Error).message);
    }
    if (name.split('/').some((segment) => segment.toLowerCase() === BOOKKEEPING_FOLDER)) {
      throw new UnsafePathError(
        `Refusing to download "${printableName(name)}": ${BOOKKEEPING_FOLDER} is where xfer keeps its own files.`,
      );
    }
    const root = await this.root();
    const own = await this.bookkeepingFolder(root);
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
    const key = createHash('sha256').update(name).digest('hex');
    return { final, part: join(own, `${key}.part`), state: join(own, `${key}.state`) };
  }

  /** `ROOT/.xfer`, created if missing; a symlink or a file planted there is refused. */
  private async bookkeepingFolder(root: string): Promise<string> {
    if (this.bookkeeping !== undefined) return this.bookkeeping;
    const path = join(root, BOOKKEEPING_FOLDER);
    await mkdir(path, { recursive: true, mode: 0o700 }).catch(() => undefined);
    const st = await lstat(path).catch((err: unknown) => {
      throw new FileSystemError(`Cannot create ${path}: ${(err as Error).message}`, { cause: err });
    });
    if (!st.isDirectory()) {
      throw new UnsafePathError(
        `${path} is not a folder (a symlink or a file); xfer keeps its partial downloads there. Remove it and run again.`,
      );
    }
    this.bookkeeping = path;
    return path;
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
