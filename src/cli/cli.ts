import { XferError, toXferError } from '../errors.js';
import { forJsonLine, forTerminal } from './escape.js';

export const EXIT_OK = 0;
export const EXIT_FAILED = 1;
export const EXIT_USAGE = 2;
export const EXIT_INTERRUPTED = 130;
/** 128 + SIGPIPE: what a shell reports for a C tool whose reader went away (`xfer ls | head -1`). */
export const EXIT_CLOSED_PIPE = 141;
/** 128 + SIGTERM, as a shell reports a process that SIGTERM ended. */
export const EXIT_TERMINATED = 143;
/** info() writes what it holds once it holds this much, whatever the turn. */
const INFO_BATCH_CHARS = 64 * 1024;

/**
 * What a command may touch of the outside world: human lines on stderr, data
 * on stdout, and the interrupt signal. Commands never reach for `process` directly.
 */
export class Cli {
  readonly interrupt = new AbortController();
  private interrupts = 0;
  /** Set once a command knows it speaks NDJSON: its failures then go to stdout as `error` events too. */
  jsonOutput = false;
  private pendingInfo = '';
  private flushQueued = false;

  constructor(
    readonly stdout: NodeJS.WriteStream,
    readonly stderr: NodeJS.WriteStream,
    readonly stdin: NodeJS.ReadStream,
  ) {}

  get interrupted(): boolean {
    return this.interrupt.signal.aborted;
  }

  /** The exit code for the signal that stopped the command: 130 for Ctrl+C, 143 for SIGTERM. */
  get interruptExitCode(): number {
    return this.interrupt.signal.reason === 'SIGTERM' ? EXIT_TERMINATED : EXIT_INTERRUPTED;
  }

  /**
   * Human-readable line on stderr. Into a pipe or a file, lines are written
   * together once per turn of the event loop: a run of thousands of small
   * files then makes a few writes, not one (and one wake-up of the reader)
   * per file. A terminal gets each line at once.
   */
  info(line: string): void {
    if (this.stderr.isTTY) {
      this.stderr.write(`${line}\n`);
      return;
    }
    this.pendingInfo += `${line}\n`;
    if (this.pendingInfo.length >= INFO_BATCH_CHARS) this.flush();
    else if (!this.flushQueued) {
      this.flushQueued = true;
      setImmediate(() => this.flush());
    }
  }

  /** Writes the lines info() holds: at the end of each turn, and before exiting or prompting. */
  flush(): void {
    this.flushQueued = false;
    if (this.pendingInfo === '') return;
    const text = this.pendingInfo;
    this.pendingInfo = '';
    this.stderr.write(text);
  }

  /** Data line on stdout. */
  out(line: string): void {
    this.stdout.write(`${line}\n`);
  }

  /** One NDJSON line; characters a terminal would obey are \u-escaped, which any JSON parser reads back unchanged. */
  json(event: object): void {
    const line = forJsonLine(JSON.stringify(event));
    this.stdout.write(`${line}\n`);
  }

  /** A failure: one line on stderr and, with --json, an `error` event on stdout. */
  error(err: unknown): void {
    const e = err instanceof XferError ? err : toXferError(err);
    const hint = HINTS[e.code];
    const message = hint === undefined ? e.message : `${e.message} ${hint}`;
    this.info(`xfer: ${forTerminal(message)} [${e.code}]`);
    if (this.jsonOutput) this.json({ type: 'error', code: e.code, message });
  }

  /**
   * The first Ctrl+C (or SIGTERM) asks the command to stop cleanly; a second
   * exits at once. A reader that goes away (`| head -1`) ends the command
   * quietly, as it ends other Unix tools.
   */
  installSignalHandlers(): void {
    const onSignal = (signal: NodeJS.Signals) => {
      this.interrupts++;
      if (this.interrupts > 1) {
        this.info('xfer: interrupted again, exiting now');
        process.exit(signal === 'SIGTERM' ? EXIT_TERMINATED : EXIT_INTERRUPTED);
      }
      this.interrupt.abort(signal);
    };
    // Lines still held when the process ends (process.exit included) are written first.
    process.on('exit', () => this.flush());
    process.on('SIGINT', onSignal);
    process.on('SIGTERM', onSignal);
    // Past a file-size limit (ulimit -f) the kernel would kill us with SIGXFSZ;
    // ignoring it turns that into an EFBIG error, reported like a full disk.
    process.on('SIGXFSZ', () => undefined);
    this.stdout.on('error', (err: NodeJS.ErrnoException) => {
      if (err.code === 'EPIPE') process.exit(EXIT_CLOSED_PIPE);
      throw err;
    });
    // Nowhere left to say anything: carry on without the human lines.
    this.stderr.on('error', () => undefined);
  }

  untilInterrupted(): Promise<void> {
    const signal = this.interrupt.signal;
    if (signal.aborted) return Promise.resolve();
    return new Promise((resolve) => signal.addEventListener('abort', () => resolve(), { once: true }));
  }
}

/** What to do about a failure, in flags: the library's messages never mention the command line. */
const HINTS: Partial<Record<string, string>> = {
  ERR_XFER_ADDRESS_IN_USE: 'Choose another with --port (0 picks a free one), or stop that program.',
  ERR_XFER_PERMISSION: 'Choose --port 1024 or above.',
};
