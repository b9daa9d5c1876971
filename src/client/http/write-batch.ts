import type { ChunkSink } from './range-fetch.js';

/** Bytes gathered before one write: 16 writes per 16 MiB instead of 256 of undici's 64 KiB chunks. */
export const WRITE_BATCH_BYTES = 1024 * 1024;
/** Bytes are never held longer than this, so progress and stall checks see a slow link's bytes in time. */
export const WRITE_BATCH_MAX_HOLD_MS = 100;

/**
 * Gathers one connection's consecutive body chunks into one reused buffer and
 * hands them to a sink a batch at a time: a positional write per 64 KiB chunk
 * cost the main thread more than the copy that batching adds (profiled on a
 * 256 MiB fetch). A batch goes out when it is full, when the next chunk is not
 * contiguous with it, when it has waited WRITE_BATCH_MAX_HOLD_MS, and at every
 * `flush` (the end of an answer, a failure): bytes received are never lost.
 * One batch serves one answer at a time (a connection's); the sink must use
 * each batch before returning, as with any ChunkSink.
 */
export class WriteBatch {
  /** Allocated at the first chunk it must hold: a batch whose chunks all go straight through never has one. */
  private buffer: Buffer | undefined;
  private start = 0;
  private filled = 0;
  private since = 0;

  constructor(
    private readonly bytes = WRITE_BATCH_BYTES,
    private readonly now: () => number = Date.now,
  ) {}

  /** Takes `chunk`, the bytes at `position`; it may be reused once this returns. */
  push(chunk: Buffer, position: number, sink: ChunkSink): void {
    if (this.filled > 0 && position !== this.start + this.filled) this.flush(sink);
    if (this.filled === 0 && chunk.length >= this.bytes / 8) {
      sink(chunk, position); // already large (a read of our own socket): written as it is, without a copy
      return;
    }
    const buffer = (this.buffer ??= Buffer.allocUnsafeSlow(this.bytes));
    let done = 0;
    while (done < chunk.length) {
      if (this.filled === 0) {
        this.start = position + done;
        this.since = this.now();
      }
      const n = chunk.copy(buffer, this.filled, done);
      this.filled += n;
      done += n;
      if (this.filled === buffer.length) this.flush(sink);
    }
    if (this.filled > 0 && this.now() - this.since >= WRITE_BATCH_MAX_HOLD_MS) this.flush(sink);
  }

  /** Hands over whatever is gathered. */
  flush(sink: ChunkSink): void {
    if (this.filled === 0 || !this.buffer) return;
    const filled = this.filled;
    this.filled = 0;
    sink(this.buffer.subarray(0, filled), this.start);
  }
}
