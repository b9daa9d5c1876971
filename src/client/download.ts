import { rename } from 'node:fs/promises';
import { FileError, IntegrityError, NetworkError, XferError, toXferError } from '../errors.js';
import { sha256Range } from '../file-hash.js';
import { printableName, type FileIdentity } from '../protocol/index.js';
import type { DownloadProgress, EmitEvent } from './events.js';
import { PartFile } from './part-file.js';
import { isSymlink, type DownloadPaths } from './paths.js';
import { PrefixHasher } from './prefix-hasher.js';
import { ProgressWatch } from './progress-watch.js';
import { connectionsFor, planRanges } from './range-plan.js';
import { ResumeLedger } from './resume-ledger.js';
import { abortError, decideRetry, waitUnlessAborted, type RetryPolicy } from './retry.js';
import { Scheduler, splitIntoBlocks, type Lane, type Part } from './scheduler.js';
import type { RangeChannel, RangeSource } from './source.js';

/** What the client knows of a file before fetching it. */
export interface RemoteFile {
  name: string;
  identity: FileIdentity;
  pieceSize: number;
}

export interface DownloadOptions {
  /** Where the bytes come from: today one, later several sharing the work (docs/architecture.md). */
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

/** Requests kept in flight per connection, so it never idles for a round trip between them. */
const PIPELINE_DEPTH = 2;
/**
 * Connections take work in blocks of this size, in file order, so the written
 * prefix of the file grows at download speed and can be hashed meanwhile.
 */
const BLOCK_BYTES = 8 * 1024 * 1024;
/** From this size on the SHA-256 is computed by a worker thread during the download. */
const OVERLAPPED_HASH_MIN_BYTES = 128 * 1024 * 1024;
/** How many rounds of "re-fetch the bad pieces" before a file is rejected as corrupt. */
export const MAX_REPAIR_ROUNDS = 2;

/** What the engine knows of a lane beyond its work: where its bytes come from and how its attempts go. */
interface LaneState {
  lane: Lane;
  source: RangeSource;
  /** The lane's channel number within its source. */
  slot: number;
  /** Failures counted against the retry budget so far. */
  attempt: number;
  /** Bytes this attempt delivered: decides whether a failure counts (docs/protocol.md §5). */
  attemptBytes: number;
  /** Set when the engine closed the channel itself: the error to report instead of the channel's. */
  reason: XferError | undefined;
  /** Its channel was closed on purpose (its tail was taken over): not a failure. */
  cancelled: boolean;
}

/**
 * One file, fetched from its sources over up to 4 connections straight into
 * `NAME.part`, verified (size and SHA-256), then renamed to `NAME`. The
 * Scheduler decides who fetches which bytes, the ResumeLedger what is on disk,
 * the ProgressWatch who is too slow, decideRetry whether to try again; this
 * class moves the bytes: each chunk is written at its final offset, at once,
 * from the connection's own read buffer.
 */
export class FileDownload {
  private readonly o: DownloadOptions;
  private readonly ledger: ResumeLedger;
  private file!: PartFile;
  private scheduler: Scheduler | undefined;
  private lanes: LaneState[] = [];
  private watch: ProgressWatch | undefined;
  private failure: XferError | undefined;
  private bytesTransferred = 0;
  /** Bytes verified on disk before this round's transfers (not counted for speed). */
  private resumedBytes = 0;
  private hasher: PrefixHasher | undefined;
  /** How many pieces from the start of the file are written without a gap. */
  private prefixPieces = 0;

  constructor(options: DownloadOptions) {
    this.o = options;
    this.ledger = new ResumeLedger(options.file, options.paths, options.emit);
  }

  get name(): string {
    return this.o.file.name;
  }

  private get hashSource(): RangeSource {
    const source = this.o.sources.find((s) => s.capabilities.pieceHashes) ?? this.o.sources[0];
    if (!source) throw new XferError('ERR_XFER_INTERNAL', 'A download needs at least one source.');
    return source;
  }

  progress(): DownloadProgress {
    const size = this.o.file.identity.size;
    const lanes = this.scheduler?.lanes ?? [];
    const inParts = lanes.reduce((n, l) => n + l.done, 0);
    // Blocks not yet taken are counted as an even share of each connection's total,
    // so every bar runs from 0 to 100 % and is exact once the queue is empty.
    const queued = Math.round((this.scheduler?.queuedBytes ?? 0) / Math.max(1, lanes.length));
    return {
      bytes: Math.min(size, this.resumedBytes + inParts),
      total: size,
      resumedBytes: this.resumedBytes,
      parts: lanes.map((l) => ({ part: l.index, bytes: l.done, total: l.assigned + queued })),
    };
  }

