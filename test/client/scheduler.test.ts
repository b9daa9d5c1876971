import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import { planRanges, type ByteRange } from '../../src/client/range-plan.js';
import {
  REQUEST_BYTES,
  Scheduler,
  hedgeSplit,
  splitIntoBlocks,
  type Lane,
  type Part,
} from '../../src/client/scheduler.js';

const MiB = 1024 * 1024;

/**
 * Drives a Scheduler as the engine does, without sockets: lanes take parts,
 * ask for requests, receive bytes of their oldest request in order, fail, or
 * lose a tail; every kept byte is recorded as "written" so coverage can be checked.
 */
class Simulation {
  readonly scheduler: Scheduler;
  readonly written: ByteRange[] = [];
  /** Lanes whose source was dropped: they take no more work. */
  readonly dead = new Set<number>();
  /** Bytes a dropped lane wrote in its last, unfinished piece: fetched again whole elsewhere. */
  rewritable = 0;
  now = 0;
  private readonly inflight = new Map<number, { offset: number; length: number; got: number }[]>();

  constructor(
    readonly blocks: ByteRange[],
    lanes: number,
    pieceSize = MiB,
  ) {
    this.scheduler = new Scheduler({ pieceSize, blocks, lanes, now: 0 });
    for (const lane of this.scheduler.lanes) this.inflight.set(lane.index, []);
  }

  lane(i: number): Lane {
    const lane = this.scheduler.lanes[i % this.scheduler.lanes.length];
    assert.ok(lane);
    return lane;
  }

  requests(lane: Lane) {
    return this.inflight.get(lane.index) ?? [];
  }

  /** An idle lane (nothing in flight) takes its next work. */
  take(lane: Lane): Part | undefined {
    if (this.dead.has(lane.index)) return undefined;
    if (this.requests(lane).length > 0) return lane.part;
    return this.scheduler.work(lane, this.now);
  }

  request(lane: Lane): void {
    const part = lane.part;
    if (!part) return;
    const r = this.scheduler.nextRequest(part);
    if (r) this.requests(lane).push({ ...r, got: 0 });
  }

  /** Up to `amount` bytes of the lane's oldest request arrive. */
  deliver(lane: Lane, amount: number): void {
    const part = lane.part;
    const head = this.requests(lane)[0];
    if (!part || !head) return;
    const n = Math.min(amount, head.length - head.got);
    const position = head.offset + head.got;
    const keep = this.scheduler.received(lane, part, position, n);
    if (keep > 0) {
      this.scheduler.written(lane, part, position, position + keep);
      this.written.push({ start: position, end: position + keep });
    }
    head.got += n;
    if (head.got === head.length) this.requests(lane).shift();
    // The engine closes the channel of a part whose tail was taken over, once it has its own bytes.
    if (this.scheduler.tailTakenOver(part)) this.requests(lane).length = 0;
  }

  /** The lane's connection dies: what was in flight is asked for again. */
  fail(lane: Lane): void {
    this.requests(lane).length = 0;
    if (lane.part) this.scheduler.retryFromReceived(lane.part);
  }

  /** The lane's source is dropped: its channel closes and its unwritten work goes back to the queue. */
  drop(lane: Lane): void {
    if (this.dead.has(lane.index)) return;
    this.dead.add(lane.index);
    this.requests(lane).length = 0;
    const written = lane.part?.written ?? 0;
    if (lane.part) this.rewritable += written - Math.max(lane.part.start, written - (written % MiB));
    this.scheduler.release(lane);
  }

  /** Every live lane works to the end, lane i delivering `pace(i)` bytes per 10 ms tick. */
  drain(pace: (index: number) => number = () => MiB): void {
    for (let round = 0; round < 10_000; round++) {
      let busy = false;
      for (const lane of this.scheduler.lanes) {
        if (!this.take(lane)) continue;
        busy = true;
        this.request(lane);
        this.request(lane);
        this.deliver(lane, pace(lane.index));
        this.scheduler.assertInvariants();
      }
      this.now += 10;
      if (!busy) return;
    }
    assert.fail('the simulation did not finish');
  }

