import { rename } from 'node:fs/promises';
import { IntegrityError, NoProgressError, UnsafePathError, toXferError, type XferError } from '../errors.js';
import { sha256Range } from '../file-hash.js';
import { printableName, type FileIdentity } from '../protocol/index.js';
import type { DownloadProgress, EmitEvent } from './events.js';
import { PartFile } from './part-file.js';
import { PieceCheck } from './piece-check.js';
import { PieceWitness } from './piece-witness.js';
import { FileSources } from './source-book.js';
import { isSymlink, type DownloadPaths } from './paths.js';
import { PrefixHasher } from './prefix-hasher.js';
import { FetchRound } from './fetch-round.js';
import { connectionsFor, planRanges } from './range-plan.js';
import { ResumeLedger } from './resume-ledger.js';
import { abortError, type RetryPolicy } from './retry.js';
import { splitIntoBlocks } from './scheduler.js';
import type { PieceHashes, RangeSource } from './source.js';

/** What the client knows of a file before fetching it. */
export interface RemoteFile {
  name: string;
  identity: FileIdentity;
  pieceSize: number;
  /** `size`: no SHA-256 is known (a web file without digest or checksum): the size is all that is checked. */
  verify?: 'sha256' | 'size';
  /** Where a web file came from and which version (kept in the resume state). */
  origin?: string;
}

export interface DownloadOptions {
  /**
   * Where the bytes come from, all agreeing on the file's size and SHA-256: the
   * first is the primary (its piece hashes judge the others' bytes); several
   * share the work, and one that fails or serves bad bytes is dropped.
   */
  sources: RangeSource[];
  /** Where the file lands (`DownloadFolder.paths`), already checked to lie inside data/. */
  paths: DownloadPaths;
  file: RemoteFile;
  policy: RetryPolicy;
  signal: AbortSignal;
  emit: EmitEvent;
}

export interface DownloadResult {
  sha256: string;
  /** Bytes received over the network for this file (re-sent bytes included). */
  bytesTransferred: number;
}

/**
 * Connections take work in blocks of this size, in file order, so the written
 * prefix of the file grows at download speed and can be hashed meanwhile. One
 * request (REQUEST_BYTES) per block: smaller blocks keep the hashed prefix
 * closer behind the download (8 MiB left up to 150 MiB of a 256 MiB file to
 * hash after its last byte), and more requests per file would cost an
 * HTTP range connection a round trip each.
 */
const BLOCK_BYTES = 4 * 1024 * 1024;
/** From this size on the SHA-256 is computed by a worker thread during the download. */
const OVERLAPPED_HASH_MIN_BYTES = 128 * 1024 * 1024;
/** How many rounds of "re-fetch the bad pieces" before a file is rejected as corrupt. */
export const MAX_REPAIR_ROUNDS = 2;

/**
 * One file's life: resumed pieces checked (ResumeLedger), the missing ones
 * fetched from its sources over up to 4 connections straight into
 * `NAME.part` (FetchRound), the whole file verified (size and SHA-256, hashed
 * by a worker during the download when large), damaged pieces fetched again,
 * then renamed to `NAME`.
 */
export class FileDownload {
  private readonly o: DownloadOptions;
  private readonly ledger: ResumeLedger;
  private file!: PartFile;
  private round: FetchRound | undefined;
  private bytesTransferred = 0;
  /** Bytes verified on disk before this round's transfers (not counted for speed). */
  private resumedBytes = 0;
  private hasher: PrefixHasher | undefined;
  /** How many pieces from the start of the file are written without a gap. */
  private prefixPieces = 0;
  private readonly book: FileSources;
  /** The trusted piece hashes, fetched once for checking pieces as they land (several sources only). */
  private pieceHashes: Promise<PieceHashes | undefined> | undefined;
  /** Set for a repair without piece hashes: the one source it fetches from (see `repairSource`). */
  private solo: RangeSource | undefined;

  constructor(options: DownloadOptions) {
    this.o = options;
    this.ledger = new ResumeLedger(options.file, options.paths, options.emit);
    this.book = new FileSources(options.sources, options.file.name, options.emit);
  }

  private get liveSources(): RangeSource[] {
    return this.book.live;
  }

  get name(): string {
    return this.o.file.name;
  }

  private get hashSource(): RangeSource {
    return this.book.hashSource;
  }

