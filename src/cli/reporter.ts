import type { ClientEvent } from '../client/events.js';
import { printableName } from '../protocol/index.js';
import type { Cli } from './cli.js';
import { renderCatalog } from './render.js';
import { renderDoneLine, renderFileView, renderPlainProgress, type FileView } from './progress-view.js';

export type ReportMode = 'tty' | 'plain' | 'json';

/** Without a terminal, a progress line per file at most this often (and one on completion). */
const PLAIN_INTERVAL_MS = 2000;

/**
 * Turns client events into output: a live block redrawn in place on a
 * terminal, occasional plain lines otherwise, or NDJSON on stdout.
 */
export class Reporter {
  private view: FileView | undefined;
  private liveLines = 0;
  private lastPlain = 0;

  constructor(
    private readonly cli: Cli,
    readonly mode: ReportMode,
    private readonly color: boolean,
  ) {}

  static for(cli: Cli, json: boolean): Reporter {
    const tty = cli.stderr.isTTY === true;
    const color = tty && !('NO_COLOR' in process.env) && process.env['TERM'] !== 'dumb';
    const reporter = new Reporter(cli, json ? 'json' : tty ? 'tty' : 'plain', color);
    // Bars are laid out for the current width; a resized terminal gets a fresh layout at once.
    if (reporter.mode === 'tty') cli.stderr.on('resize', () => reporter.redraw());
    return reporter;
  }

  readonly handle = (event: ClientEvent): void => {
    if (this.mode === 'json') {
      this.cli.json(event);
      return;
    }
    switch (event.type) {
      case 'catalog':
        this.message(['Files on the server:', ...renderCatalog(event.files).map((l) => `  ${l}`)].join('\n'));
        break;
      case 'start':
        this.view = {
          name: event.file,
          bytes: event.resumedBytes,
          total: event.size,
          bytesPerSecond: 0,
          parts: [],
        };
        // The first plain progress line comes a full interval in, with a measured speed, never "0 B/s".
        this.lastPlain = Date.now();
        // A small file is one round trip: its done line is enough (a log of thousands stays half as long).
        if (this.mode === 'plain' && event.mode === 'ranges')
          this.message(
            `${printableName(event.file)}: fetching ${event.size} bytes over ${event.parts.length} connection${event.parts.length === 1 ? '' : 's'}`,
          );
        break;
      case 'progress':
        this.view = {
          name: event.file,
          bytes: event.bytes,
          total: event.total,
          bytesPerSecond: event.bytesPerSecond,
          parts: event.parts,
        };
        if (this.mode === 'tty') this.redraw();
        else if (Date.now() - this.lastPlain >= PLAIN_INTERVAL_MS) {
          this.lastPlain = Date.now();
          this.message(renderPlainProgress(this.view));
        }
        break;
      case 'done':
        this.view = undefined;
        this.message(renderDoneLine(event, { width: this.width(), color: this.color }));
        break;
      case 'skip':
        this.message(`${printableName(event.file)}: ${event.reason}`);
        break;
      case 'note':
        this.message(`${printableName(event.file)}: ${event.message}`);
        break;
      case 'retry':
        this.message(
          `${printableName(event.file)}: part ${event.part} ${event.message} [${event.code}]; retry ${event.attempt} in ${(event.delayMs / 1000).toFixed(1)}s`,
        );
        break;
      case 'source':
        // The reason may quote a peer's words: escaped again so it can never steer the terminal.
        this.message(printableName(event.message));
        break;
      case 'unknown':
      case 'resume':
      case 'restart':
      case 'repair':
        this.message(event.message);
        break;
      case 'error':
        this.message(
          `xfer: ${event.file ? `${printableName(event.file)}: ` : ''}${event.message} [${event.code}]`,
        );
        break;
    }
  };

  /** Removes the live block (before exiting or printing a final summary). */
  finish(): void {
    this.clearLive();
    this.view = undefined;
  }

  private width(): number {
    return this.cli.stderr.columns || 80;
  }

  /** A permanent line, printed above the live block. */
  private message(text: string): void {
    this.clearLive();
    this.cli.info(text);
    if (this.mode === 'tty') this.redraw();
  }

  redraw(): void {
    this.clearLive();
    if (!this.view) return;
    const lines = renderFileView(this.view, { width: this.width() - 1, color: this.color });
    this.cli.stderr.write(`${lines.join('\n')}\n`);
    this.liveLines = lines.length;
  }

  private clearLive(): void {
    if (this.mode !== 'tty' || this.liveLines === 0) return;
    // Up to the first line of the block, then clear to the end of the screen.
    this.cli.stderr.write(`\x1b[${this.liveLines}F\x1b[J`);
    this.liveLines = 0;
  }
}