  /** Written ranges never overlap, and together they are exactly the blocks. */
  assertCoveredOnce(): void {
    const merged = mergeRanges(this.written);
    assert.deepEqual(merged, mergeRanges(this.blocks));
    const total = this.written.reduce((n, r) => n + r.end - r.start, 0);
    assert.equal(
      total,
      this.blocks.reduce((n, r) => n + r.end - r.start, 0) + this.rewritable,
      "no byte written twice (but a dropped source's unfinished piece)",
    );
  }
}

function mergeRanges(ranges: ByteRange[]): ByteRange[] {
  const out: ByteRange[] = [];
  for (const r of [...ranges].sort((a, b) => a.start - b.start)) {
    const last = out.at(-1);
    // Overlaps merge too: a dropped source's last piece is written again (counted apart, as `rewritable`).
    if (last && last.end >= r.start) last.end = Math.max(last.end, r.end);
    else out.push({ ...r });
  }
  return out;
}

describe('Scheduler', () => {
  test('lanes take blocks in file order, requests end on REQUEST_BYTES boundaries', () => {
    const sim = new Simulation(splitIntoBlocks({ start: 0, end: 32 * MiB }, 8 * MiB), 4);
    const parts = sim.scheduler.lanes.map((l) => sim.take(l));
    assert.deepEqual(
      parts.map((p) => p?.start),
      [0, 8 * MiB, 16 * MiB, 24 * MiB],
    );
    const lane = sim.lane(0);
    sim.request(lane);
    sim.request(lane);
    assert.deepEqual(
      sim.requests(lane).map((r) => [r.offset, r.length]),
      [
        [0, REQUEST_BYTES],
        [REQUEST_BYTES, REQUEST_BYTES],
      ],
    );
    sim.drain();
    sim.assertCoveredOnce();
  });

  test('an idle lane takes half of the largest range nobody has asked for yet', () => {
    const sim = new Simulation([{ start: 0, end: 8 * MiB }], 2);
    const a = sim.lane(0);
    const b = sim.lane(1);
    sim.take(a);
    sim.request(a); // [0, 4 MiB) asked for; [4, 8) not yet
    const stolen = sim.take(b);
    assert.deepEqual([stolen?.start, stolen?.end], [6 * MiB, 8 * MiB]);
    assert.equal(a.part?.end, 6 * MiB, 'the victim keeps the first half of what it had not asked for');
    sim.scheduler.assertInvariants();
    sim.drain();
    sim.assertCoveredOnce();
  });

  test('one slow part: a fast idle lane takes over its tail, split where both finish together', () => {
    const sim = new Simulation(splitIntoBlocks({ start: 0, end: 16 * MiB }, 8 * MiB), 2);
    const fast = sim.lane(0);
    const slow = sim.lane(1);
    for (const lane of [fast, slow]) {
      sim.take(lane);
      sim.request(lane);
      sim.request(lane); // both parts fully asked for: nothing left to steal
    }
    sim.now = 1000;
    for (let i = 0; i < 8; i++) sim.deliver(fast, MiB);
    sim.deliver(slow, MiB);
    // fast: 8 MiB/s; slow: 1 MiB/s with 7 MiB left. Even split at 9.78 MiB; piece 9 ends sooner than 10.
    const taken = sim.take(fast);
    assert.ok(taken, 'the fast lane got work');
    assert.equal(taken.start % MiB, 0, 'split on a piece boundary');
    assert.equal(slow.part?.end, taken.start);
    assert.equal(taken.end, 16 * MiB);
    assert.equal(taken.start, 9 * MiB, 'the fast lane takes all 7 pieces the slow one has not received');
    sim.scheduler.assertInvariants();
    sim.drain();
    sim.assertCoveredOnce();
  });

  test('one slow lane of four (the resilience scenario, time passed in): the file ends about when three fast lanes would', () => {
    // 48 MiB, 1 MiB pieces, planned and cut into blocks as the engine does; lanes 0, 2, 3 at
    // 16 MiB/s, lane 1 at 1 MiB/s, each keeping two requests in flight.
    const size = 48 * MiB;
    const ranges = planRanges(size, MiB, () => true, 4);
    const sim = new Simulation(
      ranges.flatMap((r) => splitIntoBlocks(r, 8 * MiB)),
      4,
    );
    const rate = (lane: Lane) => (lane.index === 1 ? 1 : 16) * MiB; // bytes per second
    const tickMs = 5;
    let finished: number | undefined;
    for (; sim.now < 20_000 && finished === undefined; sim.now += tickMs) {
      let busy = false;
      for (const lane of sim.scheduler.lanes) {
        let budget = Math.round((rate(lane) * tickMs) / 1000);
        while (budget > 0 && sim.take(lane)) {
          busy = true;
          while (sim.requests(lane).length < 2 && lane.part && lane.part.cursor < lane.part.end)
            sim.request(lane);
          const head = sim.requests(lane)[0];
          if (!head) break;
          const n = Math.min(budget, head.length - head.got);
          sim.deliver(lane, n);
          budget -= n;
        }
        sim.scheduler.assertInvariants();
      }
      if (!busy) finished = sim.now;
    }
    sim.assertCoveredOnce();
    assert.ok(finished !== undefined, 'the simulation finished');
    // All four lanes together move 49 MiB/s: 0.98 s is the least possible. Without hedging the
    // slow lane alone needs 4 s for its first block; a hedge that waited for a 1 s speed estimate
    // would end at 2 s (both checked by mutating scheduler.ts).
    const ideal = (size / (49 * MiB)) * 1000;
    assert.ok(
      finished <= ideal * 1.1,
      `finished at ${finished} ms; ${ideal.toFixed(0)} ms is the least possible`,
    );
    assert.ok(sim.lane(1).done <= 1.5 * MiB, `the slow lane wrote ${sim.lane(1).done} bytes`);
  });

  test('a lane that has received nothing can lose its whole part to a fast one (found by the property)', () => {
    const sim = new Simulation(
      [
        { start: 0, end: 2 * MiB },
        { start: 3 * MiB, end: 4 * MiB },
      ],
      2,
    );
    const [fast, idle] = [sim.lane(0), sim.lane(1)];
    sim.take(fast);
    sim.request(fast);
    sim.deliver(fast, 2 * MiB);
    sim.take(idle);
    sim.now = 200;
    const taken = sim.take(fast);
    assert.deepEqual([taken?.start, taken?.end, idle.part?.end], [3 * MiB, 4 * MiB, 3 * MiB]);
    sim.scheduler.assertInvariants();
    sim.drain();
    sim.assertCoveredOnce();
  });

  test('a lane no faster than the slow one takes nothing: hedging needs twice the speed', () => {
    const sim = new Simulation(splitIntoBlocks({ start: 0, end: 16 * MiB }, 8 * MiB), 2);
    const [a, b] = [sim.lane(0), sim.lane(1)];
    for (const lane of [a, b]) {
      sim.take(lane);
      sim.request(lane);
      sim.request(lane);
    }
    sim.now = 1000;
    for (let i = 0; i < 8; i++) sim.deliver(a, MiB);
    for (let i = 0; i < 5; i++) sim.deliver(b, MiB);
    assert.equal(sim.take(a), undefined);
  });

  test('a part that dies is asked for again from its first byte not received', () => {
    const sim = new Simulation([{ start: 0, end: 8 * MiB }], 1);
    const lane = sim.lane(0);
    sim.take(lane);
    sim.request(lane);
    sim.request(lane);
    sim.deliver(lane, 1.5 * MiB);
    sim.fail(lane);
    assert.equal(lane.part?.cursor, 1.5 * MiB);
    sim.request(lane);
    assert.deepEqual(
      sim.requests(lane).map((r) => [r.offset, r.length]),
      [[1.5 * MiB, REQUEST_BYTES - 1.5 * MiB]],
      'the retry ends on the same request boundary',
    );
    sim.drain();
    sim.assertCoveredOnce();
  });

  test('a source without ranges restarts its part from the first byte', () => {
    const sim = new Simulation([{ start: 0, end: 3 * MiB }], 1);
    const lane = sim.lane(0);
    const part = sim.take(lane);
    assert.ok(part);
    sim.request(lane);
    sim.deliver(lane, MiB);
    sim.scheduler.restart(lane, part);
    assert.deepEqual([part.written, part.received, part.cursor, lane.done], [0, 0, 0, 0]);
  });

  test('bytes out of place are refused as an internal error, never written', () => {
    const sim = new Simulation([{ start: 0, end: 8 * MiB }], 1);
    const lane = sim.lane(0);
    const part = sim.take(lane);
    assert.ok(part);
    sim.request(lane);
    assert.throws(() => sim.scheduler.received(lane, part, MiB, 10), { code: 'ERR_XFER_INTERNAL' });
    assert.throws(() => sim.scheduler.received(lane, part, 0, REQUEST_BYTES + 1), {
      code: 'ERR_XFER_INTERNAL',
    });
    assert.throws(() => sim.scheduler.written(lane, part, 5, 10), { code: 'ERR_XFER_INTERNAL' });
  });

  test('property: any sequence of takes, requests, deliveries and failures covers every byte exactly once', () => {
    const op = fc.record({
      kind: fc.constantFrom('take', 'request', 'deliver', 'fail', 'tick', 'drop'),
      lane: fc.nat(3),
      amount: fc.integer({ min: 1, max: 5 * MiB }),
    });
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 40 * MiB }),
        fc.integer({ min: 1, max: 4 }),
        fc.array(fc.boolean(), { minLength: 40, maxLength: 40 }),
        fc.array(op, { maxLength: 200 }),
        (size, lanes, done, ops) => {
          // Some pieces already on disk (a resume): only the missing ones are planned.
          const ranges = planRanges(size, MiB, (p) => !done[p % done.length], lanes);
          const blocks = ranges.flatMap((r) => splitIntoBlocks(r, 8 * MiB));
          const sim = new Simulation(blocks, Math.max(1, Math.min(lanes, blocks.length)));
          for (const o of ops) {
            const lane = sim.lane(o.lane);
            if (o.kind === 'take') sim.take(lane);
            else if (o.kind === 'request') sim.request(lane);
            else if (o.kind === 'deliver') sim.deliver(lane, o.amount);
            else if (o.kind === 'fail') sim.fail(lane);
            // A dropped source, while another lane lives to finish the work.
            else if (o.kind === 'drop') {
              if (sim.dead.size + 1 < sim.scheduler.lanes.length) sim.drop(lane);
            } else sim.now += o.amount % 1000;
            sim.scheduler.assertInvariants();
          }
          sim.drain();
          sim.assertCoveredOnce();
        },
      ),
      { numRuns: 300 },
    );
  });
});

