import { rename, rm, stat } from 'node:fs/promises';
import type { XferError } from '../errors.js';
import {
  AbortedError,
  FileChangedError,
  IntegrityError,
  UnsafePathError,
  errorFromCode,
  toXferError,
} from '../errors.js';
import { sha256Range } from '../file-hash.js';
import { pieceCount, pieceRange, printableName, type FileIdentity } from '../protocol/index.js';
import type { ClientConnection } from './connection.js';
import type { EmitEvent, PartProgress } from './events.js';
import { PartFile } from './part-file.js';
import { PrefixHasher } from './prefix-hasher.js';
import { isSymlink, type DownloadPaths } from './paths.js';
import type { ConnectionPool } from './pool.js';
import { connectionsFor, planRanges, type ByteRange } from './range-plan.js';
import {
  PieceSet,
  loadResumeState,
  removeResumeState,
  sameIdentity,
  saveResumeState,
} from './resume-state.js';
import { backoffDelay, sleep, type RetryPolicy } from './retry.js';

/** What the client knows of a file before fetching it. */
export interface RemoteFile {
  name: string;
  identity: FileIdentity;
  pieceSize: number;
}

export interface DownloadOptions {
  pool: ConnectionPool;
  /** The pool slot this download's first connection uses (small files run side by side on different slots). */
  firstSlot?: number;
  /** Where the file lands (`DownloadFolder.paths`), already checked to lie inside data/. */
  paths: DownloadPaths;
  file: RemoteFile;
  policy: RetryPolicy;
  signal: AbortSignal;
  emit: EmitEvent;
  /** Piece hashes, fetched with STAT when verification or resume needs them. */
  fetchPieces(): Promise<{ identity: FileIdentity; pieceSize: number; hashes: Buffer[] }>;
}

export interface DownloadResult {
  sha256: string;
  /** Bytes received over the network for this file (re-sent bytes included). */
  bytesTransferred: number;
}

/** Each GET asks for this much (on piece boundaries); two are kept in flight per connection. */
const REQUEST_BYTES = 4 * 1024 * 1024;
const PIPELINE_DEPTH = 2;
/**
 * Connections take work in blocks of this size, in file order, so the written
 * prefix of the file grows at download speed and can be hashed meanwhile.
 */
const BLOCK_BYTES = 8 * 1024 * 1024;
/** From this size on the SHA-256 is computed by a worker thread during the download. */
const OVERLAPPED_HASH_MIN_BYTES = 128 * 1024 * 1024;
/**
 * Smaller files get no resume state: fetching one again costs less than the
 * state's own fsync, rename and unlink (which dominate a many-small-files run).
 */
const RESUMABLE_MIN_BYTES = 8 * 1024 * 1024;
/** Save resume state after this much new data, at most this often, or after the longer interval. */
const STATE_SAVE_BYTES = 1024 * 1024;
const STATE_SAVE_MIN_MS = 50;
const STATE_SAVE_MAX_MS = 1000;
/** A connection's speed is judged only after it has worked this long on the file. */
const HEDGE_MIN_OBSERVED_MS = 200;
/** Another connection takes over a tail only from one at most half as fast as itself. */
const HEDGE_SPEED_RATIO = 2;
/** How many rounds of "re-fetch the bad pieces" before a file is rejected as corrupt. */
export const MAX_REPAIR_ROUNDS = 2;

/** A contiguous range being fetched by one slot: [start, written) on disk, [received, cursor) in flight, [cursor, end) not yet asked for. `written` trails `received` only after a failed write. */
interface Part {
  start: number;
  written: number;
  received: number;
  cursor: number;
  end: number;
}

/** One of the (at most 4) connections working on the file. */
interface Slot {
  index: number;
  part: Part | undefined;
  /** Bytes this slot has been given in all, and has written: its 0-100 % bar. */
  assigned: number;
  done: number;
  attempts: number;
  /** A write failed (disk full, I/O error): the error to report instead of the connection's. */
  diskError: XferError | undefined;
  /** For its speed: bytes received and when the first request went out. */
  receivedBytes: number;
  since: number;
  /** Its connection was closed on purpose (its tail was taken over): not a failure. */
  cancelled: boolean;
}