  progress(): DownloadProgress {
    const size = this.o.file.identity.size;
    const lanes = this.round?.scheduler.lanes ?? [];
    const inParts = lanes.reduce((n, l) => n + l.done, 0);
    // Blocks not yet taken are counted as an even share of each connection's total,
    // so every bar runs from 0 to 100 % and is exact once the queue is empty.
    const queued = Math.round((this.round?.scheduler.queuedBytes ?? 0) / Math.max(1, lanes.length));
    return {
      bytes: Math.min(size, this.resumedBytes + inParts),
      total: size,
      resumedBytes: this.resumedBytes,
      parts: lanes.map((l) => ({
        part: l.index,
        bytes: l.done,
        total: l.assigned + queued,
        source: this.round?.sourceOf(l.index)?.label ?? '',
      })),
      sources: this.o.sources.map((s) => ({ source: s.label, bytes: this.book.bytes.get(s) ?? 0 })),
    };
  }

  async run(): Promise<DownloadResult> {
    const { size, sha256 } = this.o.file.identity;
    const { paths } = this.o;
    if (await isSymlink(paths.part)) {
      throw new UnsafePathError(
        `${paths.part} is a symlink; refusing to write through it. Remove it and run again.`,
      );
    }
    await this.ledger.load();
    this.file = await PartFile.open(paths.part, size, this.name);
    try {
      this.resumedBytes = await this.ledger.verifyClaimed(this.file.fh, this.hashSource);
      // Written before any data, so the state file has its disk space even if the disk fills up later.
      await this.ledger.save();
      if (size >= OVERLAPPED_HASH_MIN_BYTES) {
        this.hasher = new PrefixHasher(paths.part, size);
        this.advancePrefix();
      }
      // What the bytes on disk hash to: the expected SHA-256, or (size-only) what was computed.
      let result = sha256;
      let witness: PieceWitness | undefined;
      for (let round = 0; ; round++) {
        await this.fetchMissing(round === 0);
        // After a repair the pieces behind the prefix changed: hash the whole file again.
        const digest =
          this.hasher && round === 0 ? await this.hasher.digest() : await sha256Range(this.file.fh, 0, size);
        this.hasher = undefined;
        if (this.o.file.verify === 'size' || digest.equals(sha256)) {
          result = digest;
          if (witness) this.book.exposeLiars(await witness.liars(this.file.fh));
          break;
        }
        if (round >= MAX_REPAIR_ROUNDS) {
          throw new IntegrityError(
            `"${printableName(this.name)}" failed SHA-256 verification after ${round} repair attempts; it was not saved.`,
          );
        }
        const judged = this.hashSource.capabilities.pieceHashes;
        if (!judged && this.liveSources.length > 1) {
          const { pieceSize } = this.o.file;
          witness = await PieceWitness.record(this.file.fh, size, pieceSize, this.book.pieceOwners);
        }
        const bad = await this.ledger.dropDamaged(this.file.fh, this.hashSource);
        if (judged) this.book.blame(bad);
        this.solo = judged ? undefined : this.book.repairSource(round);
        this.resumedBytes = this.ledger.bytes();
        const from = this.solo ? `, from ${this.solo.label} alone` : '';
        this.o.emit({
          type: 'repair',
          file: this.name,
          pieces: bad.length,
          message: `${bad.length} damaged piece${bad.length === 1 ? '' : 's'} of "${printableName(this.name)}" will be fetched again${from}.`,
        });
      }
      await this.finish();
      return { sha256: result.toString('hex'), bytesTransferred: this.bytesTransferred };
    } catch (err) {
      const e = toXferError(this.o.signal.aborted ? abortError() : err);
      await this.afterFailure(e);
      throw e;
    } finally {
      this.hasher?.stop();
      await this.file.close().catch(() => undefined);
    }
  }

  /** Tells the hashing worker how far the file is written without a gap. */
  private advancePrefix(): void {
    if (!this.hasher) return;
    const { pieces } = this.ledger;
    while (this.prefixPieces < pieces.count && pieces.has(this.prefixPieces)) this.prefixPieces++;
    this.hasher.advance(Math.min(this.prefixPieces * this.o.file.pieceSize, this.o.file.identity.size));
  }

  /**
   * Fetches every piece not on disk; when a source is dropped mid-round and
   * the others had already finished, what it left goes to another round.
   */
  private async fetchMissing(first: boolean): Promise<void> {
    for (let announce = first; ; announce = false) {
      const dropped = this.book.dropped.size;
      if (this.liveSources.length === 0) {
        throw new NoProgressError(
          `Every source of "${printableName(this.name)}" was dropped; it was not saved. Check the sources and run again.`,
        );
      }
      await this.fetchRound(announce);
      if (this.book.dropped.size === dropped || this.ledger.pieces.size >= this.ledger.pieces.count) return;
    }
  }

