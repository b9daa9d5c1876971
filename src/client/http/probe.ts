import { parseContentRange, shorten } from './content-range.js';
import { digestOf, WANT_DIGEST_HEADERS, type WebDigest } from './digests.js';
import { integerHeader, listHeader, singleHeader, type ResponseHeaders } from './headers.js';
import { statusError } from './http-errors.js';
import { validatorOf, type Validator } from './validator.js';
import { shownUrl, type WebClient } from './web-client.js';
import { discardBody, webRequest, type WebAnswer, type WebTarget } from './web-request.js';

/** What the first answer tells about a web file, and how it will be fetched. */
export interface Probe {
  /** The file's URL after redirects (later requests go there directly). */
  target: WebTarget;
  /** The answer's headers (Content-Disposition names the file: see fileNameFor). */
  headers: ResponseHeaders;
  /** Undefined when the server does not say (chunked, no Content-Length). */
  size: number | undefined;
  /** True: ranges work, the file may be fetched over several connections. */
  split: boolean;
  /** Why it is fetched whole over one connection, in one line (undefined when split). */
  note: string | undefined;
  validator: Validator | undefined;
  digest: WebDigest | undefined;
  /** A Metalink (RFC 6249 `Link: <...>; rel=describedby; type="application/metalink4+xml"`). */
  metalink: URL | undefined;
  /** When not split and the probe was a GET answered 200: the whole file's answer, body unread. */
  whole: WebAnswer | undefined;
}

export interface ProbeOptions {
  /** Ask with HEAD instead of `GET Range: bytes=0-` (for servers that bill or log GETs). */
  head?: boolean;
  signal: AbortSignal;
}

/** Headers every request sends: no content coding (bytes as stored), and a digest if the server has one. */
export const BASE_HEADERS = { 'accept-encoding': 'identity', ...WANT_DIGEST_HEADERS } as const;

/**
 * The first request for a web file, and the verdict. `206` with
 * `Content-Range: bytes 0-N/SIZE` (N = SIZE-1) and no Content-Encoding: split.
 * A `200` (ranges ignored), any Content-Encoding, or an unknown length: one
 * connection, the whole body, and a note saying why. Never a byte at a
 * guessed offset. A 206 that cannot be used, or a 416 (an empty file), is
 * asked again without Range, so the whole body comes as a 200.
 */
export async function probe(client: WebClient, start: WebTarget, options: ProbeOptions): Promise<Probe> {
  const headers: Record<string, string> = { ...BASE_HEADERS };
  if (!options.head) headers['range'] = 'bytes=0-';
  const answer = await webRequest(client, start, {
    method: options.head ? 'HEAD' : 'GET',
    headers,
    signal: options.signal,
  });
  const target = {
    ...start,
    url: answer.url,
    authorization: answer.url.origin === start.url.origin ? start.authorization : undefined,
  };
  if (answer.status === 206 || answer.status === 416 || answer.status === 200) {
    const verdict = options.head ? headVerdict(answer) : getVerdict(answer);
    if (verdict.split || answer.status === 200) {
      const whole = !verdict.split && !options.head ? answer : undefined;
      if (!whole) discardBody(answer);
      return describe(target, answer, verdict, whole);
    }
  }
  discardBody(answer);
  if (answer.status !== 206 && answer.status !== 416)
    throw statusError(answer.status, answer.headers, shownUrl(answer.url));
  // A 206 we cannot use or a 416: the whole body, without Range.
  const plain = await webRequest(client, target, {
    method: 'GET',
    headers: { ...BASE_HEADERS },
    signal: options.signal,
  });
  if (plain.status !== 200) {
    discardBody(plain);
    throw statusError(plain.status, plain.headers, shownUrl(plain.url));
  }
  const verdict = getVerdict(plain);
  if (answer.status === 206 && !contentEncoding(plain.headers)) {
    verdict.note = 'one connection, whole body: its answer to a range request was unusable';
  }
  return describe(target, plain, verdict, plain);
}

interface Verdict {
  split: boolean;
  size: number | undefined;
  note: string | undefined;
}

function getVerdict(answer: WebAnswer): Verdict {
  const encoding = contentEncoding(answer.headers);
  if (answer.status === 206) {
    const range = parseContentRange(singleHeader(answer.headers, 'content-range'));
    const usable = range?.start === 0 && range.total !== undefined && range.end === range.total - 1;
    if (!usable || !range) return { split: false, size: undefined, note: undefined };
    if (encoding) return { split: false, size: undefined, note: undefined };
    return { split: true, size: range.total, note: undefined };
  }
  const size = integerHeader(answer.headers, 'content-length');
  return {
    split: false,
    size,
    note: wholeNote(answer.status === 200 ? 'the server ignores Range' : undefined, encoding, size),
  };
}

function headVerdict(answer: WebAnswer): Verdict {
  const encoding = contentEncoding(answer.headers);
  const size = integerHeader(answer.headers, 'content-length');
  const ranges = /^bytes$/i.test(singleHeader(answer.headers, 'accept-ranges') ?? '');
  if (answer.status === 200 && ranges && !encoding && size !== undefined)
    return { split: true, size, note: undefined };
  return {
    split: false,
    size,
    note: wholeNote(ranges ? undefined : 'the server does not offer ranges', encoding, size),
  };
}

function wholeNote(
  reason: string | undefined,
  encoding: string | undefined,
  size: number | undefined,
): string {
  const why = encoding
    ? `the server sends it encoded (Content-Encoding: ${shorten(encoding, 40)}), saved as sent`
    : size === undefined
      ? 'the server does not say its size'
      : (reason ?? 'ranges cannot be used');
  return `one connection, whole body: ${why}`;
}

function contentEncoding(headers: ResponseHeaders): string | undefined {
  const value = listHeader(headers, 'content-encoding')?.trim();
  return value === undefined || value === '' || /^identity$/i.test(value) ? undefined : value;
}

function describe(
  target: WebTarget,
  answer: WebAnswer,
  verdict: Verdict,
  whole: WebAnswer | undefined,
): Probe {
  // The whole body may wait unread (or never be read, if the run stops): its
  // errors then must not be unhandled. A reader still sees them.
  whole?.body.on('error', () => undefined);
  return {
    target,
    headers: answer.headers,
    size: verdict.size,
    split: verdict.split,
    // An empty file has nothing to split: no note.
    note: verdict.split || verdict.size === 0 ? undefined : verdict.note,
    validator: verdict.size === undefined ? undefined : validatorOf(answer.headers, verdict.size),
    digest: digestOf(answer.headers, answer.status),
    metalink: metalinkLink(answer),
    whole,
  };
}

/** `Link: <URL>; rel=describedby; type="application/metalink4+xml"`, resolved, never https → http. */
function metalinkLink(answer: WebAnswer): URL | undefined {
  const links = listHeader(answer.headers, 'link');
  if (links === undefined) return undefined;
  for (const m of links.slice(0, 8192).matchAll(/<([^>]{1,2048})>([^<]*)/g)) {
    const params = (m[2] ?? '').toLowerCase();
    if (!/;\s*rel="?describedby"?/.test(params) || !/;\s*type="?application\/metalink4\+xml"?/.test(params))
      continue;
    try {
      const url = new URL(m[1] ?? '', answer.url);
      if (url.protocol === answer.url.protocol || url.protocol === 'https:') return url;
    } catch {
      // A malformed link is ignored: the Metalink is optional.
    }
  }
  return undefined;
}