describe('Scheduler with several sources', () => {
  /** Bytes written by lanes [from, to). */
  const writtenBy = (sim: Simulation, from: number, to: number) =>
    sim.scheduler.lanes.slice(from, to).reduce((n, l) => n + l.done, 0);

  test('two sources, one 4x slower: blocks go to each in proportion to its speed', () => {
    // Lanes 0-3 are source A's 4 connections, 4-7 source B's, at a quarter of A's pace.
    const sim = new Simulation(splitIntoBlocks({ start: 0, end: 512 * MiB }, 8 * MiB), 8);
    sim.drain((i) => (i < 4 ? MiB : MiB / 4));
    sim.assertCoveredOnce();
    const a = writtenBy(sim, 0, 4);
    const b = writtenBy(sim, 4, 8);
    assert.equal(a + b, 512 * MiB);
    const ratio = a / b;
    assert.ok(ratio > 3 && ratio < 5, `A wrote ${a}, B ${b}: ratio ${ratio}`);
  });

  test('a fast source takes over the tail of a much slower source (hedging across sources)', () => {
    const sim = new Simulation(splitIntoBlocks({ start: 0, end: 64 * MiB }, 8 * MiB), 8);
    // B (lanes 4-7) crawls at 1/16 of A's pace: without hedging A would idle while B finishes.
    sim.drain((i) => (i < 4 ? MiB : MiB / 16));
    sim.assertCoveredOnce();
    // Alone, B's lanes would need 128 ticks for their 8 MiB blocks; A takes their tails over.
    const ticks = sim.now / 10;
    assert.ok(ticks < 64, `finished after ${ticks} ticks`);
    assert.ok(writtenBy(sim, 0, 4) > 4 * writtenBy(sim, 4, 8), 'A carried the slow tails');
  });

  test('a source dropped mid-file: its ranges are re-queued to the other, every byte written once', () => {
    const sim = new Simulation(splitIntoBlocks({ start: 0, end: 64 * MiB }, 8 * MiB), 4);
    for (const lane of sim.scheduler.lanes) {
      sim.take(lane);
      sim.request(lane);
      sim.request(lane);
      sim.deliver(lane, 2 * MiB);
    }
    // Lanes 2 and 3 (source B) are dropped at a piece boundary: nothing is fetched twice.
    sim.drop(sim.lane(2));
    sim.drop(sim.lane(3));
    assert.equal(sim.rewritable, 0);
    assert.equal(sim.lane(2).part, undefined);
    sim.drain();
    sim.assertCoveredOnce();
    assert.equal(writtenBy(sim, 0, 2), 64 * MiB - 4 * MiB);
  });

  test('a source dropped inside a piece: that piece is fetched again whole, not trusted in part', () => {
    const sim = new Simulation([{ start: 0, end: 16 * MiB }], 2);
    const [a, b] = [sim.lane(0), sim.lane(1)];
    sim.take(a);
    sim.take(b);
    sim.request(b);
    sim.deliver(b, 1.5 * MiB);
    sim.drop(b);
    assert.equal(sim.rewritable, 0.5 * MiB);
    assert.equal(b.part, undefined);
    assert.equal(sim.scheduler.queuedBytes, 7 * MiB, 'from the start of the unfinished piece to the end');
    sim.drain();
    sim.assertCoveredOnce();
  });

  test('a source dropped for a bad piece: its part goes back from that piece, which is fetched again elsewhere', () => {
    const sim = new Simulation([{ start: 0, end: 16 * MiB }], 2);
    const [a, b] = [sim.lane(0), sim.lane(1)];
    sim.take(a);
    sim.take(b);
    sim.request(b);
    sim.deliver(b, 3 * MiB);
    // B's part began at 8 MiB; its second piece [9, 10) MiB failed its hash.
    sim.dead.add(b.index);
    sim.scheduler.release(b, 9 * MiB);
    sim.rewritable += 2 * MiB;
    assert.equal(b.done, MiB, 'only the good piece before the bad one still counts as done');
    assert.equal(sim.scheduler.queuedBytes, 7 * MiB, 'from the bad piece to the end');
    sim.drain();
    sim.assertCoveredOnce();
  });
});

describe('hedgeSplit', () => {
  const part = (received: number, end: number): Part => ({
    start: 0,
    written: received,
    received,
    cursor: end,
    end,
  });

  test('rounds to the nearer piece boundary that finishes sooner, down as well as up', () => {
    // Even point at 10/3 pieces: piece 3 finishes at max(3/1, 7/2) = 3.5, piece 4 at max(4, 3) = 4.
    assert.equal(hedgeSplit(part(0, 10 * MiB), 1, 2, MiB), 3 * MiB);
    // Even point at 6.67 pieces: 6 finishes at max(6, 4/0.5 = 8), 7 at max(7, 6): up is sooner.
    assert.equal(hedgeSplit(part(0, 10 * MiB), 1, 0.5, MiB), 7 * MiB);
  });

  test('never splits behind the bytes received or at the very end', () => {
    assert.equal(hedgeSplit(part(5 * MiB + 1, 6 * MiB), 1, 100, MiB), undefined);
    const at = hedgeSplit(part(2 * MiB + 10, 10 * MiB), 1, 3, MiB);
    assert.ok(at !== undefined && at >= 2 * MiB + 10 && at < 10 * MiB);
  });
});