/**
 * One file, fetched over up to `pool.size` connections straight into
 * `NAME.part`, verified (size and SHA-256), then renamed to `NAME`.
 *
 * Connections take piece-aligned blocks from a queue in file order, so the
 * written prefix grows at download speed and a worker hashes it meanwhile.
 * When the queue runs dry, an idle connection takes over half of the largest
 * range still not asked for (work stealing), or the tail of a much slower
 * connection (hedging), so all connections stay busy to the end.
 */
export class FileDownload {
  private readonly o: DownloadOptions;
  private readonly paths: DownloadPaths;
  private file!: PartFile;
  private pieces!: PieceSet;
  private readonly queue: ByteRange[] = [];
  private slots: Slot[] = [];
  private failure: XferError | undefined;
  private bytesTransferred = 0;
  private lastSave = { at: 0, bytes: 0 };
  private saving: Promise<void> = Promise.resolve();
  /** Bytes already verified on disk before this run's transfers. */
  private resumedBytes = 0;
  private hasher: PrefixHasher | undefined;
  /** How many pieces from the start of the file are written without a gap. */
  private prefixPieces = 0;

  constructor(options: DownloadOptions) {
    this.o = options;
    this.paths = options.paths;
  }

  get name(): string {
    return this.o.file.name;
  }

  /** Bytes of the file on disk and per part, for progress. */
  progress(): { bytes: number; total: number; parts: PartProgress[] } {
    const size = this.o.file.identity.size;
    const inParts = this.slots.reduce((n, s) => n + s.done, 0);
    // Blocks not yet taken are counted as an even share of each connection's total,
    // so every bar runs from 0 to 100 % and is exact once the queue is empty.
    const queued = Math.round(
      this.queue.reduce((n, r) => n + r.end - r.start, 0) / Math.max(1, this.slots.length),
    );
    return {
      bytes: Math.min(size, this.resumedBytes + inParts),
      total: size,
      parts: this.slots.map((s) => ({ part: s.index, bytes: s.done, total: s.assigned + queued })),
    };
  }

  async run(): Promise<DownloadResult> {
    const { file } = this.o;
    const { size, sha256 } = file.identity;
    this.pieces = new PieceSet(pieceCount(size, file.pieceSize));
    if (await isSymlink(this.paths.part)) {
      throw new UnsafePathError(
        `${this.paths.part} is a symlink; refusing to write through it. Remove it and run again.`,
      );
    }
    await this.loadResume();
    this.file = await PartFile.open(this.paths.part, size, file.name);
    try {
      await this.verifyResumedPieces();
      // Written before any data, so the state file has its disk space even if the disk fills up later.
      if (this.resumable) await this.saveState();
      this.resumedBytes = this.bytesInPieces();
      if (size >= OVERLAPPED_HASH_MIN_BYTES) {
        this.hasher = new PrefixHasher(this.paths.part, size);
        this.advancePrefix();
      }
      for (let round = 0; ; round++) {
        await this.fetchMissing(round === 0);
        // After a repair the pieces behind the prefix changed: hash the whole file again.
        const digest =
          this.hasher && round === 0 ? await this.hasher.digest() : await sha256Range(this.file.fh, 0, size);
        this.hasher = undefined;
        if (digest.equals(sha256)) break;
        if (round >= MAX_REPAIR_ROUNDS) {
          throw new IntegrityError(
            `"${printableName(file.name)}" failed SHA-256 verification after ${round} repair attempts; it was not saved.`,
          );
        }
        const bad = await this.findBadPieces();
        this.o.emit({
          type: 'repair',
          file: file.name,
          pieces: bad,
          message: `${bad} damaged piece${bad === 1 ? '' : 's'} of "${printableName(file.name)}" will be fetched again.`,
        });
      }
      await this.finish();
      return { sha256: sha256.toString('hex'), bytesTransferred: this.bytesTransferred };
    } catch (err) {
      const e = toXferError(this.o.signal.aborted ? abortError() : err);
      await this.afterFailure(e);
      throw e;
    } finally {
      this.hasher?.stop();
      await this.file.close().catch(() => undefined);
    }
  }

  private poolSlot(slot: Slot): number {
    return ((this.o.firstSlot ?? 0) + slot.index) % this.o.pool.size;
  }

  /** Tells the hashing worker how far the file is written without a gap. */
  private advancePrefix(): void {
    if (!this.hasher) return;
    while (this.prefixPieces < this.pieces.count && this.pieces.has(this.prefixPieces)) this.prefixPieces++;
    this.hasher.advance(Math.min(this.prefixPieces * this.o.file.pieceSize, this.o.file.identity.size));
  }