  /** One round over up to 4 connections per source, spread across the live sources. */
  private async fetchRound(first: boolean): Promise<void> {
    const { size } = this.o.file.identity;
    const { pieceSize } = this.o.file;
    const ranged = (this.solo ? [this.solo] : this.liveSources).filter((s) => s.capabilities.ranges);
    // A source that cannot serve ranges sends the whole file, from its first byte, on one connection.
    const wholeOnly = ranged.length === 0;
    const channels = wholeOnly
      ? [{ source: this.solo ?? this.hashSource, slot: 0 }]
      : ranged.flatMap((s) => channelsOf(s));
    const missing = (p: number) => wholeOnly || !this.ledger.pieces.has(p);
    const ranges = wholeOnly
      ? [{ start: 0, end: size }]
      : planRanges(size, pieceSize, missing, channels.length);
    const block = wholeOnly ? size : Math.max(pieceSize, BLOCK_BYTES - (BLOCK_BYTES % pieceSize));
    const blocks = ranges.flatMap((r) => splitIntoBlocks(r, block));
    const count = Math.min(connectionsFor(size, pieceSize, channels.length), blocks.length);
    const plan = { blocks, channels: channels.slice(0, count), wholeOnly, checks: await this.pieceCheck() };
    if (first) this.announce(blocks, plan.channels);
    if (blocks.length === 0) return;
    this.round = new FetchRound(this.o, this.file, this.ledger, plan, this.book, () => this.advancePrefix());
    try {
      await this.round.run();
    } finally {
      this.bytesTransferred += this.round.bytesTransferred;
    }
  }

  /**
   * With several sources, each piece is checked as it lands against the
   * hash source's piece hashes (the primary's while it lasts), so a source
   * serving bad bytes is dropped at its first bad piece. Without piece hashes
   * (or if they cannot be had) only the whole-file check judges.
   */
  private async pieceCheck(): Promise<PieceCheck | undefined> {
    const source = this.hashSource;
    if (this.liveSources.length < 2 || !source.capabilities.pieceHashes) return undefined;
    this.pieceHashes ??= source.pieces().catch(() => undefined);
    return PieceCheck.of(await this.pieceHashes, this.o.file);
  }

  private announce(blocks: { start: number; end: number }[], channels: { source: RangeSource }[]): void {
    const missing = blocks.reduce((n, b) => n + b.end - b.start, 0);
    const count = channels.length;
    const parts = Array.from({ length: Math.max(1, count) }, (_, part) => ({
      part,
      offset: blocks[part]?.start ?? 0,
      length: Math.round(missing / Math.max(1, count)),
      source: (channels[part]?.source ?? this.hashSource).label,
    }));
    const { size } = this.o.file.identity;
    this.o.emit({
      type: 'start',
      file: this.name,
      size,
      mode: 'ranges',
      parts,
      resumedBytes: this.resumedBytes,
    });
    // The first progress event says at once what is already there, part by part (all zero on a fresh file).
    this.o.emit({
      type: 'progress',
      file: this.name,
      bytes: this.resumedBytes,
      total: size,
      bytesPerSecond: 0,
      parts: parts.map((p) => ({ part: p.part, bytes: 0, total: p.length, source: p.source })),
      sources: this.o.sources.map((s) => ({ source: s.label, bytes: 0, bytesPerSecond: 0 })),
    });
  }

  private async finish(): Promise<void> {
    await this.ledger.settled();
    const size = (await this.file.fh.stat()).size;
    if (size !== this.o.file.identity.size) {
      throw new IntegrityError(
        `"${printableName(this.name)}" is ${size} bytes on disk, not ${this.o.file.identity.size}.`,
      );
    }
    // rename(2) replaces whatever is at the final path (a symlink included) and never follows it.
    await rename(this.o.paths.part, this.o.paths.final);
    await this.ledger.remove();
  }

  /** Keeps verified work for the next run; a corrupt or changed file leaves nothing behind. */
  private async afterFailure(e: XferError): Promise<void> {
    await this.ledger.settled();
    if (e.code === 'ERR_XFER_CORRUPT' || e.code === 'ERR_XFER_CHANGED') {
      await this.ledger.discard();
      return;
    }
    if (this.round) await this.ledger.save().catch(() => undefined);
  }
}

/** The channels a source offers for one file: (source, slot) pairs, one per connection it allows. */
function channelsOf(source: RangeSource): { source: RangeSource; slot: number }[] {
  return Array.from({ length: source.capabilities.maxConnections }, (_, slot) => ({ source, slot }));
}
