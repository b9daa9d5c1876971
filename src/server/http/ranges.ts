/**
 * The `Range` header of a GET, read against a file's size (RFC 9110 §14).
 * Pure, so every spelling can be tested without a socket.
 */
export type RangeAnswer =
  /** No usable Range: send the whole file with 200. */
  | { kind: 'whole' }
  /** One satisfiable range: 206 with bytes [start, end] (inclusive, as in Content-Range). */
  | { kind: 'one'; start: number; end: number }
  /** Nothing asked for lies inside the file: 416 with `Content-Range: bytes *\/SIZE`. */
  | { kind: 'unsatisfiable' };

/** More specs than any downloader sends; a longer list is treated as no Range at all. */
const MAX_SPECS = 100;
const SPEC = /^(\d*)-(\d*)$/;

/**
 * A header that does not parse (`bytes=5-1`, `bytes=x-`, another unit, an
 * empty spec) is ignored and the whole file is sent, as RFC 9110 allows.
 * Several satisfiable ranges are answered with the whole file too (a 200, not
 * multipart/byteranges): no downloader we serve asks for them, and one body
 * of known length keeps every client and proxy simple. Numbers past 2^53-1 are
 * read as "past any file's end", never rounded.
 */
export function parseRange(header: string | undefined, size: number): RangeAnswer {
  if (header === undefined) return { kind: 'whole' };
  const match = /^\s*bytes\s*=\s*(.*)$/i.exec(header);
  if (!match?.[1]) return { kind: 'whole' };
  const specs = match[1].split(',').map((s) => s.trim());
  if (specs.length > MAX_SPECS) return { kind: 'whole' };
  const satisfiable: { start: number; end: number }[] = [];
  for (const spec of specs) {
    const parts = SPEC.exec(spec);
    if (!parts) return { kind: 'whole' };
    const [, first = '', last = ''] = parts;
    if (first === '' && last === '') return { kind: 'whole' };
    if (first === '') {
      // A suffix: the last N bytes.
      const n = toNumber(last);
      if (n > 0 && size > 0) satisfiable.push({ start: Math.max(0, size - n), end: size - 1 });
      continue;
    }
    const start = toNumber(first);
    const end = last === '' ? Infinity : toNumber(last);
    if (end < start) return { kind: 'whole' };
    if (start < size) satisfiable.push({ start, end: Math.min(end, size - 1) });
  }
  const [only, ...more] = satisfiable;
  if (!only) return { kind: 'unsatisfiable' };
  if (more.length > 0) return { kind: 'whole' };
  return { kind: 'one', ...only };
}

/** Decimal digits as a number; anything past 2^53-1 is Infinity, so it compares as "too far". */
function toNumber(digits: string): number {
  const n = Number(digits);
  return Number.isSafeInteger(n) ? n : Infinity;
}
