import { DEFAULT_STALL_TIMEOUT_MS } from '../protocol/index.js';

/**
 * When and how often a failed connection or range is tried again: one object,
 * shared by the library and the CLI flags, documented in docs/protocol.md.
 */
export interface RetryPolicy {
  /** Consecutive failures without progress before giving up (the count resets when bytes arrive). */
  maxAttempts: number;
  /** First back-off delay; each further attempt doubles it, up to maxDelayMs, with full jitter. */
  baseDelayMs: number;
  maxDelayMs: number;
  /** A connection with requests outstanding that receives nothing for this long is closed and retried. */
  stallTimeoutMs: number;
}

/** At least 30 s (about 45 s on average) of trying before giving up: enough to ride out a server restart. */
export const DEFAULT_RETRY_POLICY: RetryPolicy = {
  maxAttempts: 16,
  baseDelayMs: 250,
  maxDelayMs: 5_000,
  stallTimeoutMs: DEFAULT_STALL_TIMEOUT_MS,
};

/** Delay before attempt `attempt` (1-based): exponential with full jitter, so clients do not retry in step. */
export function backoffDelay(
  attempt: number,
  policy: RetryPolicy,
  random: () => number = Math.random,
): number {
  const ceiling = Math.min(policy.maxDelayMs, policy.baseDelayMs * 2 ** Math.max(0, attempt - 1));
  return Math.round(ceiling / 2 + (random() * ceiling) / 2);
}

/** Resolves after `ms`, or rejects at once when the signal aborts. */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason as Error);
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal?.reason as Error);
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}
