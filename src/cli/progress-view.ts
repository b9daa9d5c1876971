import { textWidth } from './text-width.js';
import { humanDuration, humanRate, humanSize } from '../human.js';
import type { PartProgress } from '../client/events.js';
import { printableName } from '../protocol/index.js';

/** What the live view shows of the file being fetched. */
export interface FileView {
  name: string;
  bytes: number;
  total: number;
  bytesPerSecond: number;
  parts: PartProgress[];
}

export interface RenderOptions {
  width: number;
  color: boolean;
}

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
  const name = truncateMiddle(printableName(view.name), Math.max(4, w - textWidth(tail)));
  const lines = [fit(`${name}${tail}`, w)];
  for (const p of view.parts) {
    const partPct = percent(p.bytes, p.total);
    const label = `  part ${p.part} `;
    const suffix = ` ${String(partPct).padStart(3)}%`;
    const barWidth = Math.max(4, w - label.length - suffix.length - 2);
    lines.push(fit(`${label}[${bar(partPct, barWidth, color)}]${suffix}`, w));
  }
  return lines;
}

/** The permanent line for a finished file. */
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
  const tail = `  ${humanSize(done.size)} in ${humanDuration(done.seconds)} (${humanRate(rate)})  ${verifiedText(done)}`;
  const name = truncateMiddle(printableName(done.file), Math.max(8, width - 2 - textWidth(tail)));
  return `${mark} ${name}${tail}`;
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
  return `${printableName(view.name)}: ${humanSize(view.bytes)}/${humanSize(view.total)} ${percent(view.bytes, view.total)}% ${humanRate(view.bytesPerSecond)} parts ${parts}`;
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

/** Keeps both ends of a long name ("very-long…name.bin"), measured in terminal columns. */
export function truncateMiddle(text: string, max: number): string {
  if (textWidth(text) <= max) return text;
  const chars = [...text];
  let head = '';
  let tail = '';
  let i = 0;
  let j = chars.length - 1;
  const budget = max - 1;
  while (i <= j) {
    const takeHead = textWidth(head) <= textWidth(tail);
    const next = takeHead ? chars[i]! : chars[j]!;
    if (textWidth(head) + textWidth(tail) + textWidth(next) > budget) break;
    if (takeHead) {
      head += next;
      i++;
    } else {
      tail = next + tail;
      j--;
    }
  }
  return `${head}…${tail}`;
}

/** Cuts a line (escape codes aside) to `width` columns so it can never wrap. */
function fit(line: string, width: number): string {
  if (textWidth(line) <= width) return line;
  let out = '';
  for (const ch of line) {
    if (textWidth(out + ch) > width) break;
    out += ch;
  }
  return out;
}
