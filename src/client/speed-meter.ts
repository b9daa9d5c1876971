/** Speed is measured over about this much recent time: steady enough to read, quick to follow a change. */
export const SPEED_WINDOW_MS = 2000;

/**
 * A download's recent speed, from samples of how many bytes this run has
 * brought (bytes already on disk when it began never count, so a resumed file
 * does not look faster than the link). Time is passed in.
 */
export class SpeedMeter {
  private readonly samples: { at: number; bytes: number }[] = [];

  /** Records that this run has brought `bytes` so far; returns bytes per second over the window. */
  sample(now: number, bytes: number): number {
    // Fewer bytes than before (pieces dropped for a repair): measure afresh.
    if ((this.samples.at(-1)?.bytes ?? 0) > bytes) this.samples.length = 0;
    this.samples.push({ at: now, bytes });
    while (this.samples.length > 2 && now - (this.samples[0]?.at ?? now) > SPEED_WINDOW_MS)
      this.samples.shift();
    const first = this.samples[0] ?? { at: now, bytes };
    return now > first.at ? Math.round(((bytes - first.bytes) * 1000) / (now - first.at)) : 0;
  }
}
