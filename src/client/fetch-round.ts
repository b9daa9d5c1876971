import { IntegrityError, toXferError, type XferError } from '../errors.js';
import { printableName } from '../protocol/index.js';
import type { DownloadOptions } from './download.js';
import type { PartFile } from './part-file.js';
import type { PieceCheck } from './piece-check.js';
import { ProgressWatch, noProgressError, stalledError } from './progress-watch.js';
import type { ByteRange } from './range-plan.js';
import type { ResumeLedger } from './resume-ledger.js';
import { abortError, retryOrGiveUp } from './retry.js';
import { REQUEST_BYTES, Scheduler, type Lane, type Part } from './scheduler.js';
import type { RangeChannel, RangeSource } from './source.js';

/** Requests kept in flight per connection, so it never idles for a round trip between them. */
const PIPELINE_DEPTH = 2;

/** What one round fetches, and over which channels (lane i uses channels[i]). */
export interface RoundPlan {
  blocks: ByteRange[];
  channels: { source: RangeSource; slot: number }[];
  /** The source cannot serve ranges: a failed lane starts again from the file's first byte. */
  wholeOnly: boolean;
  /** With several sources: each piece checked as it lands, so a bad source is dropped at its first bad piece. */
  checks?: PieceCheck | undefined;
}

/**
 * What a FileDownload keeps about its sources across rounds: which were
 * dropped, which source wrote each piece (to blame one whose piece fails its
 * hash) and how many bytes each wrote.
 */
export interface SourceBook {
  dropped: Set<RangeSource>;
  pieceOwners: Map<number, RangeSource>;
  bytes: Map<RangeSource, number>;
  drop(source: RangeSource, error: XferError): void;
}

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
  /** The start of a piece it wrote that failed its hash: released from there, to be fetched elsewhere. */
  badFrom: number | undefined;
}

/**
 * One round of a FileDownload: moves the bytes of `plan.blocks` from the
 * sources into the `.part` file over one lane per channel. The Scheduler
 * decides who fetches which bytes, the ProgressWatch who is too slow,
 * retryOrGiveUp whether to try again; each chunk is written here at its final
 * offset, at once, from the connection's own read buffer, and reported to
 * the ResumeLedger.
 */
export class FetchRound {
  readonly scheduler: Scheduler;
  /** Bytes received over the network (re-sent bytes included). */
  bytesTransferred = 0;
  private readonly lanes: LaneState[];
  private readonly watch: ProgressWatch;
  private failure: XferError | undefined;

  constructor(
    private readonly o: DownloadOptions,
    private readonly file: PartFile,
    private readonly ledger: ResumeLedger,
    private readonly plan: RoundPlan,
    private readonly book: SourceBook,
    /** Called after each write (the prefix hasher follows the written prefix). */
    private readonly onWritten: () => void,
  ) {
    const now = Date.now();
    const { pieceSize } = o.file;
    const lanes = Math.min(plan.channels.length, plan.blocks.length);
    const requestBytes = plan.wholeOnly ? o.file.identity.size : REQUEST_BYTES;
    this.scheduler = new Scheduler({ pieceSize, blocks: plan.blocks, lanes, now, requestBytes });
    this.lanes = this.scheduler.lanes.flatMap((lane) => {
      const channel = plan.channels[lane.index];
      if (!channel) return [];
      return [
        {
          lane,
          ...channel,
          attempt: 0,
          attemptBytes: 0,
          reason: undefined,
          cancelled: false,
          badFrom: undefined,
        },
      ];
    });
    this.watch = new ProgressWatch(o.policy, now);
    ledger.resetSaveClock(now);
  }

  get name(): string {
    return this.o.file.name;
  }

  /** The source lane `index` fetches from. */
  sourceOf(index: number): RangeSource | undefined {
    return this.lanes[index]?.source;
  }

  async run(): Promise<void> {
    const watch = this.watch;
    const timer = setInterval(() => this.judge(watch.check(Date.now())), watch.checkIntervalMs);
    const abort = () => this.dropAll();
    this.o.signal.addEventListener('abort', abort, { once: true });
    try {
      const results = await Promise.allSettled(this.lanes.map((l) => this.work(l)));
      const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
      if (this.failure) throw this.failure;
      if (failed) throw failed.reason;
      if (this.o.signal.aborted) throw abortError();
    } finally {
      clearInterval(timer);
      this.o.signal.removeEventListener('abort', abort);
    }
  }

  /** Acts on the minimum-progress rule: stalled lanes lose their connection, a hopeless file fails. */
  private judge(verdict: { stalled: number[]; gaveUp: boolean }): void {
    for (const index of verdict.stalled) {
      const l = this.lanes[index];
      if (!l || l.reason) continue;
      l.reason = stalledError(this.o.policy, l.source.label);
      l.source.drop(l.slot);
    }
    if (verdict.gaveUp && !this.failure) {
      this.failure = noProgressError(this.o.policy, this.name);
      this.dropAll();
    }
  }

