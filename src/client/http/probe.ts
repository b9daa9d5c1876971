import { BadRangeAnswerError, ConnectionClosedError } from '../../errors.js';
import { WHOLE_FILE_MAX_BYTES } from '../whole-file.js';
import { parseContentRange, shorten } from './content-range.js';
import { digestOf, WANT_DIGEST_HEADERS, type WebDigest } from './digests.js';
import { integerHeader, listHeader, singleHeader, type ResponseHeaders } from './headers.js';
import { statusError } from './http-errors.js';
import { validatorOf, type Validator } from './validator.js';
import { shownUrl, type WebClient } from './web-client.js';
import { webGet, type AnswerHandler } from './web-dispatch.js';
import { discardBody, requestHeaders, webRequest, type WebAnswer, type WebTarget } from './web-request.js';

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
  /**
   * A small file's bytes (at most WHOLE_FILE_MAX_BYTES, exactly `size`), read
   * from the probe's own answer: the file takes this one request.
   */
  body: Buffer | undefined;
  /** When the probe was sent (Date.now()): a small file's time starts here. */
  sentAt: number;
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
 * guessed offset. A small file (up to WHOLE_FILE_MAX_BYTES) comes whole in
 * this first answer (`body`). A 206 that cannot be used, a 416 (an empty
 * file), or a 200 too large or unsized to hold in memory is asked again
 * without Range, its answer kept for reading (`whole`).
 */
export async function probe(client: WebClient, start: WebTarget, options: ProbeOptions): Promise<Probe> {
  const sentAt = Date.now();
  if (!options.head) {
    const first = await probeWithGet(client, start, options.signal, sentAt);
    if ('probe' in first) return first.probe;
    return wholeWithoutRange(client, first.target, first.head, options.signal, sentAt);
  }
  const answer = await webRequest(client, start, {
    method: 'HEAD',
    headers: { ...BASE_HEADERS },
    signal: options.signal,
    pool: 'probe',
  });
  discardBody(answer);
  const target = targetAfter(start, answer.url);
  if (answer.status === 206 || answer.status === 416 || answer.status === 200) {
    const verdict = headVerdict(answer);
    if (verdict.split || answer.status === 200) return describe(target, answer, verdict, sentAt, undefined);
  }
  if (answer.status !== 206 && answer.status !== 416)
    throw statusError(answer.status, answer.headers, shownUrl(answer.url));
  return wholeWithoutRange(client, target, answer, options.signal, sentAt);
}

/**
 * After a first answer that could not be used as it came (a 206 we cannot
 * use, a 416, or a 200 too large or without a size to hold in memory): the
 * whole body, asked for without Range, its answer kept for reading.
 */
async function wholeWithoutRange(
  client: WebClient,
  target: WebTarget,
  first: AnswerHead,
  signal: AbortSignal,
  sentAt: number,
): Promise<Probe> {
  const plain = await webRequest(client, target, {
    method: 'GET',
    headers: { ...BASE_HEADERS },
    signal,
    pool: 'probe',
  });
  if (plain.status !== 200) {
    discardBody(plain);
    throw statusError(plain.status, plain.headers, shownUrl(plain.url));
  }
  const verdict = getVerdict(plain);
  if (first.status === 206 && !contentEncoding(plain.headers)) {
    verdict.note = 'one connection, whole body: its answer to a range request was unusable';
  }
  return describe(target, plain, verdict, sentAt, plain);
}

/** The target of later requests: the URL after redirects, its Authorization only on the same origin. */
function targetAfter(start: WebTarget, url: URL): WebTarget {
  return { ...start, url, authorization: url.origin === start.url.origin ? start.authorization : undefined };
}

/** Ends a probe whose answer head says all: a large file's 206 (its ranges are asked for later). */
const HEAD_SUFFICES = new ConnectionClosedError('The probe has what it needs from the answer head.');

/**
 * The probe's GET with its answer taken chunk by chunk, over xfer's own
 * connections to a plain http server (RangeSockets; an answer they do not read
 * is asked again through undici's dispatch, webGet): a small file's body (a
 * usable 206 of the whole file, or a 200, of a known size up to
 * WHOLE_FILE_MAX_BYTES) is read into memory, exactly `size` bytes or the probe
 * fails (and is retried); a large file's 206 is judged by its head and its
 * connection closed. Any other answer (a large or unsized 200, a 416, an
 * unusable or encoded 206): its head, and `probe` asks for the whole body
 * without Range.
 */
async function probeWithGet(
  client: WebClient,
  start: WebTarget,
  signal: AbortSignal,
  sentAt: number,
): Promise<{ probe: Probe } | { head: AnswerHead; target: WebTarget }> {
  let head: AnswerHead | undefined;
  let verdict: Verdict | undefined;
  let body: Buffer | undefined;
  let received = 0;
  const headers = { ...BASE_HEADERS, range: 'bytes=0-' };
  const handler: AnswerHandler = {
    onAnswer(status, headers, url) {
      if (status !== 200 && status !== 206 && status !== 416)
        throw statusError(status, headers, shownUrl(url));
      head = { status, headers, url };
      verdict = getVerdict(head);
      const { size } = verdict;
      // A 200 is the whole file as sent (encoded or not: it is saved as sent).
      const usable = verdict.split || status === 200;
      if (usable && size !== undefined && size <= WHOLE_FILE_MAX_BYTES) body = Buffer.allocUnsafe(size);
      else throw HEAD_SUFFICES;
    },
    onBody(chunk) {
      if (!body || received + chunk.length > body.length)
        throw new BadRangeAnswerError(
          `${shownUrl(start.url)} sent more bytes than it promised; the excess was refused.`,
        );
      chunk.copy(body, received);
      received += chunk.length;
      return client.rateLimit ? client.rateLimit.charge(chunk.length) : 0;
    },
    onEnd(url) {
      if (received < (body?.length ?? 0))
        throw new ConnectionClosedError(
          `${shownUrl(url)} ended the answer after ${received} of ${body?.length} bytes.`,
        );
    },
  };
  try {
    // undici costs about 0.15 ms more per request: for 2000 small files, a fifth of the run.
    const fast = client.probeSockets;
    if (
      !fast?.serves(start.url) ||
      !(await fast.get(start.url, requestHeaders(client, start, start.url, headers), signal, handler))
    )
      await webGet(client, start, { headers, signal, pool: 'probe' }, handler);
  } catch (err) {
    if (err !== HEAD_SUFFICES) throw err;
  }
  // Either path returns only once onAnswer has run: a head is always there.
  if (!head || !verdict) throw new ConnectionClosedError(`${shownUrl(start.url)} sent no answer.`);
  const target = targetAfter(start, head.url);
  if (!body && !verdict.split) return { head, target };
  return { probe: describe(target, head, verdict, sentAt, undefined, body) };
}

/** What a verdict is made from: an answer's head. */
type AnswerHead = Pick<WebAnswer, 'status' | 'headers' | 'url'>;

interface Verdict {
  split: boolean;
  size: number | undefined;
  note: string | undefined;
}

function getVerdict(answer: AnswerHead): Verdict {
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

function headVerdict(answer: AnswerHead): Verdict {
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
  answer: AnswerHead,
  verdict: Verdict,
  sentAt: number,
  whole: WebAnswer | undefined,
  body?: Buffer,
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
    body,
    sentAt,
  };
}

/** `Link: <URL>; rel=describedby; type="application/metalink4+xml"`, resolved, never https → http. */
function metalinkLink(answer: AnswerHead): URL | undefined {
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
