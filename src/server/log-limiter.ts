import { MS_PER_SECOND } from './limits.js';

export interface ServerLog {
  level: 'debug' | 'info' | 'warn' | 'error';
  message: string;
}

/** How often repeated log lines of one kind are summed up. */
export const LOG_SUMMARY_INTERVAL_MS = 10_000;

interface Held {
  first: ServerLog;
  suppressed: number;
}

/**
 * Keeps lines a peer can cause by the thousand (refusals, failed proofs,
 * accept errors) from flooding the log: the first line of each kind in an
 * interval is logged at once, the rest are counted, and when the interval
 * ends one summary line gives the count. Kinds are fixed strings from our own
 * code, so the map stays small; one timer serves every kind.
 */
export class LogLimiter {
  private readonly held = new Map<string, Held>();
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly emit: (entry: ServerLog) => void,
    private readonly intervalMs = LOG_SUMMARY_INTERVAL_MS,
  ) {}

  log(kind: string, entry: ServerLog): void {
    const held = this.held.get(kind);
    if (held) {
      held.suppressed++;
      return;
    }
    this.held.set(kind, { first: entry, suppressed: 0 });
    this.emit(entry);
    this.timer ??= setTimeout(() => this.flush(), this.intervalMs).unref();
  }

  /** Writes the pending summaries now (at the end of an interval, or when the server stops). */
  flush(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
    const seconds = Math.round(this.intervalMs / MS_PER_SECOND);
    for (const { first, suppressed } of this.held.values()) {
      if (suppressed === 0) continue;
      this.emit({
        level: first.level,
        message: `${suppressed} more like this in the last ${seconds} s: ${first.message}`,
      });
    }
    this.held.clear();
  }
}