  private async loadResume(): Promise<void> {
    const { file } = this.o;
    const state = await loadResumeState(this.paths.state);
    const partSize = await stat(this.paths.part).then(
      (s) => s.size,
      () => undefined,
    );
    if (state && sameIdentity(state, file.identity, file.pieceSize)) {
      if (partSize === file.identity.size) {
        for (const p of iterate(new PieceSet(this.pieces.count, state.done))) this.pieces.add(p);
      }
      return;
    }
    if (state) {
      this.o.emit({
        type: 'restart',
        file: file.name,
        message: `"${printableName(file.name)}" changed on the server since the last attempt; starting over.`,
      });
      await this.discardPartial();
      return;
    }
    if (partSize === undefined) return;
    if (partSize === file.identity.size) {
      // A .part without state (written by a crash before the first save, or by an
      // older run): every piece is checked against the server's hashes below.
      for (let p = 0; p < this.pieces.count; p++) this.pieces.add(p);
      return;
    }
    this.o.emit({
      type: 'restart',
      file: file.name,
      message: `The partial "${printableName(file.name)}" has the wrong size and no resume state; starting over.`,
    });
    await this.discardPartial();
  }

  /** Pieces claimed by the resume state are trusted only once their SHA-256 matches the server's. */
  private async verifyResumedPieces(): Promise<void> {
    if (this.pieces.size === 0) return;
    await this.dropPiecesNotMatching([...iterate(this.pieces)]);
    const verifiedBytes = this.bytesInPieces();
    this.o.emit({
      type: 'resume',
      file: this.o.file.name,
      verifiedBytes,
      message: `Resuming "${printableName(this.o.file.name)}": ${this.pieces.size} of ${this.pieces.count} pieces verified on disk.`,
    });
  }

  /** After a whole-file mismatch: hash every piece, forget the bad ones, return how many. */
  private async findBadPieces(): Promise<number> {
    const bad = await this.dropPiecesNotMatching(Array.from({ length: this.pieces.count }, (_, p) => p));
    if (bad === 0) {
      throw new IntegrityError(
        `The server's piece hashes for "${printableName(this.o.file.name)}" do not add up to its SHA-256; the file was not saved.`,
      );
    }
    this.resumedBytes = this.bytesInPieces();
    return bad;
  }

  /**
   * Hashes the given pieces on disk against the server's piece hashes and
   * forgets every one that does not match. Returns how many were forgotten.
   */
  private async dropPiecesNotMatching(candidates: number[]): Promise<number> {
    const remote = await this.o.fetchPieces();
    this.checkSameFile(remote.identity);
    let dropped = 0;
    for (const p of candidates) {
      const { start, end } = pieceRange(p, this.o.file.identity.size, this.o.file.pieceSize);
      const expected = remote.hashes[p];
      if (expected && (await sha256Range(this.file.fh, start, end)).equals(expected)) continue;
      this.pieces.delete(p);
      dropped++;
    }
    return dropped;
  }

  private checkSameFile(identity: FileIdentity): void {
    const mine = this.o.file.identity;
    if (
      identity.size !== mine.size ||
      identity.mtimeUs !== mine.mtimeUs ||
      !identity.sha256.equals(mine.sha256)
    ) {
      throw new FileChangedError(`"${printableName(this.o.file.name)}" changed on the server.`);
    }
  }

  /** Fetches every piece not in `this.pieces`, over up to pool.size connections. */
  private async fetchMissing(first: boolean): Promise<void> {
    const { size } = this.o.file.identity;
    const pieceSize = this.o.file.pieceSize;
    const ranges = planRanges(size, pieceSize, (p) => !this.pieces.has(p), this.o.pool.size);
    const blocks = ranges.flatMap((r) =>
      splitIntoBlocks(r, Math.max(pieceSize, BLOCK_BYTES - (BLOCK_BYTES % pieceSize))),
    );
    const count = Math.min(connectionsFor(size, pieceSize, this.o.pool.size), blocks.length);
    if (first) {
      const missing = blocks.reduce((n, b) => n + b.end - b.start, 0);
      this.o.emit({
        type: 'start',
        file: this.o.file.name,
        size,
        parts: Array.from({ length: Math.max(1, count) }, (_, part) => ({
          part,
          offset: blocks[part]?.start ?? 0,
          length: Math.round(missing / Math.max(1, count)),
        })),
        resumedBytes: this.resumedBytes,
      });
    }
    if (blocks.length === 0) return;
    this.queue.push(...blocks);
    this.slots = Array.from({ length: count }, (_, index) => this.newSlot(index));
    this.lastSave = { at: Date.now(), bytes: 0 };
    const abort = () => this.o.pool.dropAll();
    this.o.signal.addEventListener('abort', abort, { once: true });
    try {
      const results = await Promise.allSettled(this.slots.map((slot) => this.work(slot)));
      const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
      if (this.failure) throw this.failure;
      if (failed) throw failed.reason;
      if (this.o.signal.aborted) throw abortError();
    } finally {
      this.o.signal.removeEventListener('abort', abort);
    }
  }

