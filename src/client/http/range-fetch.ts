import { BadRangeAnswerError, ConnectionClosedError } from '../../errors.js';
import { checkPartialAnswer } from './content-range.js';
import { listHeader } from './headers.js';
import { fromHttpFailure, statusError } from './http-errors.js';
import { BASE_HEADERS } from './probe.js';
import type { RateLimit } from './rate-limit.js';
import { checkSameVersion, ifRangeOf, type Validator } from './validator.js';
import { shownUrl, type WebClient } from './web-client.js';
import { discardBody, webRequest, type WebAnswer, type WebTarget } from './web-request.js';

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
  const answer = await webRequest(client, r.target, { method: 'GET', headers, signal: r.signal });
  try {
    if (answer.status === 206 || answer.status === 200 || answer.status === 416) {
      checkSameVersion(r.validator, answer.headers, answer.status, r.name);
    }
    if (answer.status === 200) {
      throw new BadRangeAnswerError(
        `${shownUrl(answer.url)} ignored a range request and sent the whole file (200).`,
        { rangesIgnored: true },
      );
    }
    if (answer.status !== 206) throw statusError(answer.status, answer.headers, shownUrl(answer.url));
    checkPartialAnswer(answer.headers, { offset: r.offset, length: r.length, size: r.validator.size });
    if ((listHeader(answer.headers, 'content-encoding') ?? 'identity').trim().toLowerCase() !== 'identity') {
      throw new BadRangeAnswerError(`${shownUrl(answer.url)} sent an encoded range; refused.`);
    }
  } catch (err) {
    discardBody(answer);
    throw err;
  }
  await readBody(answer, r.offset, r.length, r.onChunk, { limit: client.rateLimit, signal: r.signal });
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
