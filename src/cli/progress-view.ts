import { forTerminal } from './escape.js';
import { fit, textWidth, truncateMiddle } from './text-width.js';
import { humanDuration, humanRate, humanSize } from '../human.js';
import type { PartProgress } from '../client/events.js';

/** What the live view shows of the file being fetched. */
export interface FileView {
  name: string;
  bytes: number;
  total: number;
  bytesPerSecond: number;
  parts: PartProgress[];
  /** A part's latest trouble ("retry 2 in 1.0s [ERR_XFER_CLOSED]"), shown on its own line until it moves again. */
  notes?: ReadonlyMap<number, string>;
}

export interface RenderOptions {
  width: number;
  color: boolean;
}

/** A done line shortens a name to this before it drops its last detail. */
const MIN_NAME_WIDTH = 16;

const FULL = '█';
const EMPTY = '░';

/**
 * The live block for one file, as lines no wider than `width`: a total line
 * (name, bytes, %, speed, ETA) and one bar per part. A pure function of its
 * inputs, so it is unit-tested at any width.
 */
export function renderFileView(view: FileView, { width, color }: RenderOptions): string[] {
  const w = Math.max(20, width);
  const pct = percent(view.bytes, view.total);
  const eta = view.bytesPerSecond > 0 ? (view.total - view.bytes) / view.bytesPerSecond : Number.NaN;
  const stats = ` ${humanSize(view.bytes)}/${humanSize(view.total)} ${String(pct).padStart(3)}% ${humanRate(view.bytesPerSecond)} ETA ${humanDuration(eta)}`;
  const compact = ` ${String(pct).padStart(3)}% ${humanRate(view.bytesPerSecond)}`;
  const tail = textWidth(stats) + 8 <= w ? stats : compact;
  const name = truncateMiddle(forTerminal(view.name), Math.max(4, w - textWidth(tail)));
  const lines = [fit(`${name}${tail}`, w)];
  for (const p of view.parts) {
    const partPct = percent(p.bytes, p.total);
    const label = `  part ${p.part} `;
    const note = view.notes?.get(p.part);
    const suffix = ` ${String(partPct).padStart(3)}%${note === undefined ? '' : `  ${forTerminal(note)}`}`;
    const barWidth = Math.max(4, w - label.length - textWidth(suffix) - 2);
    lines.push(fit(`${label}[${bar(partPct, barWidth, color)}]${suffix}`, w));
  }
  return lines;
}

/**
 * The permanent line for a finished file, never wider than `width`: the details
 * are dropped whole, longest first, so the line never breaks inside a number or
 * the SHA-256, and the name is shortened only when even the shortest form lacks room.
 */
export function renderDoneLine(
  done: {
    file: string;
    size: number;
    seconds: number;
    sha256: string;
    bytesPerSecond: number;
    /** A web file says what was checked; without it, the SHA-256 was (xfer servers always give one). */
    verified?: string | undefined;
  },
  { width, color }: RenderOptions,
): string {
  const rate = done.bytesPerSecond;
  const mark = color ? '\x1b[32m✓\x1b[0m' : '✓';
  const size = humanSize(done.size);
  const verdict = verifiedText(done);
  // The short forms drop a hash's digits, never the news that no hash was checked.
  const short = done.verified === undefined || done.verified.startsWith('sha256') ? 'verified' : verdict;
  const tails = [
    `  ${size} in ${humanDuration(done.seconds)} (${humanRate(rate)})  ${verdict}`,
    `  ${size}  ${verdict}`,
    `  ${size}  ${short}`,
    `  ${short}`,
  ];
  const name = forTerminal(done.file);
  const room = (tail: string) => width - 2 - textWidth(tail);
  const tail =
    tails.find((t) => room(t) >= textWidth(name)) ??
    tails.find((t) => room(t) >= Math.min(textWidth(name), MIN_NAME_WIDTH)) ??
    '';
  return fit(`${mark} ${truncateMiddle(name, Math.max(1, room(tail)))}${tail}`, width);
}

/** Never claims a SHA-256 that was not checked: `verified: size only` says so plainly. */
function verifiedText(done: { sha256: string; verified?: string | undefined }): string {
  if (done.verified === undefined) return `verified sha256 ${done.sha256.slice(0, 12)}`;
  return done.verified.startsWith('sha256')
    ? `verified: ${done.verified} ${done.sha256.slice(0, 12)}`
    : `verified: ${done.verified}`;
}

/** A plain progress line for logs and pipes: no escape codes. */
export function renderPlainProgress(view: FileView): string {
  const parts = view.parts.map((p) => `${p.part}:${percent(p.bytes, p.total)}%`).join(' ');
  return `${forTerminal(view.name)}: ${humanSize(view.bytes)}/${humanSize(view.total)} ${percent(view.bytes, view.total)}% ${humanRate(view.bytesPerSecond)} parts ${parts}`;
}

export function percent(part: number, whole: number): number {
  if (whole <= 0) return 100;
  return Math.min(100, Math.floor((part / whole) * 100));
}

function bar(pct: number, width: number, color: boolean): string {
  const filled = Math.round((pct / 100) * width);
  const done = FULL.repeat(filled);
  const rest = EMPTY.repeat(width - filled);
  return color ? `\x1b[36m${done}\x1b[2m${rest}\x1b[0m` : done + rest;
}
