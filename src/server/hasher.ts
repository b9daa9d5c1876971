import { createHash } from 'node:crypto';
import type { FileHandle } from 'node:fs/promises';
import { forEachChunk } from '../file-hash.js';
import { pieceSizeFor } from '../protocol/index.js';

export interface FileHashes {
  sha256: Buffer;
  pieceSize: number;
  pieces: Buffer[];
}

/** SHA-256 of the whole file and of every piece, in one pass over `size` bytes. */
export async function hashFile(fh: FileHandle, size: number): Promise<FileHashes> {
  const pieceSize = pieceSizeFor(size);
  const whole = createHash('sha256');
  const pieces: Buffer[] = [];
  let piece = createHash('sha256');
  let inPiece = 0;
  await forEachChunk(fh, 0, size, (chunk) => {
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
  });
  if (inPiece > 0) pieces.push(piece.digest());
  return { sha256: whole.digest(), pieceSize, pieces };
}
