import type { FileHandle } from 'node:fs/promises';
import { sha256Range } from '../file-hash.js';
import { pieceCount, pieceRange } from '../protocol/index.js';
import type { RangeSource } from './source.js';

/**
 * What each source wrote, kept from before a repair without piece hashes:
 * the hash of every piece on disk and who wrote it. Once the repaired file
 * passes its SHA-256, its pieces are known good, so a piece whose bytes
 * changed was wrong before, and the source that wrote it served bad bytes.
 * Costs a pass over the file before the repair and one after: only paid when
 * a file from several sources failed its check and no piece hashes exist.
 */
export class PieceWitness {
  private constructor(
    private readonly before: { hash: Buffer; owner: RangeSource | undefined }[],
    private readonly size: number,
    private readonly pieceSize: number,
  ) {}

  static async record(
    fh: FileHandle,
    size: number,
    pieceSize: number,
    owners: ReadonlyMap<number, RangeSource>,
  ): Promise<PieceWitness> {
    const before = [];
    for (let p = 0; p < pieceCount(size, pieceSize); p++) {
      const { start, end } = pieceRange(p, size, pieceSize);
      before.push({ hash: await sha256Range(fh, start, end), owner: owners.get(p) });
    }
    return new PieceWitness(before, size, pieceSize);
  }

  /** After the file was verified: the sources whose pieces differed from its bytes. */
  async liars(fh: FileHandle): Promise<Set<RangeSource>> {
    const liars = new Set<RangeSource>();
    for (const [p, { hash, owner }] of this.before.entries()) {
      if (!owner || liars.has(owner)) continue;
      const { start, end } = pieceRange(p, this.size, this.pieceSize);
      if (!(await sha256Range(fh, start, end)).equals(hash)) liars.add(owner);
    }
    return liars;
  }
}
