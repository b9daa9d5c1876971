import { rm, stat, type FileHandle } from 'node:fs/promises';
import { FileChangedError, IntegrityError } from '../errors.js';
import { sha256Range } from '../file-hash.js';
import { pieceCount, pieceRange, printableName } from '../protocol/index.js';
import type { RemoteFile } from './download.js';
import type { EmitEvent } from './events.js';
import type { DownloadPaths } from './paths.js';
import { PieceSet } from './piece-set.js';
import { loadResumeState, removeResumeState, sameIdentity, saveResumeState } from './resume-state.js';
import type { RangeSource } from './source.js';

/**
 * Smaller files get no resume state: fetching one again costs less than the
 * state's own fsync, rename and unlink (which dominate a many-small-files run).
 */
const RESUMABLE_MIN_BYTES = 8 * 1024 * 1024;
/** Save resume state after this much new data, at most this often, or after the longer interval. */
const STATE_SAVE_BYTES = 1024 * 1024;
const STATE_SAVE_MIN_MS = 50;
const STATE_SAVE_MAX_MS = 1000;

/**
 * Which pieces of one download are on disk, and the resume state that keeps
 * that across runs (`DownloadPaths.state`, written atomically). Pieces a
 * state claims are trusted only after their SHA-256 matches the source's
 * piece hashes; a changed file or a partial of the wrong size starts over.
 */
export class ResumeLedger {
  readonly pieces: PieceSet;
  private lastSave = { at: 0, bytes: 0 };
  private saving: Promise<void> = Promise.resolve();

  constructor(
    private readonly file: RemoteFile,
    private readonly paths: DownloadPaths,
    private readonly emit: EmitEvent,
  ) {
    this.pieces = new PieceSet(pieceCount(file.identity.size, file.pieceSize));
  }

  get resumable(): boolean {
    return this.file.identity.size >= RESUMABLE_MIN_BYTES;
  }

  /** Reads the state and the partial beside it: the pieces they claim, or a clean start. */
  async load(): Promise<void> {
    const { file } = this;
    const state = await loadResumeState(this.paths.state);
    const partSize = await stat(this.paths.part).then(
      (s) => s.size,
      () => undefined,
    );
    if (state && sameIdentity(state, file.identity, file.pieceSize, file.origin)) {
      if (partSize === file.identity.size) {
        for (const p of new PieceSet(this.pieces.count, state.done)) this.pieces.add(p);
      }
      return;
    }
    if (state) {
      this.restart(
        `"${printableName(file.name)}" changed on the server since the last attempt; starting over.`,
      );
      await this.discard();
      return;
    }
    if (partSize === undefined) return;
    if (partSize === file.identity.size) {
      // A .part without state (written by a crash before the first save, or by an
      // older run): every piece is checked against the source's hashes.
      for (let p = 0; p < this.pieces.count; p++) this.pieces.add(p);
      return;
    }
    this.restart(
      `The partial "${printableName(file.name)}" has the wrong size and no resume state; starting over.`,
    );
    await this.discard();
  }

  /**
   * Pieces claimed by the state are trusted only once their SHA-256 matches
   * the source's; a source without piece hashes leaves that to the final
   * whole-file check. Returns the verified bytes.
   */
  async verifyClaimed(fh: FileHandle, source: RangeSource): Promise<number> {
    if (this.pieces.size === 0) return 0;
    if (source.capabilities.pieceHashes) await this.dropNotMatching(fh, source, [...this.pieces]);
    const verifiedBytes = this.bytes();
    this.emit({
      type: 'resume',
      file: this.file.name,
      verifiedBytes,
      message: `Resuming "${printableName(this.file.name)}": ${this.pieces.size} of ${this.pieces.count} pieces verified on disk.`,
    });
    return verifiedBytes;
  }

