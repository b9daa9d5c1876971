import { FileChangedError } from '../../errors.js';
import { printableName } from '../../protocol/index.js';
import { parseContentRange, parseUnsatisfiedRange, shorten } from './content-range.js';
import { integerHeader, singleHeader, type ResponseHeaders } from './headers.js';

/**
 * Which version of a web file the bytes belong to: a strong ETag if the
 * server sends one, else Last-Modified, always with the size. Every range
 * request carries it in `If-Range`, so a server whose file changed answers
 * with the whole new file (200) instead of a range of it, and any answer that
 * names another version is refused: two versions never mix in one file.
 */
export interface Validator {
  size: number;
  etag: string | undefined;
  lastModified: string | undefined;
}

/** A strong entity tag: `"..."` without `W/`, printable ASCII or obs-text inside (RFC 9110 §8.8.3). */
const STRONG_ETAG = /^"[\x21\x23-\x7e\x80-\xff]{0,256}"$/;
/** An IMF-fixdate or one of the obsolete forms: only checked to be short and printable. */
const HTTP_DATE = /^[\x20-\x7e]{1,64}$/;

export function validatorOf(headers: ResponseHeaders, size: number): Validator {
  const etag = singleHeader(headers, 'etag');
  const lastModified = singleHeader(headers, 'last-modified');
  return {
    size,
    etag: etag !== undefined && STRONG_ETAG.test(etag) ? etag : undefined,
    lastModified:
      lastModified !== undefined && HTTP_DATE.test(lastModified) && !Number.isNaN(Date.parse(lastModified))
        ? lastModified
        : undefined,
  };
}

/** The `If-Range` value for range requests, or undefined when the server gave no validator. */
export function ifRangeOf(v: Validator): string | undefined {
  return v.etag ?? v.lastModified;
}

/** How the version is named in messages and the resume state. */
export function describeValidator(v: Validator): string {
  if (v.etag) return `ETag ${v.etag}`;
  if (v.lastModified) return `Last-Modified ${v.lastModified}, ${v.size} bytes`;
  return `${v.size} bytes`;
}

/**
 * Throws ERR_XFER_CHANGED when an answer shows another version than `v`: a
 * different ETag, Last-Modified or total size (Content-Range, or a 200's
 * Content-Length). Headers an answer leaves out
 * contradict nothing.
 */
export function checkSameVersion(v: Validator, headers: ResponseHeaders, status: number, name: string): void {
  const etag = singleHeader(headers, 'etag');
  const lastModified = singleHeader(headers, 'last-modified');
  const range = singleHeader(headers, 'content-range');
  const total =
    status === 416
      ? parseUnsatisfiedRange(range)
      : status === 206
        ? parseContentRange(range)?.total
        : status === 200
          ? integerHeader(headers, 'content-length')
          : undefined;
  let why: string | undefined;
  if (v.etag !== undefined && etag !== undefined && etag !== v.etag) {
    why = `its ETag is now ${shorten(etag)} (was ${v.etag})`;
  } else if (v.etag === undefined && v.lastModified !== undefined && lastModified !== undefined) {
    if (lastModified !== v.lastModified) why = `it was modified at ${shorten(lastModified)}`;
  }
  if (why === undefined && total !== undefined && total !== v.size) {
    why = `it is now ${total} bytes (was ${v.size})`;
  }
  if (why !== undefined) {
    throw new FileChangedError(
      `"${printableName(name)}" changed on the web server during the download: ${why}.`,
    );
  }
}
