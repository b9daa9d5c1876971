import { createHash } from 'node:crypto';
import { constants as fsc } from 'node:fs';
import { open, type FileHandle } from 'node:fs/promises';
import { FileSystemError } from './errors.js';

/** Large sequential reads: the cost of hashing is then the hash, not the syscalls. */
const READ_SIZE = 4 * 1024 * 1024;

/**
 * Reads bytes [start, end) of an open file in large chunks, in order. Two
 * buffers alternate, so the next read runs on the thread pool while `visit`
 * (a hash update) works on the current chunk. The chunk passed to `visit` is
 * reused: copy it to keep it. Throws if the file is shorter than `end`.
 */
export async function forEachChunk(
  fh: FileHandle,
  start: number,
  end: number,
  visit: (chunk: Buffer) => void,
  readSize = READ_SIZE,
): Promise<void> {
  const size = Math.max(1, Math.min(readSize, end - start));
  const buffers = [Buffer.allocUnsafe(size), Buffer.allocUnsafe(size)] as const;
  const readAt = (pos: number, i: number) => fh.read(buffers[i % 2]!, 0, Math.min(size, end - pos), pos);
  let pos = start;
  let i = 0;
  let pending = pos < end ? readAt(pos, i) : undefined;
  while (pending) {
    const { bytesRead } = await pending;
    if (bytesRead === 0)
      throw new FileSystemError(`The file is shorter than expected (it ends at ${pos}, not ${end}).`);
    const chunk = buffers[i % 2]!.subarray(0, bytesRead);
    pos += bytesRead;
    i++;
    pending = pos < end ? readAt(pos, i) : undefined;
    visit(chunk);
  }
}

/** SHA-256 of bytes [start, end) of an open file. */
export async function sha256Range(fh: FileHandle, start: number, end: number): Promise<Buffer> {
  const hash = createHash('sha256');
  await forEachChunk(fh, start, end, (chunk) => hash.update(chunk));
  return hash.digest();
}

/**
 * Whether `path` is a regular file (not followed through a symlink) of
 * `size` bytes whose SHA-256 is `sha256`: a copy already in place.
 */
export async function holdsVersion(path: string, size: number, sha256: Buffer): Promise<boolean> {
  let fh;
  try {
    fh = await open(path, fsc.O_RDONLY | fsc.O_NOFOLLOW);
  } catch {
    return false;
  }
  try {
    const st = await fh.stat();
    return st.isFile() && st.size === size && (await sha256Range(fh, 0, st.size)).equals(sha256);
  } finally {
    await fh.close();
  }
}