  /** After a whole-file mismatch: forgets every damaged piece (all of them without piece hashes) and returns how many. */
  async dropDamaged(fh: FileHandle, source: RangeSource): Promise<number> {
    if (!source.capabilities.pieceHashes) {
      const all = this.pieces.count;
      this.pieces.clear();
      return all;
    }
    const all = Array.from({ length: this.pieces.count }, (_, p) => p);
    const bad = await this.dropNotMatching(fh, source, all);
    if (bad === 0) {
      throw new IntegrityError(
        `The server's piece hashes for "${printableName(this.file.name)}" do not add up to its SHA-256; the file was not saved.`,
      );
    }
    return bad;
  }

  /** Bytes [from, to) of a part that began at `partStart` are written up to `partWritten`: marks its whole pieces done. */
  markWritten(from: number, to: number, partStart: number, partWritten: number, now: number): void {
    const { size } = this.file.identity;
    const ps = this.file.pieceSize;
    for (let p = Math.floor(from / ps); p * ps < to; p++) {
      const { start, end } = pieceRange(p, size, ps);
      if (start >= partStart && end <= partWritten) this.pieces.add(p);
    }
    this.maybeSave(to - from, now);
  }

  /** Restarts the save throttle (at the start of a round of fetching). */
  resetSaveClock(now: number): void {
    this.lastSave = { at: now, bytes: 0 };
  }

  save(): Promise<void> {
    if (!this.resumable) return Promise.resolve();
    const { identity, pieceSize } = this.file;
    return saveResumeState(this.paths.state, {
      size: identity.size,
      mtimeUs: identity.mtimeUs,
      sha256: identity.sha256.toString('hex'),
      pieceSize,
      done: this.pieces.toBase64(),
      ...(this.file.origin === undefined ? {} : { origin: this.file.origin }),
    });
  }

  /** Waits for a save in progress. */
  settled(): Promise<void> {
    return this.saving;
  }

  /** The file landed: its state is no longer needed. */
  async remove(): Promise<void> {
    await this.saving;
    await removeResumeState(this.paths.state);
  }

  /** Forgets everything: the partial, its state and the pieces. */
  async discard(): Promise<void> {
    await this.saving;
    await rm(this.paths.part, { force: true });
    await removeResumeState(this.paths.state);
    this.pieces.clear();
  }

  /** Bytes covered by the pieces marked done. */
  bytes(): number {
    let n = 0;
    for (const p of this.pieces) {
      const { start, end } = pieceRange(p, this.file.identity.size, this.file.pieceSize);
      n += end - start;
    }
    return n;
  }

  private maybeSave(newBytes: number, now: number): void {
    if (!this.resumable) return;
    this.lastSave.bytes += newBytes;
    const since = now - this.lastSave.at;
    if (
      (this.lastSave.bytes >= STATE_SAVE_BYTES && since >= STATE_SAVE_MIN_MS) ||
      since >= STATE_SAVE_MAX_MS
    ) {
      this.lastSave = { at: now, bytes: 0 };
      // A failed save only costs re-fetching on the next run; the download goes on.
      this.saving = this.saving.then(() => this.save()).catch(() => undefined);
    }
  }

  /** Hashes the given pieces on disk against the source's and forgets every one that does not match. */
  private async dropNotMatching(fh: FileHandle, source: RangeSource, candidates: number[]): Promise<number> {
    const remote = await source.pieces();
    const mine = this.file.identity;
    if (
      remote.identity.size !== mine.size ||
      remote.identity.mtimeUs !== mine.mtimeUs ||
      !remote.identity.sha256.equals(mine.sha256)
    ) {
      throw new FileChangedError(`"${printableName(this.file.name)}" changed on the server.`);
    }
    let dropped = 0;
    for (const p of candidates) {
      const { start, end } = pieceRange(p, mine.size, this.file.pieceSize);
      const expected = remote.hashes[p];
      if (expected && (await sha256Range(fh, start, end)).equals(expected)) continue;
      this.pieces.delete(p);
      dropped++;
    }
    return dropped;
  }

  private restart(message: string): void {
    this.emit({ type: 'restart', file: this.file.name, message });
  }
}