  private async work(slot: Slot): Promise<void> {
    while (!this.failure && !this.o.signal.aborted) {
      if (!slot.part || slot.part.received >= slot.part.end) {
        slot.part = this.nextPart(slot);
        if (!slot.part) return;
      }
      try {
        const conn = await this.o.pool.connection(this.poolSlot(slot));
        await this.fetchPart(conn, slot, slot.part);
        slot.attempts = 0;
      } catch (err) {
        // A disk error closes the connection to stop it; the disk error is the one to report.
        const e = slot.diskError ?? toXferError(err);
        if (this.o.signal.aborted || this.failure) return;
        if (slot.cancelled) {
          slot.cancelled = false;
          continue;
        }
        if (!e.retryable) {
          this.failure ??= e;
          this.o.pool.dropAll();
          throw e;
        }
        // Whatever was in flight is asked for again, from the first byte not received.
        slot.part.cursor = slot.part.received;
        this.o.pool.drop(this.poolSlot(slot));
        slot.attempts++;
        const gaveUp = giveUpAfter(this.o, slot.attempts, e);
        if (gaveUp) {
          this.failure ??= gaveUp;
          throw this.failure;
        }
        await backOff(this.o, slot.index, slot.attempts, e);
      }
    }
  }

  /** The next range from the plan, or else half of the largest range no one has asked for yet. */
  private nextPart(slot: Slot): Part | undefined {
    const range = this.queue.shift() ?? this.steal(slot);
    if (!range) return undefined;
    slot.assigned += range.end - range.start;
    return {
      start: range.start,
      written: range.start,
      received: range.start,
      cursor: range.start,
      end: range.end,
    };
  }

  /**
   * Work for an idle connection: first half of the largest range nobody has
   * asked for yet (work stealing); failing that, the tail that a much slower
   * connection still has in flight (hedging), split so both should finish
   * together. Either way a file never waits on one slow connection at the end.
   */
  private steal(thief: Slot): ByteRange | undefined {
    const pieceSize = this.o.file.pieceSize;
    const others = this.slots.filter((s): s is Slot & { part: Part } => s !== thief && s.part !== undefined);
    const unrequested = maxBy(others, (s) => s.part.end - s.part.cursor);
    if (unrequested && unrequested.part.end - unrequested.part.cursor >= 2 * pieceSize) {
      const { part } = unrequested;
      const split = alignUp(part.cursor + (part.end - part.cursor) / 2, pieceSize);
      if (split > part.cursor && split < part.end) return this.takeOver(unrequested, split);
    }
    const now = Date.now();
    const rate = (s: Slot) =>
      now - s.since >= HEDGE_MIN_OBSERVED_MS ? s.receivedBytes / (now - s.since) : undefined;
    const thiefRate = rate(thief);
    if (thiefRate === undefined || thiefRate === 0) return undefined;
    const slow = maxBy(
      others.filter((s) => {
        const r = rate(s);
        return (
          r !== undefined && r * HEDGE_SPEED_RATIO <= thiefRate && s.part.end - s.part.received >= pieceSize
        );
      }),
      (s) => s.part.end - s.part.received,
    );
    if (!slow) return undefined;
    const slowRate = rate(slow) ?? 0;
    const { part } = slow;
    // Where both would finish together, then the piece boundary on either side
    // of it that ends sooner: always rounding up could leave the slow
    // connection most of a piece more to fetch at its slow rate.
    const even = part.received + ((part.end - part.received) * slowRate) / (slowRate + thiefRate);
    const finish = (at: number) =>
      Math.max(at > part.received ? (at - part.received) / slowRate : 0, (part.end - at) / thiefRate);
    const split = [alignUp(even, pieceSize) - pieceSize, alignUp(even, pieceSize)]
      .filter((at) => at >= part.received && at < part.end)
      .reduce<number | undefined>(
        (best, at) => (best === undefined || finish(at) < finish(best) ? at : best),
        undefined,
      );
    return split === undefined ? undefined : this.takeOver(slow, split);
  }

