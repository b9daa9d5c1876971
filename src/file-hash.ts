import { createHash } from 'node:crypto';
import type { FileHandle } from 'node:fs/promises';

/** Large sequential reads: the cost of hashing is then the hash, not the syscalls. */
const READ_SIZE = 4 * 1024 * 1024;

/**
 * Reads bytes [start, end) of an open file in large chunks, in order. The
 * chunk passed to `visit` is reused: copy it to keep it. Throws if the file is
 * shorter than `end` (it changed under us).
 */
export async function forEachChunk(
  fh: FileHandle,
  start: number,
  end: number,
  visit: (chunk: Buffer) => void,
): Promise<void> {
  const buf = Buffer.allocUnsafe(Math.max(1, Math.min(READ_SIZE, end - start)));
  for (let pos = start; pos < end;) {
    const { bytesRead } = await fh.read(buf, 0, Math.min(buf.length, end - pos), pos);
    if (bytesRead === 0) throw new Error(`the file is shorter than expected (ends at ${pos}, not ${end})`);
    visit(buf.subarray(0, bytesRead));
    pos += bytesRead;
  }
}

/** SHA-256 of bytes [start, end) of an open file. */
export async function sha256Range(fh: FileHandle, start: number, end: number): Promise<Buffer> {
  const hash = createHash('sha256');
  await forEachChunk(fh, start, end, (chunk) => hash.update(chunk));
  return hash.digest();
}
