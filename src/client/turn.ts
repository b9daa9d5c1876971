/**
 * One holder at a time, the others in arrival order: `take()` resolves with
 * the function that hands the turn on (calling it twice hands it on once).
 */
export class Turn {
  private held = false;
  private readonly waiting: (() => void)[] = [];

  get busy(): boolean {
    return this.held;
  }

  take(): Promise<() => void> {
    if (!this.held) {
      this.held = true;
      return Promise.resolve(this.release());
    }
    return new Promise((resolve) => this.waiting.push(() => resolve(this.release())));
  }

  private release(): () => void {
    let done = false;
    return () => {
      if (done) return;
      done = true;
      const next = this.waiting.shift();
      if (next) next();
      else this.held = false;
    };
  }
}