  /** Moves [split, end) of `victim`'s part to a new part for the caller. */
  private takeOver(victim: Slot & { part: Part }, split: number): ByteRange {
    const moved = { start: split, end: victim.part.end };
    victim.part.end = split;
    victim.assigned -= moved.end - moved.start;
    return moved;
  }

  /** Fetches the rest of a part on one connection, keeping PIPELINE_DEPTH requests in flight. */
  private async fetchPart(conn: ClientConnection, slot: Slot, part: Part): Promise<void> {
    const inflight: Promise<void>[] = [];
    while (part.cursor < part.end || inflight.length > 0) {
      while (inflight.length < PIPELINE_DEPTH && part.cursor < part.end) {
        const offset = part.cursor;
        const boundary = (Math.floor(offset / REQUEST_BYTES) + 1) * REQUEST_BYTES;
        const length = Math.min(boundary, part.end) - offset;
        part.cursor += length;
        const request = this.getRange(conn, slot, part, offset, length);
        request.catch(() => undefined); // awaited below; this only keeps a second failure from going unhandled
        inflight.push(request);
      }
      await inflight.shift();
      if (this.failure) throw this.failure;
    }
  }

  private async getRange(
    conn: ClientConnection,
    slot: Slot,
    part: Part,
    offset: number,
    length: number,
  ): Promise<void> {
    await conn.get({
      name: this.name,
      offset,
      length,
      expect: this.o.file.identity,
      onChunk: (chunk, position) => {
        part.received = position + chunk.length;
        this.bytesTransferred += chunk.length;
        slot.receivedBytes += chunk.length;
        if (slot.attempts > 0) slot.attempts = 0; // bytes arrive again: the next failure starts a fresh count
        // A part whose tail was taken over keeps only its own bytes, and stops once it has them.
        const keep = Math.min(chunk.length, part.end - position);
        if (keep > 0 && !slot.diskError) {
          this.write(slot, part, keep < chunk.length ? chunk.subarray(0, keep) : chunk, position, conn);
        }
        if (part.received >= part.end && part.cursor > part.end) {
          slot.cancelled = true;
          this.o.pool.drop(this.poolSlot(slot));
        }
      },
      onLateError: (err) => {
        this.failure ??= err;
        this.o.pool.dropAll();
      },
    });
    if (slot.diskError) {
      this.failure ??= slot.diskError;
      throw slot.diskError;
    }
  }

  /**
   * Writes a chunk at its final offset at once: the chunk is the connection's
   * read buffer, reused after this call. A synchronous positional write into
   * the page cache costs less than a thread-pool round trip, and while it runs
   * the socket is not read, so TCP itself holds the server back when the disk
   * is slow. A failed write stops this connection; its error is the one reported.
   */
  private write(slot: Slot, part: Part, chunk: Buffer, position: number, conn: ClientConnection): void {
    try {
      this.file.writeSync(chunk, position);
    } catch (err) {
      slot.diskError = toXferError(err);
      conn.close();
      return;
    }
    this.onWritten(slot, part, position, position + chunk.length);
  }

  private newSlot(index: number): Slot {
    return {
      index,
      part: undefined,
      assigned: 0,
      done: 0,
      attempts: 0,
      receivedBytes: 0,
      since: Date.now(),
      cancelled: false,
      diskError: undefined,
    };
  }

  /** Bytes [from, to) of `part` are on disk: count them, mark whole pieces done, maybe save resume state. */
  private onWritten(slot: Slot, part: Part, from: number, to: number): void {
    slot.done += to - from;
    part.written = Math.max(part.written, to);
    const { size } = this.o.file.identity;
    const ps = this.o.file.pieceSize;
    for (let p = Math.floor(from / ps); p * ps < to; p++) {
      const { start, end } = pieceRange(p, size, ps);
      if (start >= part.start && end <= part.written) this.pieces.add(p);
    }
    this.advancePrefix();
    this.maybeSaveState(to - from);
  }

