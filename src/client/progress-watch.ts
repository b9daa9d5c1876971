import { NoProgressError, StalledError } from '../errors.js';
import { printableName } from '../protocol/index.js';
import type { RetryPolicy } from './retry.js';

/** How many times per stall window the watch looks: a drip is caught within 1.25 windows. */
export const CHECKS_PER_WINDOW = 4;

interface LaneWatch {
  /** When the lane's current attempt began asking for bytes. */
  busySince: number;
  received: number;
  /** (time, received) at each check during the last window, oldest first. */
  samples: { at: number; received: number }[];
}

export interface WatchVerdict {
  /** Lanes busy for a whole window that received less than the floor rate in it. */
  stalled: number[];
  /** The file gained less than minProgressBytes for noProgressTimeoutMs. */
  gaveUp: boolean;
}

/**
 * The minimum-progress rule of docs/protocol.md §5, as pure code with time
 * passed in: a lane (one connection working on the file) that has asked for
 * bytes for a whole stall window and received fewer than
 * `minBytesPerSecond × window` in it is stalled, so a server that drips one
 * byte a second loses the connection as one that sends nothing does; and a
 * file whose bytes on disk grow by less than `minProgressBytes` for
 * `noProgressTimeoutMs` is given up, however its connections behave.
 */
export class ProgressWatch {
  private readonly lanes = new Map<number, LaneWatch>();
  private fileBytes = 0;
  private useful: { at: number; bytes: number };

  constructor(
    private readonly policy: RetryPolicy,
    now: number,
  ) {
    this.useful = { at: now, bytes: 0 };
  }

  /** How often `check` should run. */
  get checkIntervalMs(): number {
    return Math.max(1, Math.floor(this.policy.stallTimeoutMs / CHECKS_PER_WINDOW));
  }

  /** A lane started an attempt (its first request is about to go out). */
  busy(lane: number, now: number): void {
    this.lanes.set(lane, { busySince: now, received: 0, samples: [{ at: now, received: 0 }] });
  }

  /** A lane stopped asking (no work left, or it failed and backs off). */
  idle(lane: number): void {
    this.lanes.delete(lane);
  }

  /** `bytes` arrived on `lane` and were written. */
  received(lane: number, bytes: number, now: number): void {
    const watch = this.lanes.get(lane);
    if (watch) watch.received += bytes;
    this.fileBytes += bytes;
    if (this.fileBytes - this.useful.bytes >= this.policy.minProgressBytes) {
      this.useful = { at: now, bytes: this.fileBytes };
    }
  }

  check(now: number): WatchVerdict {
    const window = this.policy.stallTimeoutMs;
    const floor = (this.policy.minBytesPerSecond * window) / 1000;
    const stalled: number[] = [];
    for (const [lane, watch] of this.lanes) {
      watch.samples.push({ at: now, received: watch.received });
      // Keep the newest sample at least a window old: it is the window's baseline.
      while (watch.samples.length > 1 && (watch.samples[1]?.at ?? now) <= now - window) watch.samples.shift();
      const baseline = watch.samples[0];
      if (!baseline || now - watch.busySince < window) continue;
      if (baseline.at > now - window) continue;
      if (watch.received - baseline.received < floor) stalled.push(lane);
    }
    return { stalled, gaveUp: now - this.useful.at >= this.policy.noProgressTimeoutMs };
  }
}

/** Why the engine closed a lane's connection under the floor-rate rule. */
export function stalledError(policy: RetryPolicy, from: string): StalledError {
  return new StalledError(
    `Under ${policy.minBytesPerSecond} bytes/s for ${policy.stallTimeoutMs / 1000} s from ${from}.`,
  );
}

/** Why a file was given up under the overall no-progress rule. */
export function noProgressError(policy: RetryPolicy, name: string): NoProgressError {
  return new NoProgressError(
    `"${printableName(name)}" gained less than ${policy.minProgressBytes} bytes in ${policy.noProgressTimeoutMs / 1000} s; giving up. What arrived is kept for the next run.`,
  );
}
