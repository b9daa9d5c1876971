import { BadRangeAnswerError } from '../../errors.js';
import { printableName } from '../../protocol/index.js';
import { integerHeader, singleHeader, type ResponseHeaders } from './headers.js';

/** `Content-Range: bytes START-END/TOTAL` (END inclusive); `total` is undefined for `*`. */
export interface ContentRange {
  start: number;
  end: number;
  total: number | undefined;
}

const CONTENT_RANGE = /^bytes (\d{1,16})-(\d{1,16})\/(\d{1,16}|\*)$/i;
const UNSATISFIED_RANGE = /^bytes \*\/(\d{1,16})$/i;

/** Parses a byte Content-Range strictly; anything malformed (or start > end, or end >= total) is undefined. */
export function parseContentRange(value: string | undefined): ContentRange | undefined {
  const m = value === undefined ? null : CONTENT_RANGE.exec(value.trim());
  if (!m) return undefined;
  const start = Number(m[1]);
  const end = Number(m[2]);
  const total = m[3] === '*' ? undefined : Number(m[3]);
  if (!Number.isSafeInteger(start) || !Number.isSafeInteger(end) || start > end) return undefined;
  if (total !== undefined && (!Number.isSafeInteger(total) || end >= total)) return undefined;
  return { start, end, total };
}

/** The size in `Content-Range: bytes *\/SIZE` of a 416 answer, if well formed. */
export function parseUnsatisfiedRange(value: string | undefined): number | undefined {
  const m = value === undefined ? null : UNSATISFIED_RANGE.exec(value.trim());
  const size = m ? Number(m[1]) : NaN;
  return Number.isSafeInteger(size) ? size : undefined;
}

/**
 * Checks a 206 answer to `Range: bytes=offset-(offset+length-1)` of a file of
 * `size` bytes: Content-Range start, end and total exactly as asked, and a
 * Content-Length (when sent) equal to the length. Anything else is refused
 * before a byte of its body is used (as aria2 does; rclone #6980 and aria2
 * #2393 are what trusting it costs).
 */
export function checkPartialAnswer(
  headers: ResponseHeaders,
  asked: { offset: number; length: number; size: number },
): void {
  const raw = singleHeader(headers, 'content-range');
  const range = parseContentRange(raw);
  const end = asked.offset + asked.length - 1;
  const want = `bytes ${asked.offset}-${end}/${asked.size}`;
  if (!range || range.start !== asked.offset || range.end !== end || range.total !== asked.size) {
    throw new BadRangeAnswerError(
      `The web server answered with Content-Range "${shorten(raw ?? '(none)')}" where "${want}" was asked for; the answer was refused.`,
    );
  }
  const length = integerHeader(headers, 'content-length');
  if (headers['content-length'] !== undefined && length !== asked.length) {
    throw new BadRangeAnswerError(
      `The web server promised Content-Length ${shorten(String(headers['content-length']))} for a range of ${asked.length} bytes; the answer was refused.`,
    );
  }
}

/** Header text from a peer, cut short and with controls escaped before it goes into a message. */
export function shorten(text: string, max = 80): string {
  return printableName(text.length > max ? `${text.slice(0, max - 3)}...` : text);
}
