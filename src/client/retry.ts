import { setTimeout as delay } from 'node:timers/promises';
import { AbortedError, errorFromCode, toXferError, type XferError } from '../errors.js';
import { DEFAULT_STALL_TIMEOUT_MS, printableName } from '../protocol/index.js';
import type { EmitEvent } from './events.js';

/**
 * When and how often a failed connection or range is tried again, and when a
 * slow one counts as stalled: one object, shared by the library and the CLI
 * flags, documented in docs/protocol.md §5.
 */
export interface RetryPolicy {
  /** Consecutive failed attempts without useful progress (see minProgressBytes) before giving up. */
  maxAttempts: number;
  /** First back-off delay; each further attempt doubles it, up to maxDelayMs, with jitter. */
  baseDelayMs: number;
  maxDelayMs: number;
  /** The stall window: a connection with requests outstanding that receives nothing for this long is closed and retried. */
  stallTimeoutMs: number;
  /** The floor rate: a connection busy for a whole stall window that received less than this per second in it is stalled too. */
  minBytesPerSecond: number;
  /** An attempt that failed after delivering fewer bytes than this counts against maxAttempts; more starts a fresh count. */
  minProgressBytes: number;
  /** A file that gains fewer than minProgressBytes on disk for this long is given up (ERR_XFER_NO_PROGRESS). */
  noProgressTimeoutMs: number;
}

/** At least 30 s (about 45 s on average) of trying before giving up: enough to ride out a server restart. */
export const DEFAULT_RETRY_POLICY: RetryPolicy = {
  maxAttempts: 16,
  baseDelayMs: 250,
  maxDelayMs: 5_000,
  stallTimeoutMs: DEFAULT_STALL_TIMEOUT_MS,
  minBytesPerSecond: 1024,
  minProgressBytes: 1024 * 1024,
  noProgressTimeoutMs: 120_000,
};

/**
 * Behind a load balancer a request may reach a backend holding another
 * version of the file, which refuses it (ERR_XFER_CHANGED) before sending a
 * byte. Such a refusal is retried on a fresh connection (which may reach
 * another backend) while fewer than this many failures are counted; then the
 * file counts as changed.
 */
export const MAX_VERSION_REFUSALS = 4;

export type RetryDecision =
  | { retry: true; attempt: number; delayMs: number }
  | { retry: false; attempt: number; reason: 'verdict' | 'exhausted' };

/**
 * The one retry decision (after got's calculate-retry-delay): given the
 * failures counted so far, the error, and how many bytes the failed attempt
 * delivered, whether to try again and after how long. A verdict (not found,
 * corrupt, auth) is never retried (a version refusal only a few times); an attempt that made useful progress starts
 * a fresh count, so a long download survives many brief outages, while one
 * that made almost none (a server that sends a little and goes quiet) still
 * uses up the budget.
 */
export function decideRetry(
  policy: RetryPolicy,
  failure: { attempt: number; error: XferError; progressBytes: number },
  random: () => number = Math.random,
): RetryDecision {
  const refusal = failure.error.code === 'ERR_XFER_CHANGED' && failure.attempt < MAX_VERSION_REFUSALS;
  if (!failure.error.retryable && !refusal)
    return { retry: false, attempt: failure.attempt, reason: 'verdict' };
  const attempt = failure.progressBytes >= policy.minProgressBytes ? 1 : failure.attempt + 1;
  if (attempt > policy.maxAttempts) return { retry: false, attempt, reason: 'exhausted' };
  // A web server's Retry-After (429, 503) is a floor for the delay.
  const asked = (failure.error as { retryAfterMs?: number }).retryAfterMs ?? 0;
  return { retry: true, attempt, delayMs: Math.max(asked, backoffDelay(attempt, policy, random)) };
}

/**
 * decideRetry for one part of a file, acted on: throws the error that ends
 * the download (the verdict itself, or "gave up after N retries"), else
 * reports the retry and waits out its back-off. Returns the attempt count.
 */
export async function retryOrGiveUp(
  o: { policy: RetryPolicy; signal: AbortSignal; emit: EmitEvent; file: { name: string } },
  part: number,
  failure: { attempt: number; error: XferError; progressBytes: number },
): Promise<number> {
  const decision = decideRetry(o.policy, failure);
  const e = failure.error;
  if (!decision.retry) {
    if (decision.reason === 'verdict') throw e;
    throw errorFromCode(
      e.code,
      `Gave up on "${printableName(o.file.name)}" after ${decision.attempt - 1} retries: ${e.message}`,
      { cause: e },
    );
  }
  const { attempt, delayMs } = decision;
  o.emit({ type: 'retry', file: o.file.name, part, attempt, delayMs, code: e.code, message: e.message });
  await waitUnlessAborted(delayMs, o.signal);
  return attempt;
}

/**
 * Runs a request that moves no file bytes (a STAT, a probe), retrying what
 * may pass with decideRetry's back-off; `beforeRetry` runs before each wait
 * (e.g. to drop a failed connection; it may throw to stop). A verdict or an
 * exhausted budget throws.
 */
export async function retrying<T>(
  policy: RetryPolicy,
  signal: AbortSignal,
  request: () => Promise<T>,
  beforeRetry: (error: XferError) => void = () => undefined,
): Promise<T> {
  for (let attempt = 0; ;) {
    try {
      return await request();
    } catch (err) {
      if (signal.aborted) throw abortError();
      const error = toXferError(err);
      const decision = decideRetry(policy, { attempt, error, progressBytes: 0 });
      if (!decision.retry) throw error;
      attempt = decision.attempt;
      beforeRetry(error);
      await waitUnlessAborted(decision.delayMs, signal);
    }
  }
}

/** Delay before attempt `attempt` (1-based): exponential with jitter in [half, full], so clients do not retry in step. */
export function backoffDelay(
  attempt: number,
  policy: RetryPolicy,
  random: () => number = Math.random,
): number {
  const ceiling = Math.min(policy.maxDelayMs, policy.baseDelayMs * 2 ** Math.max(0, attempt - 1));
  return Math.round(ceiling / 2 + (random() * ceiling) / 2);
}

/** Waits `ms`; an abort ends the wait at once with ERR_XFER_ABORTED. */
export async function waitUnlessAborted(ms: number, signal: AbortSignal): Promise<void> {
  try {
    await delay(ms, undefined, { signal });
  } catch (err) {
    if (signal.aborted) throw abortError();
    throw err;
  }
}

export function abortError(): XferError {
  return new AbortedError('Stopped on request; the partial download is kept and resumes next time.');
}
