import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { readFile, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { setImmediate as tick } from 'node:timers/promises';
import { describe, test, type TestContext } from 'node:test';
import { FileDownload } from '../../src/client/download.js';
import type { ClientEvent } from '../../src/client/events.js';
import { DEFAULT_RETRY_POLICY } from '../../src/client/retry.js';
import type { RangeChannel, RangeRequest, RangeSource, SourceCapabilities } from '../../src/client/source.js';
import { ConnectionClosedError, InternalError } from '../../src/errors.js';
import { patternBytes, tempDir } from '../helpers/tmp.js';

const MiB = 1024 * 1024;
const PIECE = MiB;
const digest = (b: Buffer) => createHash('sha256').update(b).digest();

/**
 * A RangeSource serving a Buffer, in 64 KiB chunks with a turn of the event
 * loop between them, each channel's requests in order, as a socket would. It records every read, can cut a
 * channel once after some bytes, and can corrupt what it sends.
 */
class MemorySource implements RangeSource {
  readonly reads: { slot: number; offset: number; length: number }[] = [];
  private cutAfter: number | undefined;
  private readonly closers = new Map<number, () => void>();
  corruptAt: number | undefined;

  constructor(
    readonly label: string,
    private readonly content: Buffer,
    readonly capabilities: SourceCapabilities,
    options: { cutAfterBytes?: number } = {},
  ) {
    this.cutAfter = options.cutAfterBytes;
  }

  channel(slot: number): Promise<RangeChannel> {
    const alive = { value: true };
    const closer = () => (alive.value = false);
    this.closers.set(slot, closer);
    // Requests on one channel are answered strictly in order, as the seam requires.
    let previous: Promise<void> = Promise.resolve();
    const read = (req: RangeRequest) => {
      const reading = previous.catch(() => undefined).then(() => this.read(slot, req, alive));
      previous = reading;
      return reading;
    };
    return Promise.resolve({ read });
  }

  drop(slot: number): void {
    this.closers.get(slot)?.();
  }

  dropAll(): void {
    for (const close of this.closers.values()) close();
  }

  pieces() {
    if (!this.capabilities.pieceHashes) return Promise.reject(new InternalError('no piece hashes'));
    const hashes = [];
    for (let p = 0; p * PIECE < this.content.length; p++)
      hashes.push(digest(this.content.subarray(p * PIECE, (p + 1) * PIECE)));
    return Promise.resolve({ identity: identityOf(this.content), pieceSize: PIECE, hashes });
  }

  private async read(slot: number, req: RangeRequest, alive: { value: boolean }): Promise<void> {
    this.reads.push({ slot, offset: req.offset, length: req.length });
    for (let at = req.offset; at < req.offset + req.length;) {
      await tick();
      if (!alive.value) throw new ConnectionClosedError();
      const end = Math.min(at + 64 * 1024, req.offset + req.length);
      const chunk = Buffer.from(this.content.subarray(at, end));
      if (this.corruptAt !== undefined && this.corruptAt >= at && this.corruptAt < end) {
        chunk[this.corruptAt - at] = (chunk[this.corruptAt - at] ?? 0) ^ 0xff;
        this.corruptAt = undefined;
      }
      req.onChunk(chunk, at);
      at = end;
      if (this.cutAfter !== undefined && at >= this.cutAfter) {
        this.cutAfter = undefined;
        alive.value = false;
        throw new ConnectionClosedError();
      }
    }
  }
}

function identityOf(content: Buffer) {
  return { size: content.length, mtimeUs: 1, sha256: digest(content) };
}

async function download(t: TestContext, content: Buffer, sources: RangeSource[]) {
  const dir = await tempDir(t);
  const paths = { final: join(dir, 'f'), part: join(dir, 'f.part'), state: join(dir, '.f.xfer') };
  const events: ClientEvent[] = [];
  const job = new FileDownload({
    sources,
    paths,
    file: { name: 'f', identity: identityOf(content), pieceSize: PIECE },
    policy: { ...DEFAULT_RETRY_POLICY, baseDelayMs: 1, maxDelayMs: 5 },
    signal: new AbortController().signal,
    emit: (e) => events.push(e),
  });
  await job.run();
  assert.ok((await readFile(paths.final)).equals(content), 'the file is exact');
  assert.deepEqual(await readdir(dir), ['f'], 'no .part or state left');
  return events;
}

/** No byte is asked for twice unless a failure or a repair explains it. */
function assertDisjoint(reads: { offset: number; length: number }[]): void {
  const sorted = [...reads].sort((a, b) => a.offset - b.offset);
  for (let i = 1; i < sorted.length; i++) {
    const prev = sorted[i - 1];
    const next = sorted[i];
    assert.ok(prev && next && prev.offset + prev.length <= next.offset, 'reads overlap');
  }
}

describe('FileDownload over any RangeSource', () => {
  const ranged = { maxConnections: 3, ranges: true, pieceHashes: true };

  test('a ranged source: one read per request, over all its channels, no byte asked for twice', async (t) => {
    const content = patternBytes(20 * MiB + 3, 51);
    const source = new MemorySource('mem', content, ranged);
    await download(t, content, [source]);
    assertDisjoint(source.reads);
    assert.deepEqual([...new Set(source.reads.map((r) => r.slot))].sort(), [0, 1, 2]);
  });

  test('a channel cut mid-way is retried from the first byte not received', async (t) => {
    const content = patternBytes(10 * MiB, 52);
    const source = new MemorySource('mem', content, ranged, { cutAfterBytes: MiB + 100 });
    const events = await download(t, content, [source]);
    assert.equal(events.filter((e) => e.type === 'retry').length, 1);
    const retried = source.reads.find((r) => r.offset % MiB !== 0);
    assert.ok(retried, 'a read starts where the cut one stopped');
  });

  test('a source that cannot serve ranges is read whole on one channel, and from 0 again after a cut', async (t) => {
    const content = patternBytes(6 * MiB + 1, 53);
    const whole = { maxConnections: 4, ranges: false, pieceHashes: false };
    const source = new MemorySource('whole', content, whole, { cutAfterBytes: 2 * MiB });
    await download(t, content, [source]);
    assert.deepEqual(
      source.reads.map((r) => [r.slot, r.offset]),
      [
        [0, 0],
        [0, 0],
      ],
    );
    assert.ok(source.reads.every((r) => r.length === content.length));
  });

  test('without piece hashes, a damaged file is fetched again whole', async (t) => {
    const content = patternBytes(4 * MiB, 54);
    const source = new MemorySource('mem', content, { ...ranged, pieceHashes: false });
    source.corruptAt = 3 * MiB + 7;
    const events = await download(t, content, [source]);
    const repair = events.find((e) => e.type === 'repair');
    assert.equal(repair?.type === 'repair' ? repair.pieces : 0, 4);
  });

  test('two sources share one file: each serves some of it, none of it twice', async (t) => {
    const content = patternBytes(24 * MiB, 55);
    const a = new MemorySource('a', content, { ...ranged, maxConnections: 2 });
    const b = new MemorySource('b', content, { ...ranged, maxConnections: 2 });
    await download(t, content, [a, b]);
    assert.ok(a.reads.length > 0 && b.reads.length > 0, `a: ${a.reads.length}, b: ${b.reads.length}`);
    assertDisjoint([...a.reads, ...b.reads]);
  });
});
