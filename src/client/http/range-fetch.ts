import { BadRangeAnswerError, ConnectionClosedError } from '../../errors.js';
import { checkPartialAnswer } from './content-range.js';
import { listHeader, type ResponseHeaders } from './headers.js';
import { fromHttpFailure, statusError } from './http-errors.js';
import { BASE_HEADERS } from './probe.js';
import type { RateLimit } from './rate-limit.js';
import { checkSameVersion, ifRangeOf, type Validator } from './validator.js';
import { shownUrl, type WebClient } from './web-client.js';
import { webGet, type AnswerHandler } from './web-dispatch.js';
import { discardBody, requestHeaders, type WebAnswer, type WebTarget } from './web-request.js';
import { WRITE_BATCH_BYTES, type WriteBatch } from './write-batch.js';

/** Receives each chunk at its offset in the file; the chunk may be reused after the call returns. */
export type ChunkSink = (chunk: Buffer, position: number) => void;

export interface RangeRequest {
  target: WebTarget;
  /** The file's name, for messages. */
  name: string;
  validator: Validator;
  offset: number;
  length: number;
  signal: AbortSignal;
  onChunk: ChunkSink;
  /** The connection's batch: chunks reach `onChunk` gathered into larger writes, all of them by the time this settles. */
  batch?: WriteBatch;
}

/**
 * Fetches bytes [offset, offset + length) of one version of a web file with
 * `Range` and `If-Range`. The answer must be a 206 of that version with
 * exactly that Content-Range and Content-Length before a byte is used; a
 * server sending more than promised is cut off at the promised length and the
 * request fails (ERR_XFER_HTTP_RANGE), fewer fails it as a closed connection.
 * A 200 means the range was ignored (ERR_XFER_HTTP_RANGE with `rangesIgnored`) or,
 * if it names another version, that the file changed (ERR_XFER_CHANGED).
 */
export async function fetchRange(client: WebClient, r: RangeRequest): Promise<void> {
  const headers: Record<string, string> = {
    ...BASE_HEADERS,
    range: `bytes=${r.offset}-${r.offset + r.length - 1}`,
  };
  const ifRange = ifRangeOf(r.validator);
  if (ifRange !== undefined) headers['if-range'] = ifRange;
  const limit = client.rateLimit;
  const { onChunk } = r;
  // A range that fits one batch gains nothing from gathering (a small file's whole body, say).
  const batch = r.length > WRITE_BATCH_BYTES ? r.batch : undefined;
  const take: ChunkSink = batch ? (chunk, at) => batch.push(chunk, at, onChunk) : onChunk;
  let received = 0;
  const handler: AnswerHandler = {
    onAnswer: (status, answerHeaders, url) => checkRangeAnswer(r, status, answerHeaders, url),
    onBody: (chunk) => {
      if (received + chunk.length > r.length) {
        if (received < r.length) take(chunk.subarray(0, r.length - received), r.offset + received);
        received = r.length;
        throw new BadRangeAnswerError(
          `${shownUrl(r.target.url)} sent more bytes than it promised; the excess was refused.`,
        );
      }
      take(chunk, r.offset + received);
      received += chunk.length;
      return limit ? limit.charge(chunk.length) : 0;
    },
    onEnd: (url) => {
      if (received < r.length) {
        throw new ConnectionClosedError(
          `${shownUrl(url)} ended the answer after ${received} of ${r.length} bytes.`,
        );
      }
    },
  };
  const fast = client.rangeSockets;
  const url = r.target.url;
  try {
    if (fast?.serves(url)) {
      const own = requestHeaders(client, r.target, url, headers);
      if (await fast.get(url, own, r.signal, handler)) return;
    }
    await webGet(client, r.target, { headers, signal: r.signal }, handler);
  } finally {
    // Every byte that arrived is handed on, also when the answer failed half-way: a retry resumes after it.
    batch?.flush(onChunk);
  }
}

/** A range answer is used only if it is a 206 of the same version with exactly the range asked for, unencoded. */
function checkRangeAnswer(r: RangeRequest, status: number, headers: ResponseHeaders, url: URL): void {
  if (status === 206 || status === 200 || status === 416) {
    checkSameVersion(r.validator, headers, status, r.name);
  }
  if (status === 200) {
    throw new BadRangeAnswerError(`${shownUrl(url)} ignored a range request and sent the whole file (200).`, {
      rangesIgnored: true,
    });
  }
  if (status !== 206) throw statusError(status, headers, shownUrl(url));
  checkPartialAnswer(headers, { offset: r.offset, length: r.length, size: r.validator.size });
  if ((listHeader(headers, 'content-encoding') ?? 'identity').trim().toLowerCase() !== 'identity') {
    throw new BadRangeAnswerError(`${shownUrl(url)} sent an encoded range; refused.`);
  }
}

/**
 * Streams an answer's body to `onChunk` from file offset `offset`. With a
 * known `length`, bytes past it are never delivered: the answer is cut off
 * and refused (ERR_XFER_HTTP_RANGE); an answer that ends short is
 * ERR_XFER_CLOSED. Returns the number of bytes delivered.
 */
export async function readBody(
  answer: WebAnswer,
  offset: number,
  length: number | undefined,
  onChunk: ChunkSink,
  /** A rate cap: after each chunk, wait until it fits. */
  pace?: { limit: RateLimit | undefined; signal: AbortSignal },
): Promise<number> {
  let received = 0;
  try {
    for await (const data of answer.body) {
      const chunk = data as Buffer;
      if (length !== undefined && received + chunk.length > length) {
        if (received < length) onChunk(chunk.subarray(0, length - received), offset + received);
        received = length;
        throw new BadRangeAnswerError(
          `${shownUrl(answer.url)} sent more bytes than it promised; the excess was refused.`,
        );
      }
      onChunk(chunk, offset + received);
      received += chunk.length;
      if (pace?.limit) await pace.limit.take(chunk.length, pace.signal);
    }
  } catch (err) {
    discardBody(answer);
    throw fromHttpFailure(err, shownUrl(answer.url));
  }
  if (length !== undefined && received < length) {
    throw new ConnectionClosedError(
      `${shownUrl(answer.url)} ended the answer after ${received} of ${length} bytes.`,
    );
  }
  return received;
}
