import stringWidth from 'string-width';

/** Printable ASCII and the symbols xfer draws itself (✓ … █ ░ ·): one column each. */
const ONE_COLUMN_EACH = /^[\x20-\x7e\u2713\u2026\u2588\u2591\u00b7]*$/;

/**
 * Terminal columns a string takes. Nearly every name and every line xfer makes
 * (a done line starts with ✓) is one column a character; only the rest goes to
 * string-width, whose grapheme segmentation costs ~40-100 µs a call (a listing
 * or a log of thousands of files would spend most of its time there).
 */
export function textWidth(text: string): number {
  return ONE_COLUMN_EACH.test(text) ? text.length : stringWidth(text);
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
export function fit(line: string, width: number): string {
  if (textWidth(line) <= width) return line;
  let out = '';
  for (const ch of line) {
    if (textWidth(out + ch) > width) break;
    out += ch;
  }
  return out;
}
