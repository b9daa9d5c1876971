import { MS_PER_SECOND } from './limits.js';

/**
 * A request budget: `ratePerSecond` tokens flow in, up to `burst` are kept,
 * each request takes one. Time is passed in, so the bucket is pure.
 */
export class TokenBucket {
  private tokens: number;
  private last: number;

  constructor(
    private readonly ratePerSecond: number,
    private readonly burst: number,
    now: number,
  ) {
    this.tokens = burst;
    this.last = now;
  }

  /** Takes one token; false when the bucket is empty. */
  take(now: number): boolean {
    const refill = ((now - this.last) / MS_PER_SECOND) * this.ratePerSecond;
    this.tokens = Math.min(this.burst, this.tokens + Math.max(0, refill));
    this.last = now;
    if (this.tokens < 1) return false;
    this.tokens -= 1;
    return true;
  }
}
