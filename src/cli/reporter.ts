import type { ClientEvent } from '../client/events.js';
import { humanSize } from '../human.js';
import type { Cli } from './cli.js';
import { forTerminal } from './escape.js';
import { renderCatalog } from './render.js';
import { renderDoneLine, renderFileView, renderPlainProgress, type FileView } from './progress-view.js';
import { fit } from './text-width.js';

export type ReportMode = 'tty' | 'plain' | 'json';

/** quiet: failures only; normal: the catalog, progress, one line per file; verbose: every event. */
export type Verbosity = 'quiet' | 'normal' | 'verbose';

/** Without a terminal, a progress line per file at most this often (and one on completion). */
const PLAIN_INTERVAL_MS = 2000;

/**
 * Turns client events into output: a live block redrawn in place on a
 * terminal, occasional plain lines otherwise, or NDJSON on stdout. Every
 * string that came from a peer goes through forTerminal before it is shown.
 */
export class Reporter {
  private view: FileView | undefined;
  /** Per part of the current file: its latest retry, until the part moves again. */
  private notes = new Map<number, { text: string; bytes: number }>();
  /** A retry outside any part's line (a small file, the catalog): one live line, replaced. */
  private status: { file: string; text: string } | undefined;
  private liveLines = 0;
  private lastPlain = 0;

  constructor(
    private readonly cli: Cli,
    readonly mode: ReportMode,
    private readonly color: boolean,
    private readonly verbosity: Verbosity = 'normal',
  ) {}

  static for(cli: Cli, json: boolean, verbosity: Verbosity = 'normal'): Reporter {
    const tty = cli.stderr.isTTY === true;
    const color = tty && !('NO_COLOR' in process.env) && process.env['TERM'] !== 'dumb';
    const reporter = new Reporter(cli, json ? 'json' : tty ? 'tty' : 'plain', color, verbosity);
    // Bars are laid out for the current width; a resized terminal gets a fresh layout at once.
    if (reporter.mode === 'tty') cli.stderr.on('resize', () => reporter.redraw());
    return reporter;
  }

  readonly handle = (event: ClientEvent): void => {
    if (this.mode === 'json') {
      this.cli.json(event);
      return;
    }
    if (this.verbosity === 'quiet' && event.type !== 'error' && event.type !== 'unknown') return;
    switch (event.type) {
      case 'catalog':
        this.message(
          [
            'Files on the server:',
            ...renderCatalog(event.files, this.mode === 'tty' ? this.width() - 3 : undefined).map(
              (l) => `  ${l}`,
            ),
          ].join('\n'),
        );
        break;
      case 'start':
        this.view = {
          name: event.file,
          bytes: event.resumedBytes,
          total: event.size,
          bytesPerSecond: 0,
          parts: [],
        };
        this.notes.clear();
        this.status = undefined;
        // The first plain progress line comes a full interval in, with a measured speed, never "0 B/s".
        this.lastPlain = Date.now();
        // A small file is one round trip: its done line is enough (a log of thousands stays half as long).
        if (this.verbosity === 'verbose' || (this.mode === 'plain' && event.mode === 'ranges'))
          this.message(
            this.unwrapped(
              `${forTerminal(event.file)}: fetching ${humanSize(event.size)} over ${event.parts.length} connection${event.parts.length === 1 ? '' : 's'}`,
            ),
          );
        break;
      case 'progress':
        for (const p of event.parts) {
          const note = this.notes.get(p.part);
          if (note && p.bytes > note.bytes) this.notes.delete(p.part);
        }
        this.view = {
          name: event.file,
          bytes: event.bytes,
          total: event.total,
          bytesPerSecond: event.bytesPerSecond,
          parts: event.parts,
          notes: new Map([...this.notes].map(([part, n]) => [part, n.text])),
        };
        if (this.mode === 'tty') this.redraw();
        else if (Date.now() - this.lastPlain >= PLAIN_INTERVAL_MS) {
          this.lastPlain = Date.now();
          this.message(renderPlainProgress(this.view));
        }
        break;
      case 'done':
        this.endFile();
        // A log keeps every name whole; a terminal gets a line that cannot wrap.
        this.message(
          renderDoneLine(event, {
            width: this.mode === 'tty' ? this.width() - 1 : Number.POSITIVE_INFINITY,
            color: this.color,
          }),
        );
        break;
      case 'skip':
        this.endFile();
        this.message(`${forTerminal(event.file)}: ${forTerminal(event.reason)}`);
        break;
      case 'note':
        this.message(`${forTerminal(event.file)}: ${forTerminal(event.message)}`);
        break;
      case 'retry':
        this.retry(event);
        break;
      case 'source':
        // The reason may quote a peer's words: escaped again so it can never steer the terminal.
        this.message(forTerminal(event.message));
        break;
      case 'unknown':
      case 'resume':
      case 'restart':
      case 'repair':
        this.message(forTerminal(event.message));
        break;
      case 'error':
        if (event.file !== undefined && [this.view?.name, this.status?.file].includes(event.file))
          this.endFile();
        this.message(
          `xfer: ${event.file !== undefined ? `${forTerminal(event.file)}: ` : ''}${forTerminal(event.message)} [${forTerminal(event.code)}]`,
        );
        break;
    }
  };

  /**
   * On a terminal a retry replaces the part's previous one on that part's own
   * line (or the one status line), so a dying server never scrolls the screen;
   * a log (or --verbose) keeps one line per retry.
   */
  private retry(event: Extract<ClientEvent, { type: 'retry' }>): void {
    const text = `retry ${event.attempt} in ${(event.delayMs / 1000).toFixed(1)}s: ${event.message} [${event.code}]`;
    if (this.mode === 'plain' || this.verbosity === 'verbose') {
      this.message(this.unwrapped(`${forTerminal(event.file)}: part ${event.part} ${forTerminal(text)}`));
      return;
    }
    const part =
      this.view?.name === event.file ? this.view.parts.find((p) => p.part === event.part) : undefined;
    if (this.view && part) {
      this.notes.set(event.part, { text, bytes: part.bytes });
      this.view.notes = new Map([...this.notes].map(([n, note]) => [n, note.text]));
      this.status = undefined;
    } else {
      this.status = { file: event.file, text: `${event.file}: ${text}` };
    }
    this.redraw();
  }

  /** Removes the live block (before exiting or printing a final summary). */
  finish(): void {
    this.clearLive();
    this.endFile();
  }

  private endFile(): void {
    this.view = undefined;
    this.notes.clear();
    this.status = undefined;
  }

  /** On a terminal, a status line is cut to the width rather than wrapped; a log keeps it whole. */
  private unwrapped(line: string): string {
    return this.mode === 'tty' ? fit(line, this.width() - 1) : line;
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
    const width = this.width() - 1;
    const lines = this.view ? renderFileView(this.view, { width, color: this.color }) : [];
    if (this.status !== undefined) lines.push(fit(forTerminal(this.status.text), width));
    if (lines.length === 0) return;
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
