import { InternalError, IntegrityError, type XferError } from '../errors.js';
import { printableName } from '../protocol/index.js';
import type { EmitEvent } from './events.js';
import type { SourceBook } from './fetch-round.js';
import type { RangeSource } from './source.js';

/**
 * One file's sources over its whole download: which were dropped (each with
 * a `source` event), which wrote each piece and how many bytes each wrote,
 * and whom to blame when bytes fail their hash.
 */
export class FileSources implements SourceBook {
  readonly dropped = new Set<RangeSource>();
  readonly pieceOwners = new Map<number, RangeSource>();
  readonly bytes = new Map<RangeSource, number>();

  constructor(
    readonly all: RangeSource[],
    private readonly fileName: string,
    private readonly emit: EmitEvent,
  ) {}

  /** The sources not dropped, in order (the primary first while it lasts). */
  get live(): RangeSource[] {
    return this.all.filter((s) => !this.dropped.has(s));
  }

  /** The source whose piece hashes judge the others' bytes: the first live one that has them. */
  get hashSource(): RangeSource {
    const live = this.live;
    const source = live.find((s) => s.capabilities.pieceHashes) ?? live[0];
    if (!source) throw new InternalError('A download needs at least one source.');
    return source;
  }

  drop(source: RangeSource, error: XferError): void {
    if (this.dropped.has(source)) return;
    this.dropped.add(source);
    this.emit({
      type: 'source',
      file: this.fileName,
      source: source.label,
      status: 'dropped',
      code: error.code,
      message: `Source ${source.label} dropped for "${printableName(this.fileName)}": ${error.message}`,
    });
  }

  /**
   * Drops each source that wrote a damaged piece, while another source is left
   * to fetch it again: bytes that failed their hash are never trusted twice.
   */
  blame(badPieces: number[]): void {
    const culprits = new Set(badPieces.map((p) => this.pieceOwners.get(p)));
    for (const source of culprits) {
      if (!source || this.live.length <= 1) continue;
      this.drop(source, new IntegrityError('it served bytes that failed their piece hash.'));
    }
  }

  /**
   * Without piece hashes a failed whole-file check cannot tell which source
   * sent the bad bytes, so none is blamed then: with several, each repair
   * fetches the whole file from one source alone, the first live one, then
   * the next, so one bad source cannot spoil every attempt.
   */
  repairSource(round: number): RangeSource | undefined {
    const live = this.live;
    return live.length > 1 ? live[round % live.length] : undefined;
  }

  /** Sources that a repair without piece hashes showed to have served bad bytes: named, and not used again. */
  exposeLiars(liars: Set<RangeSource>): void {
    for (const source of liars) {
      this.drop(source, new IntegrityError('it served bytes that differ from the verified file.'));
    }
  }
}
