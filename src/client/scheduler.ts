import { invariant } from './invariant.js';
import type { ByteRange } from './range-plan.js';

/** Each request asks for at most this much, ending on a multiple of it (on piece boundaries). */
export const REQUEST_BYTES = 4 * 1024 * 1024;
/** A lane's speed is judged only after it has worked this long on the file. */
const HEDGE_MIN_OBSERVED_MS = 200;
/** Another lane takes over a tail only from one at most half as fast as itself. */
const HEDGE_SPEED_RATIO = 2;

/**
 * A contiguous range being fetched by one lane: [start, written) is on disk,
 * [written, received) arrived but its write failed (only then is there a
 * gap), [received, cursor) is asked for and in flight, [cursor, end) is not
 * yet asked for. After a takeover `end` may fall below `cursor`: bytes past
 * `end` still arrive but belong to another lane and are not kept.
 */
export interface Part {
  start: number;
  written: number;
  received: number;
  cursor: number;
  end: number;
}

/** One connection's share of the work (a slot of some source); the engine maps it to its channel. */
export interface Lane {
  readonly index: number;
  part: Part | undefined;
  /** Bytes this lane has been given in all, and has written: its 0-100 % bar. */
  assigned: number;
  done: number;
  /** For its speed: bytes received since `since`. */
  receivedBytes: number;
  since: number;
}

export interface SchedulerOptions {
  pieceSize: number;
  /** The ranges to fetch, in file order, disjoint and piece-aligned (but for the file's end). */
  blocks: ByteRange[];
  lanes: number;
  now: number;
  /** Most bytes one request asks for (a source that cannot serve ranges: the whole file). */
  requestBytes?: number;
}

/**
 * Who fetches which bytes, as pure code with time passed in (so it is tested
 * without a clock or a socket). Lanes take blocks from a queue in file order,
 * so the written prefix of the file grows at download speed; when the queue
 * runs dry an idle lane takes over half of the largest range nobody has asked
 * for yet (work stealing) or, failing that, the tail of a much slower lane
 * (hedging), split where both should finish together. Either way no byte is
 * ever owned by two lanes, and a file never waits on one slow connection.
 */
export class Scheduler {
  readonly lanes: Lane[];
  private readonly queue: ByteRange[];
  private readonly pieceSize: number;
  private readonly requestBytes: number;

  constructor(o: SchedulerOptions) {
    this.pieceSize = o.pieceSize;
    this.requestBytes = o.requestBytes ?? REQUEST_BYTES;
    this.queue = o.blocks.map((b) => ({ ...b }));
    this.lanes = Array.from({ length: o.lanes }, (_, index) => ({
      index,
      part: undefined,
      assigned: 0,
      done: 0,
      receivedBytes: 0,
      since: o.now,
    }));
    this.assertInvariants();
  }

  /** Bytes in blocks no lane has taken yet. */
  get queuedBytes(): number {
    return this.queue.reduce((n, r) => n + r.end - r.start, 0);
  }

  /** The lane's unfinished part, else a new one (queue first, then stolen work); undefined when nothing is left for it. */
  work(lane: Lane, now: number): Part | undefined {
    if (lane.part && lane.part.received < lane.part.end) return lane.part;
    const range = this.queue.shift() ?? this.steal(lane, now);
    if (!range) {
      lane.part = undefined;
      return undefined;
    }
    lane.assigned += range.end - range.start;
    lane.part = {
      start: range.start,
      written: range.start,
      received: range.start,
      cursor: range.start,
      end: range.end,
    };
    return lane.part;
  }

  /** The next request of a part: from its cursor to the next `requestBytes` boundary or its end. */
  nextRequest(part: Part): { offset: number; length: number } | undefined {
    if (part.cursor >= part.end) return undefined;
    const offset = part.cursor;
    const boundary = (Math.floor(offset / this.requestBytes) + 1) * this.requestBytes;
    const length = Math.min(boundary, part.end) - offset;
    part.cursor += length;
    return { offset, length };
  }

  /**
   * `length` bytes at `position` arrived for the lane's part: returns how many
   * of them the lane keeps (fewer when its tail was taken over meanwhile).
   */
  received(lane: Lane, part: Part, position: number, length: number): number {
    invariant(
      position === part.received,
      () => `bytes at ${position} arrived where ${part.received} was expected`,
    );
    invariant(position + length <= part.cursor, () => `bytes beyond ${part.cursor} arrived unasked`);
    part.received = position + length;
    lane.receivedBytes += length;
    return Math.max(0, Math.min(length, part.end - position));
  }

  /** Bytes [from, to) of the part are on disk. */
  written(lane: Lane, part: Part, from: number, to: number): void {
    invariant(
      from === part.written && to <= part.end,
      () => `write [${from}, ${to}) outside [${part.written}, ${part.end})`,
    );
    part.written = to;
    lane.done += to - from;
  }

  /** The part has all its own bytes, and some requests past its end (taken over) are still in flight. */
  tailTakenOver(part: Part): boolean {
    return part.received >= part.end && part.cursor > part.end;
  }

  /** After a failure: whatever was in flight is asked for again, from the first byte not received. */
  retryFromReceived(part: Part): void {
    part.cursor = part.received;
  }