  /** Whether a source other than `source` is still in use for this file. */
  private othersLive(source: RangeSource): boolean {
    return this.lanes.some((o) => o.source !== source && !this.book.dropped.has(o.source));
  }

  /** Stops every lane of `source`: late bytes from it are ignored, its parts go back to the queue. */
  private dropSource(source: RangeSource, error: XferError): void {
    if (this.book.dropped.has(source)) return;
    this.book.drop(source, error);
    for (const o of this.lanes) if (o.source === source) o.reason ??= error;
    source.dropAll();
  }

  private dropAll(): void {
    for (const source of this.o.sources) source.dropAll();
  }

  private async work(l: LaneState): Promise<void> {
    const { scheduler } = this;
    while (!this.failure && !this.o.signal.aborted) {
      if (this.book.dropped.has(l.source)) {
        scheduler.release(l.lane, l.badFrom);
        return;
      }
      const part = scheduler.work(l.lane, Date.now());
      if (!part) {
        this.watch.idle(l.lane.index);
        return;
      }
      try {
        this.watch.busy(l.lane.index, Date.now());
        const channel = await l.source.channel(l.slot);
        await this.fetchPart(channel, l, part);
      } catch (err) {
        // The engine's own reason (a failed write, a stall) is the one to report.
        const e = l.reason ?? toXferError(err);
        l.reason = undefined;
        this.watch.idle(l.lane.index);
        if (this.o.signal.aborted || this.failure) return;
        if (this.book.dropped.has(l.source)) continue;
        if (l.cancelled) {
          l.cancelled = false;
          continue;
        }
        if (this.plan.wholeOnly) scheduler.restart(l.lane, part);
        else scheduler.retryFromReceived(part);
        l.source.drop(l.slot, e);
        const failure = { attempt: l.attempt, error: e, progressBytes: l.attemptBytes };
        l.attemptBytes = 0;
        try {
          l.attempt = await retryOrGiveUp(this.o, l.lane.index, failure);
        } catch (err) {
          const given = toXferError(err);
          if (given.code === 'ERR_XFER_ABORTED' || !this.othersLive(l.source)) {
            this.failure ??= given;
            this.dropAll();
            throw this.failure;
          }
          // Another source can carry the rest: this one is dropped for the rest of the file.
          this.dropSource(l.source, given);
        }
      }
    }
  }

  /** Fetches the rest of a part on one channel, keeping PIPELINE_DEPTH requests in flight. */
  private async fetchPart(channel: RangeChannel, l: LaneState, part: Part): Promise<void> {
    const { scheduler } = this;
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
    const { scheduler } = this;
    if (l.reason || this.book.dropped.has(l.source)) return;
    try {
      const keep = scheduler.received(l.lane, part, position, chunk.length);
      this.bytesTransferred += chunk.length;
      l.attemptBytes += chunk.length;
      if (keep > 0) {
        const kept = keep < chunk.length ? chunk.subarray(0, keep) : chunk;
        this.file.writeSync(kept, position);
        this.noteOwner(l.source, position, position + keep);
        const now = Date.now();
        scheduler.written(l.lane, part, position, position + keep);
        this.watch.received(l.lane.index, keep, now);
        this.ledger.markWritten(position, position + keep, part.start, part.written, now);
        const bad = this.plan.checks?.wrote(l.lane.index, kept, position);
        if (bad && bad.length > 0) this.failedPieces(l, bad);
        this.onWritten();
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

  /**
   * Pieces `l` just completed failed their hash: while another source lives,
   * they are forgotten (before the prefix hasher can pass them), the lane's
   * source is dropped, and the lane's part goes back to the queue from the
   * first bad piece, for the other sources to fetch. The last source is kept:
   * the whole-file check then finds and repairs the pieces.
   */
  private failedPieces(l: LaneState, bad: number[]): void {
    if (!this.othersLive(l.source)) return;
    for (const p of bad) this.ledger.pieces.delete(p);
    l.badFrom = Math.min(...bad) * this.o.file.pieceSize;
    const name = printableName(this.name);
    this.o.emit({
      type: 'repair',
      file: this.name,
      pieces: bad.length,
      message: `${bad.length} piece${bad.length === 1 ? '' : 's'} of "${name}" from ${l.source.label} failed ${bad.length === 1 ? 'its hash' : 'their hashes'}; fetched again from another source.`,
    });
    this.dropSource(l.source, new IntegrityError('it served bytes that failed their piece hash.'));
  }

  /** Records that `source` wrote [from, to): the pieces it touched are its to answer for. */
  private noteOwner(source: RangeSource, from: number, to: number): void {
    const ps = this.o.file.pieceSize;
    for (let p = Math.floor(from / ps); p * ps < to; p++) this.book.pieceOwners.set(p, source);
    this.book.bytes.set(source, (this.book.bytes.get(source) ?? 0) + (to - from));
  }
}
