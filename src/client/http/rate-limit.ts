import { setTimeout as delay } from 'node:timers/promises';

/** A budget runs ahead of the clock by at most this much: short bursts pass, the average holds. */
const BURST_MS = 250;

/**
 * One cap on the bytes a run receives from web servers per second, shared by
 * all its connections. Each chunk is charged as it arrives; the reader then
 * waits until the bytes fit, and while it waits TCP holds the server back.
 */
export class RateLimit {
  private due = 0;

  constructor(
    readonly bytesPerSecond: number,
    private readonly now: () => number = Date.now,
  ) {}

  /** The wait (ms) after receiving `bytes` now; also books them. */
  charge(bytes: number): number {
    const now = this.now();
    this.due = Math.max(this.due, now - BURST_MS) + (bytes / this.bytesPerSecond) * 1000;
    return Math.max(0, this.due - now - BURST_MS);
  }

  async take(bytes: number, signal: AbortSignal): Promise<void> {
    const wait = this.charge(bytes);
    if (wait > 0) await delay(wait, undefined, { signal });
  }
}