  /** After a failure on a source that cannot serve ranges: the part starts again from its first byte. */
  restart(lane: Lane, part: Part): void {
    lane.done -= part.written - part.start;
    part.written = part.received = part.cursor = part.start;
  }

  /**
   * The lane's source was dropped: what its part has not written goes back to
   * the queue (from the piece its written bytes end in, so the piece is
   * fetched whole elsewhere; or from `badFrom`, a written piece of the part
   * that failed its hash), in file order, and the lane takes no more work.
   */
  release(lane: Lane, badFrom?: number): void {
    const part = lane.part;
    lane.part = undefined;
    if (!part) return;
    const unfinished = Math.floor(part.written / this.pieceSize) * this.pieceSize;
    const from = Math.max(part.start, Math.min(unfinished, badFrom ?? unfinished));
    lane.done -= part.written - from;
    lane.assigned -= part.end - from;
    if (part.end <= from) return;
    const at = this.queue.findIndex((r) => r.start > from);
    this.queue.splice(at < 0 ? this.queue.length : at, 0, { start: from, end: part.end });
  }

  /**
   * Work for an idle lane: first half of the largest range nobody has asked
   * for yet; failing that, the tail that a much slower lane still has in
   * flight, split so both should finish together.
   */
  private steal(thief: Lane, now: number): ByteRange | undefined {
    const ps = this.pieceSize;
    const others = this.lanes.filter((l): l is Lane & { part: Part } => l !== thief && l.part !== undefined);
    const unrequested = maxBy(others, (l) => l.part.end - l.part.cursor);
    if (unrequested && unrequested.part.end - unrequested.part.cursor >= 2 * ps) {
      const { part } = unrequested;
      const split = alignUp(part.cursor + (part.end - part.cursor) / 2, ps);
      if (split > part.cursor && split < part.end) return this.takeOver(unrequested, split);
    }
    const rate = (l: Lane) =>
      now - l.since >= HEDGE_MIN_OBSERVED_MS ? l.receivedBytes / (now - l.since) : undefined;
    const thiefRate = rate(thief);
    if (thiefRate === undefined || thiefRate === 0) return undefined;
    const slow = maxBy(
      others.filter((l) => {
        const r = rate(l);
        return r !== undefined && r * HEDGE_SPEED_RATIO <= thiefRate && l.part.end - l.part.received >= ps;
      }),
      (l) => l.part.end - l.part.received,
    );
    if (!slow) return undefined;
    const split = hedgeSplit(slow.part, rate(slow) ?? 0, thiefRate, ps);
    return split === undefined ? undefined : this.takeOver(slow, split);
  }

  /** Moves [split, end) of the victim's part to a new range for the caller. */
  private takeOver(victim: Lane & { part: Part }, split: number): ByteRange {
    invariant(
      split >= victim.part.received && split < victim.part.end,
      () => `takeover at ${split} outside [${victim.part.received}, ${victim.part.end})`,
    );
    const moved = { start: split, end: victim.part.end };
    victim.part.end = split;
    victim.assigned -= moved.end - moved.start;
    return moved;
  }

  /** The invariants the comments state; tests call it after every step. */
  assertInvariants(): void {
    const owned: ByteRange[] = [...this.queue];
    for (const lane of this.lanes) {
      const p = lane.part;
      if (!p) continue;
      invariant(
        p.start <= p.written && p.written <= p.received && p.received <= p.cursor && p.start <= p.end,
        () =>
          `lane ${lane.index}: part out of order (${p.start}, ${p.written}, ${p.received}, ${p.cursor}, ${p.end})`,
      );
      invariant(p.written <= p.end, () => `lane ${lane.index} wrote past its end`);
      // An empty part (all of it taken over before a byte arrived) owns no byte.
      if (p.end > p.start) owned.push({ start: p.start, end: p.end });
    }
    owned.sort((a, b) => a.start - b.start);
    for (let i = 1; i < owned.length; i++) {
      invariant((owned[i - 1]?.end ?? 0) <= (owned[i]?.start ?? 0), () => 'two ranges own the same byte');
    }
  }
}

/**
 * Where a slow part's remaining bytes are best split between it (at
 * `slowRate`) and a thief (at `thiefRate`): the even point where both would
 * finish together, then the piece boundary on either side of it that ends
 * sooner (always rounding up could leave the slow lane most of a piece more
 * to fetch at its slow rate). Undefined when no boundary lies in the tail.
 */
export function hedgeSplit(
  part: Part,
  slowRate: number,
  thiefRate: number,
  pieceSize: number,
): number | undefined {
  const even = part.received + ((part.end - part.received) * slowRate) / (slowRate + thiefRate);
  const finish = (at: number) =>
    Math.max(at > part.received ? (at - part.received) / slowRate : 0, (part.end - at) / thiefRate);
  return [alignUp(even, pieceSize) - pieceSize, alignUp(even, pieceSize)]
    .filter((at) => at >= part.received && at < part.end)
    .reduce<number | undefined>(
      (best, at) => (best === undefined || finish(at) < finish(best) ? at : best),
      undefined,
    );
}

/** Cuts a range into blocks of `block` bytes (the last one shorter). */
export function splitIntoBlocks(range: ByteRange, block: number): ByteRange[] {
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
