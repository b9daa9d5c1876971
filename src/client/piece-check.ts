import { createHash, type Hash } from 'node:crypto';
import { pieceCount, pieceRange } from '../protocol/index.js';
import type { RemoteFile } from './download.js';
import type { PieceHashes } from './source.js';

/** A piece being hashed from the bytes one lane writes, in order. */
interface Running {
  piece: number;
  /** The file offset of the next byte the hash expects. */
  next: number;
  hash: Hash;
}

/**
 * Checks each piece as it lands, when a file comes from several sources: a
 * source that serves a bad piece is caught at that piece, not by the
 * whole-file hash at the end (which would cost a second pass over the file
 * and a repair round). A lane's bytes arrive in file order from a piece
 * boundary (blocks, steals and takeovers all start on one), so each piece is
 * hashed from the bytes as they are written, never read back. A piece whose
 * bytes did not all pass through one lane in order (a gap after a failed
 * write) is not judged here: the whole-file check still covers it.
 */
export class PieceCheck {
  private readonly running = new Map<number, Running>();

  constructor(
    /** The trusted piece hashes, under the file's identity. */
    private readonly hashes: Buffer[],
    private readonly pieceSize: number,
    private readonly size: number,
  ) {}

  /** A check of `file` by `remote`'s hashes, if they are for its version and its pieces (else none). */
  static of(remote: PieceHashes | undefined, file: RemoteFile): PieceCheck | undefined {
    const { identity, pieceSize } = file;
    if (
      !remote ||
      remote.pieceSize !== pieceSize ||
      remote.hashes.length !== pieceCount(identity.size, pieceSize) ||
      !remote.identity.sha256.equals(identity.sha256)
    )
      return undefined;
    return new PieceCheck(remote.hashes, pieceSize, identity.size);
  }

  /** Lane `lane` wrote `chunk` at `position`: returns the pieces it completed that failed their hash. */
  wrote(lane: number, chunk: Buffer, position: number): number[] {
    const bad: number[] = [];
    const end = position + chunk.length;
    for (let at = position; at < end;) {
      const piece = Math.floor(at / this.pieceSize);
      const range = pieceRange(piece, this.size, this.pieceSize);
      const upTo = Math.min(end, range.end);
      let run = this.running.get(lane);
      if (!run || run.piece !== piece || run.next !== at) {
        run = at === range.start ? { piece, next: at, hash: createHash('sha256') } : undefined;
        if (run) this.running.set(lane, run);
        else this.running.delete(lane);
      }
      if (run) {
        run.hash.update(chunk.subarray(at - position, upTo - position));
        run.next = upTo;
        if (upTo === range.end) {
          this.running.delete(lane);
          const expected = this.hashes[piece];
          if (expected && !run.hash.digest().equals(expected)) bad.push(piece);
        }
      }
      at = upTo;
    }
    return bad;
  }
}