  async run(): Promise<DownloadResult> {
    const { size, sha256 } = this.o.file.identity;
    const { paths } = this.o;
    if (await isSymlink(paths.part)) {
      throw new FileError(
        'ERR_XFER_UNSAFE_PATH',
        `${paths.part} is a symlink; refusing to write through it. Remove it and run again.`,
      );
    }
    await this.ledger.load();
    this.file = await PartFile.open(paths.part, size);
    try {
      this.resumedBytes = await this.ledger.verifyClaimed(this.file.fh, this.hashSource);
      // Written before any data, so the state file has its disk space even if the disk fills up later.
      await this.ledger.save();
      if (size >= OVERLAPPED_HASH_MIN_BYTES) {
        this.hasher = new PrefixHasher(paths.part, size);
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
            'ERR_XFER_CORRUPT',
            `"${printableName(this.name)}" failed SHA-256 verification after ${round} repair attempts; it was not saved.`,
          );
        }
        const bad = await this.ledger.dropDamaged(this.file.fh, this.hashSource);
        this.resumedBytes = this.ledger.bytes();
        this.o.emit({
          type: 'repair',
          file: this.name,
          pieces: bad,
          message: `${bad} damaged piece${bad === 1 ? '' : 's'} of "${printableName(this.name)}" will be fetched again.`,
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

  /** Tells the hashing worker how far the file is written without a gap. */
  private advancePrefix(): void {
    if (!this.hasher) return;
    const { pieces } = this.ledger;
    while (this.prefixPieces < pieces.count && pieces.has(this.prefixPieces)) this.prefixPieces++;
    this.hasher.advance(Math.min(this.prefixPieces * this.o.file.pieceSize, this.o.file.identity.size));
  }

  /** Fetches every piece not on disk, over up to 4 connections spread across the sources. */
  private async fetchMissing(first: boolean): Promise<void> {
    const { size } = this.o.file.identity;
    const { pieceSize } = this.o.file;
    const ranged = this.o.sources.filter((s) => s.capabilities.ranges);
    // A source that cannot serve ranges sends the whole file, from its first byte, on one connection.
    const wholeOnly = ranged.length === 0;
    const channels = wholeOnly
      ? [{ source: this.hashSource, slot: 0 }]
      : ranged.flatMap((s) => channelsOf(s));
    const missing = (p: number) => wholeOnly || !this.ledger.pieces.has(p);
    const ranges = wholeOnly
      ? [{ start: 0, end: size }]
      : planRanges(size, pieceSize, missing, channels.length);
    const block = wholeOnly ? size : Math.max(pieceSize, BLOCK_BYTES - (BLOCK_BYTES % pieceSize));
    const blocks = ranges.flatMap((r) => splitIntoBlocks(r, block));
    const count = Math.min(connectionsFor(size, pieceSize, channels.length), blocks.length);
    if (first) this.announce(blocks, count);
    if (blocks.length === 0) return;
    const now = Date.now();
    this.scheduler = new Scheduler({ pieceSize, blocks, lanes: count, now });
    this.lanes = this.scheduler.lanes.map((lane) => ({
      lane,
      ...(channels[lane.index] ?? { source: this.hashSource, slot: 0 }),
      attempt: 0,
      attemptBytes: 0,
      reason: undefined,
      cancelled: false,
    }));
    this.ledger.resetSaveClock(now);
    const watch = new ProgressWatch(this.o.policy, now);
    this.watch = watch;
    const timer = setInterval(() => this.judge(watch.check(Date.now())), watch.checkIntervalMs);
    const abort = () => this.dropAll();
    this.o.signal.addEventListener('abort', abort, { once: true });
    try {
      const results = await Promise.allSettled(this.lanes.map((l) => this.work(l, wholeOnly)));
      const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
      if (this.failure) throw this.failure;
      if (failed) throw failed.reason;
      if (this.o.signal.aborted) throw abortError();
    } finally {
      clearInterval(timer);
      this.o.signal.removeEventListener('abort', abort);
    }
  }

  private announce(blocks: { start: number; end: number }[], count: number): void {
    const missing = blocks.reduce((n, b) => n + b.end - b.start, 0);
    const parts = Array.from({ length: Math.max(1, count) }, (_, part) => ({
      part,
      offset: blocks[part]?.start ?? 0,
      length: Math.round(missing / Math.max(1, count)),
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
      parts: parts.map((p) => ({ part: p.part, bytes: 0, total: p.length })),
    });
  }

  /** Acts on the minimum-progress rule: stalled lanes lose their connection, a hopeless file fails. */
  private judge(verdict: { stalled: number[]; gaveUp: boolean }): void {
    const { policy } = this.o;
    const seconds = policy.stallTimeoutMs / 1000;
    for (const index of verdict.stalled) {
      const l = this.lanes[index];
      if (!l || l.reason) continue;
      l.reason = new NetworkError(
        'ERR_XFER_STALLED',
        `Under ${policy.minBytesPerSecond} bytes/s for ${seconds} s from ${l.source.label}.`,
      );
      l.source.drop(l.slot);
    }
    if (verdict.gaveUp && !this.failure) {
      this.failure = new NetworkError(
        'ERR_XFER_NO_PROGRESS',
        `"${printableName(this.name)}" gained less than ${policy.minProgressBytes} bytes in ${policy.noProgressTimeoutMs / 1000} s; giving up. The partial file is kept and resumes next time.`,
      );
      this.dropAll();
    }
  }

  private dropAll(): void {
    for (const source of this.o.sources) source.dropAll();
  }

  private async work(l: LaneState, wholeOnly: boolean): Promise<void> {
    const scheduler = this.scheduler;
    if (!scheduler) return;
    while (!this.failure && !this.o.signal.aborted) {
      const part = scheduler.work(l.lane, Date.now());
      if (!part) {
        this.watch?.idle(l.lane.index);
        return;
      }
      try {
        this.watch?.busy(l.lane.index, Date.now());
        const channel = await l.source.channel(l.slot);
        await this.fetchPart(channel, l, part);
      } catch (err) {
        // The engine's own reason (a failed write, a stall) is the one to report.
        const e = l.reason ?? toXferError(err);
        l.reason = undefined;
        this.watch?.idle(l.lane.index);
        if (this.o.signal.aborted || this.failure) return;
        if (l.cancelled) {
          l.cancelled = false;
          continue;
        }
        if (wholeOnly) scheduler.restart(l.lane, part);
        else scheduler.retryFromReceived(part);
        l.source.drop(l.slot);
        const decision = decideRetry(this.o.policy, {
          attempt: l.attempt,
          error: e,
          progressBytes: l.attemptBytes,
        });
        l.attempt = decision.attempt;
        l.attemptBytes = 0;
        if (!decision.retry) {
          this.failure ??= decision.reason === 'verdict' ? e : gaveUp(this.name, decision.attempt, e);
          this.dropAll();
          throw this.failure;
        }
        this.o.emit({
          type: 'retry',
          file: this.name,
          part: l.lane.index,
          attempt: decision.attempt,
          delayMs: decision.delayMs,
          code: e.code,
          message: e.message,
        });
        await waitUnlessAborted(decision.delayMs, this.o.signal);
      }
    }
  }

  /** Fetches the rest of a part on one channel, keeping PIPELINE_DEPTH requests in flight. */
  private async fetchPart(channel: RangeChannel, l: LaneState, part: Part): Promise<void> {
    const scheduler = this.scheduler;
    if (!scheduler) return;
    const inflight: Promise<void>[] = [];
    for (;;) {
      while (inflight.length < PIPELINE_DEPTH) {
        const request = scheduler.nextRequest(part);
        if (!request) break;
        const reading = channel.read({
          ...request,
          onChunk: (chunk, position) => this.onChunk(l, part, chunk, position),
          onLateError: (err) => {
            this.failure ??= err;
            this.dropAll();
          },
        });
        reading.catch(() => undefined); // awaited below; this only keeps a second failure from going unhandled
        inflight.push(reading);
      }
      const next = inflight.shift();
      if (!next) return;
      await next;
      if (l.reason) throw l.reason;
      if (this.failure) throw this.failure;
    }
  }

  /**
   * Writes a chunk at its final offset at once: the chunk is the connection's
   * read buffer, reused after this call. A synchronous positional write into
   * the page cache costs less than a thread-pool round trip, and while it runs
   * the socket is not read, so TCP itself holds the server back when the disk
   * is slow. A failed write stops this lane; its error is the one reported.
   */
  private onChunk(l: LaneState, part: Part, chunk: Buffer, position: number): void {
    const scheduler = this.scheduler;
    if (!scheduler || l.reason) return;
    try {
      const keep = scheduler.received(l.lane, part, position, chunk.length);
      this.bytesTransferred += chunk.length;
      l.attemptBytes += chunk.length;
      if (keep > 0) {
        this.file.writeSync(keep < chunk.length ? chunk.subarray(0, keep) : chunk, position);
        const now = Date.now();
        scheduler.written(l.lane, part, position, position + keep);
        this.watch?.received(l.lane.index, keep, now);
        this.ledger.markWritten(position, position + keep, part.start, part.written, now);
        this.advancePrefix();
      }
      // A part whose tail was taken over keeps only its own bytes, and stops once it has them.
      if (scheduler.tailTakenOver(part)) {
        l.cancelled = true;
        l.source.drop(l.slot);
      }
    } catch (err) {
      // Called from the connection's read loop: a throw here must become this lane's failure.
      l.reason = toXferError(err);
      l.source.drop(l.slot);
    }
  }

  private async finish(): Promise<void> {
    await this.ledger.settled();
    const size = (await this.file.fh.stat()).size;
    if (size !== this.o.file.identity.size) {
      throw new IntegrityError(
        'ERR_XFER_CORRUPT',
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
    if (this.scheduler) await this.ledger.save().catch(() => undefined);
  }
}

/** The channels a source offers for one file: (source, slot) pairs, one per connection it allows. */
function channelsOf(source: RangeSource): { source: RangeSource; slot: number }[] {
  return Array.from({ length: source.capabilities.maxConnections }, (_, slot) => ({ source, slot }));
}

/** Past the policy's attempts: the error that ends the download. */
export function gaveUp(name: string, attempt: number, e: XferError): XferError {
  return new XferError(
    e.code,
    `Gave up on "${printableName(name)}" after ${attempt - 1} retries: ${e.message}`,
    {
      cause: e,
    },
  );
}
