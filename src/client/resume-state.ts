import { open, rename, rm } from 'node:fs/promises';
import type { FileIdentity } from '../protocol/index.js';

/**
 * What survives a crash beside `NAME.part`: which file it is (so a changed
 * source restarts cleanly) and which pieces were fully written. Pieces listed
 * here are still re-hashed before being trusted, so a torn write or a power
 * loss can cost work but never correctness.
 */
export interface ResumeState {
  size: number;
  mtimeUs: number;
  sha256: string;
  pieceSize: number;
  /** Bitfield of written pieces, base64. */
  done: string;
  /** A web file's URL and version (ETag, else Last-Modified and size): another one restarts the file. */
  origin?: string;
}

const MAX_STATE_BYTES = 64 * 1024;

export function sameIdentity(
  state: ResumeState,
  id: FileIdentity,
  pieceSize: number,
  origin?: string,
): boolean {
  return (
    state.origin === origin &&
    state.size === id.size &&
    state.mtimeUs === id.mtimeUs &&
    state.sha256 === id.sha256.toString('hex') &&
    state.pieceSize === pieceSize
  );
}

/**
 * Reads a state file; anything missing, too large, unparsable or inconsistent
 * yields `undefined` ("start over"), never an exception.
 */
export async function loadResumeState(path: string): Promise<ResumeState | undefined> {
  let text: string;
  try {
    const fh = await open(path, 'r');
    try {
      if ((await fh.stat()).size > MAX_STATE_BYTES) return undefined;
      text = await fh.readFile('utf8');
    } finally {
      await fh.close();
    }
  } catch {
    return undefined;
  }
  try {
    const v = JSON.parse(text) as Partial<ResumeState>;
    const ok =
      Number.isSafeInteger(v.size) &&
      (v.size ?? -1) >= 0 &&
      Number.isSafeInteger(v.mtimeUs) &&
      typeof v.sha256 === 'string' &&
      /^[0-9a-f]{64}$/.test(v.sha256) &&
      Number.isSafeInteger(v.pieceSize) &&
      (v.pieceSize ?? 0) > 0 &&
      typeof v.done === 'string' &&
      (v.origin === undefined || typeof v.origin === 'string');
    if (!ok) return undefined;
    const state = v as ResumeState;
    if (Buffer.from(state.done, 'base64').length !== Math.ceil(Math.ceil(state.size / state.pieceSize) / 8))
      return undefined;
    return state;
  } catch {
    return undefined;
  }
}

/**
 * Atomic: temp file, fsync, rename over the old state. On a full disk the temp
 * file cannot be written, so the state is overwritten in place instead: its
 * length never changes for a given file (fixed fields, fixed-size bitfield), so
 * that needs no new blocks, and a torn write only costs a re-check.
 */
export async function saveResumeState(path: string, state: ResumeState): Promise<void> {
  const text = JSON.stringify(state);
  const tmp = `${path}.tmp`;
  try {
    const fh = await open(tmp, 'w', 0o600);
    try {
      await fh.writeFile(text);
      await fh.sync();
    } finally {
      await fh.close();
    }
    await rename(tmp, path);
  } catch (err) {
    await rm(tmp, { force: true });
    const code = (err as NodeJS.ErrnoException).code;
    if (code !== 'ENOSPC' && code !== 'EDQUOT' && code !== 'EFBIG') throw err;
    const fh = await open(path, 'r+');
    try {
      await fh.write(text, 0);
      await fh.truncate(Buffer.byteLength(text));
    } finally {
      await fh.close();
    }
  }
}

export async function removeResumeState(path: string): Promise<void> {
  await rm(path, { force: true });
  await rm(`${path}.tmp`, { force: true });
}