  private get resumable(): boolean {
    return this.o.file.identity.size >= RESUMABLE_MIN_BYTES;
  }

  private maybeSaveState(newBytes: number): void {
    if (!this.resumable) return;
    this.lastSave.bytes += newBytes;
    const since = Date.now() - this.lastSave.at;
    if (
      (this.lastSave.bytes >= STATE_SAVE_BYTES && since >= STATE_SAVE_MIN_MS) ||
      since >= STATE_SAVE_MAX_MS
    ) {
      this.lastSave = { at: Date.now(), bytes: 0 };
      this.saving = this.saving.then(() => this.saveState()).catch(() => undefined);
    }
  }

  private saveState(): Promise<void> {
    const { identity, pieceSize } = this.o.file;
    return saveResumeState(this.paths.state, {
      size: identity.size,
      mtimeUs: identity.mtimeUs,
      sha256: identity.sha256.toString('hex'),
      pieceSize,
      done: this.pieces.toBase64(),
    });
  }

  private async finish(): Promise<void> {
    await this.saving;
    const size = (await this.file.fh.stat()).size;
    if (size !== this.o.file.identity.size) {
      throw new IntegrityError(
        `"${printableName(this.name)}" is ${size} bytes on disk, not ${this.o.file.identity.size}.`,
      );
    }
    // rename(2) replaces whatever is at the final path (a symlink included) and never follows it.
    await rename(this.paths.part, this.paths.final);
    await removeResumeState(this.paths.state);
  }

  /** Keeps verified work for the next run; a corrupt or changed file leaves nothing behind. */
  private async afterFailure(e: XferError): Promise<void> {
    await this.saving;
    if (e.code === 'ERR_XFER_CORRUPT' || e.code === 'ERR_XFER_CHANGED') {
      await this.discardPartial();
      return;
    }
    if (this.slots.length > 0 && this.resumable) await this.saveState().catch(() => undefined);
  }

  private async discardPartial(): Promise<void> {
    await rm(this.paths.part, { force: true });
    await removeResumeState(this.paths.state);
    for (let p = 0; p < this.pieces.count; p++) this.pieces.delete(p);
  }

  /** Bytes covered by the pieces marked done. */
  private bytesInPieces(): number {
    let n = 0;
    for (const p of iterate(this.pieces)) {
      const { start, end } = pieceRange(p, this.o.file.identity.size, this.o.file.pieceSize);
      n += end - start;
    }
    return n;
  }
}

function splitIntoBlocks(range: ByteRange, block: number): ByteRange[] {
  const out: ByteRange[] = [];
  for (let start = range.start; start < range.end; start += block)
    out.push({ start, end: Math.min(start + block, range.end) });
  return out;
}

function alignUp(n: number, step: number): number {
  return Math.ceil(n / step) * step;
}

function maxBy<T>(items: T[], score: (item: T) => number): T | undefined {
  let best: T | undefined;
  let bestScore = -Infinity;
  for (const item of items) {
    const v = score(item);
    if (v > bestScore) {
      best = item;
      bestScore = v;
    }
  }
  return best;
}

function* iterate(set: PieceSet): Generator<number> {
  for (let p = 0; p < set.count; p++) if (set.has(p)) yield p;
}

/** Past the policy's attempts, the error that ends the download; undefined while retries remain. */
export function giveUpAfter(o: DownloadOptions, attempt: number, e: XferError): XferError | undefined {
  if (attempt <= o.policy.maxAttempts) return undefined;
  return errorFromCode(
    e.code,
    `Gave up on "${printableName(o.file.name)}" after ${attempt - 1} retries: ${e.message}`,
    { cause: e },
  );
}

/** Reports retry number `attempt` of `part` and waits out its back-off (cut short by an abort). */
export async function backOff(
  o: DownloadOptions,
  part: number,
  attempt: number,
  e: XferError,
): Promise<void> {
  const delayMs = backoffDelay(attempt, o.policy);
  o.emit({ type: 'retry', file: o.file.name, part, attempt, delayMs, code: e.code, message: e.message });
  await sleep(delayMs, o.signal).catch(() => undefined);
}

export function abortError(): XferError {
  return new AbortedError('Stopped on request; the partial download is kept and resumes next time.');
}
