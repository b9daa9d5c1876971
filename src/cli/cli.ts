import { XferError, toXferError } from '../errors.js';

export const EXIT_OK = 0;
export const EXIT_FAILED = 1;
export const EXIT_USAGE = 2;
export const EXIT_INTERRUPTED = 130;
/** 128 + SIGTERM, as a shell reports a process that SIGTERM ended. */
export const EXIT_TERMINATED = 143;

/**
 * What a command may touch of the outside world: human lines on stderr, data
 * on stdout, and the interrupt signal. Commands never reach for `process` directly.
 */
export class Cli {
  readonly interrupt = new AbortController();
  private interrupts = 0;

  constructor(
    readonly stdout: NodeJS.WriteStream,
    readonly stderr: NodeJS.WriteStream,
    readonly stdin: NodeJS.ReadStream,
  ) {}

  get interrupted(): boolean {
    return this.interrupt.signal.aborted;
  }

  /** Human-readable line on stderr. */
  info(line: string): void {
    this.stderr.write(`${line}\n`);
  }

  /** Data line on stdout. */
  out(line: string): void {
    this.stdout.write(`${line}\n`);
  }

  json(event: object): void {
    this.stdout.write(`${JSON.stringify(event)}\n`);
  }

  error(err: unknown): void {
    const e = err instanceof XferError ? err : toXferError(err);
    this.info(`xfer: ${e.message} [${e.code}]`);
  }

  /** The first Ctrl+C (or SIGTERM) asks the command to stop cleanly; a second exits at once. */
  installSignalHandlers(): void {
    const onSignal = (signal: NodeJS.Signals) => {
      this.interrupts++;
      if (this.interrupts > 1) {
        this.info('xfer: interrupted again, exiting now');
        process.exit(EXIT_INTERRUPTED);
      }
      this.interrupt.abort(signal);
    };
    process.on('SIGINT', onSignal);
    process.on('SIGTERM', onSignal);
    // Past a file-size limit (ulimit -f) the kernel would kill us with SIGXFSZ;
    // ignoring it turns that into an EFBIG error, reported like a full disk.
    process.on('SIGXFSZ', () => undefined);
  }

  untilInterrupted(): Promise<void> {
    const signal = this.interrupt.signal;
    if (signal.aborted) return Promise.resolve();
    return new Promise((resolve) => signal.addEventListener('abort', () => resolve(), { once: true }));
  }
}
