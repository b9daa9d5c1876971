import type { BigIntStats } from 'node:fs';
import { lstat, readdir, realpath, stat } from 'node:fs/promises';
import { join, sep } from 'node:path';
import type { XferError } from '../errors.js';
import { printableName, validateName } from '../protocol/index.js';

/** A listed file: its wire name and where it really lives (no symlink left in the path). */
export interface FileRecord {
  name: string;
  realPath: string;
  size: number;
  mtimeUs: number;
  versionKey: string;
}

/**
 * File-system errors that say "not now" rather than "not there": out of
 * descriptors or memory. A scan that meets one is incomplete, so it must not
 * replace a good catalog; an open that meets one is worth retrying.
 */
const TEMPORARY_ERRNOS: ReadonlySet<string> = new Set(['EMFILE', 'ENFILE', 'ENOMEM', 'EAGAIN']);

export function isTemporaryFsError(err: unknown): boolean {
  return TEMPORARY_ERRNOS.has((err as NodeJS.ErrnoException | undefined)?.code ?? '');
}

const NS_PER_US = 1000n;

/** A file's modification time in whole microseconds, as the protocol carries it. */
export function mtimeMicros(st: Pick<BigIntStats, 'mtimeNs'>): number {
  return Number(st.mtimeNs / NS_PER_US);
}

/** True when fstat still shows the version a file was opened as (size and mtime). */
export function sameVersion(
  st: Pick<BigIntStats, 'size' | 'mtimeNs'>,
  file: { size: number; mtimeUs: number },
): boolean {
  return Number(st.size) === file.size && mtimeMicros(st) === file.mtimeUs;
}

export function versionKey(dev: bigint, ino: bigint, size: number, mtimeUs: number): string {
  return `${dev}:${ino}:${size}:${mtimeUs}`;
}

/** True when `path` lies strictly inside the folder `rootReal` (both real paths). */
export function isInside(rootReal: string, path: string): boolean {
  return path.startsWith(rootReal + sep);
}

/**
 * Every publishable file under `rootReal`, sorted by name. Dotfiles and
 * `.part` files are skipped, names the protocol would refuse are reported
 * through `warn` and skipped, symlinks are followed only while they stay
 * inside. Throws on a temporary failure (see isTemporaryFsError): a partial
 * listing would look like files were deleted.
 */
export async function scanResources(
  rootReal: string,
  warn: (message: string) => void,
): Promise<Map<string, FileRecord>> {
  const found = new Map<string, FileRecord>();
  await walk(rootReal, '', new Set([rootReal]), { rootReal, warn, out: found });
  return new Map([...found.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
}

interface Walk {
  rootReal: string;
  warn: (message: string) => void;
  out: Map<string, FileRecord>;
}

async function walk(dir: string, prefix: string, visited: Set<string>, w: Walk): Promise<void> {
  let dirents;
  try {
    dirents = await readdir(dir, { withFileTypes: true });
  } catch (err) {
    if (isTemporaryFsError(err)) throw err;
    return; // removed or unreadable since it was listed
  }
  for (const d of dirents) {
    // Dotfiles and partial downloads are never published.
    if (d.name.startsWith('.') || d.name.endsWith('.part')) continue;
    const name = prefix ? `${prefix}/${d.name}` : d.name;
    try {
      validateName(name);
    } catch (err) {
      w.warn(`Not listing ${JSON.stringify(printableName(name))}: ${(err as XferError).message}`);
      continue;
    }
    const full = join(dir, d.name);
    try {
      let st = await lstat(full, { bigint: true });
      let real = full;
      if (st.isSymbolicLink()) {
        real = await realpath(full);
        if (!isInside(w.rootReal, real)) {
          w.warn(`Not listing "${printableName(name)}": it links outside resources/.`);
          continue;
        }
        st = await stat(real, { bigint: true });
      }
      if (st.isDirectory()) {
        if (visited.has(real)) continue; // a symlink loop or a second link to the same folder
        visited.add(real);
        await walk(real, name, visited, w);
      } else if (st.isFile()) {
        const size = Number(st.size);
        const mtimeUs = mtimeMicros(st);
        w.out.set(name, {
          name,
          realPath: real,
          size,
          mtimeUs,
          versionKey: versionKey(st.dev, st.ino, size, mtimeUs),
        });
      }
    } catch (err) {
      if (isTemporaryFsError(err)) throw err;
      // Vanished between readdir and stat, or a dangling link: not listed.
    }
  }
}
