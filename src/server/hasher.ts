import { createHash } from 'node:crypto';
import type { FileHandle } from 'node:fs/promises';
import { pieceSizeFor } from '../protocol/index.js';

export interface FileHashes {
  sha256: Buffer;
  pieceSize: number;
  pieces: Buffer[];
}

/** Large sequential reads: the cost of hashing is then the hash, not the syscalls. */
const READ_SIZE = 4 * 1024 * 1024;

/**
 * SHA-256 of the whole file and of every piece, in one pass over `size` bytes.
 * Throws if the file is shorter than `size` (it changed under us).
 */
export async function hashFile(fh: FileHandle, size: number): Promise<FileHashes> {
  const pieceSize = pieceSizeFor(size);
  const whole = createHash('sha256');
  const pieces: Buffer[] = [];
  let piece = createHash('sha256');
  let inPiece = 0;
  const buf = Buffer.allocUnsafe(Math.min(READ_SIZE, Math.max(size, 1)));
  for (let pos = 0; pos < size;) {
    const { bytesRead } = await fh.read(buf, 0, Math.min(buf.length, size - pos), pos);
    if (bytesRead === 0) throw new Error(`file shrank while hashing (at ${pos} of ${size} bytes)`);
    const chunk = buf.subarray(0, bytesRead);
    whole.update(chunk);
    for (let off = 0; off < chunk.length;) {
      const take = Math.min(pieceSize - inPiece, chunk.length - off);
      piece.update(chunk.subarray(off, off + take));
      off += take;
      inPiece += take;
      if (inPiece === pieceSize) {
        pieces.push(piece.digest());
        piece = createHash('sha256');
        inPiece = 0;
      }
    }
    pos += bytesRead;
  }
  if (inPiece > 0) pieces.push(piece.digest());
  return { sha256: whole.digest(), pieceSize, pieces };
}
