import type { Dispatcher } from 'undici';
import type { XferError } from '../../errors.js';
import { singleHeader, type ResponseHeaders } from './headers.js';
import { fromHttpFailure } from './http-errors.js';
import { undici } from './undici.js';
import { shownUrl, type WebClient, type WebPool } from './web-client.js';
import { isRedirect, nextUrl, requestHeaders, type WebTarget } from './web-request.js';

/** What a streamed GET does with its answer: judge the head, then take the body chunk by chunk. */
export interface AnswerHandler {
  /** The final (non-redirect) answer's head; throwing refuses it and closes the connection. */
  onAnswer(status: number, headers: ResponseHeaders, url: URL): void;
  /**
   * One body chunk, borrowed (undici's read buffer): use it before returning.
   * Returns how long (ms) to hold the connection before the next chunk (a rate
   * cap), 0 for none; throwing refuses the rest and closes the connection.
   */
  onBody(chunk: Buffer): number;
  /** After the last byte; throwing fails the request (a short answer, say). */
  onEnd(url: URL): void;
}

/**
 * One GET whose body goes straight from undici's socket reads to `handler`:
 * undici's `dispatch` with a handler of its own, so no stream, async iterator,
 * copy or promise stands between a chunk and its write. Redirects follow
 * webRequest's rules. While `onBody` asks to wait, the socket is paused
 * (TCP then holds the server back). Failures are XferErrors.
 */
export async function webGet(
  client: WebClient,
  target: WebTarget,
  options: {
    headers: Record<string, string>;
    signal: AbortSignal;
    /** The pool to send it on: the client's range pool unless said otherwise. */
    pool?: WebPool;
  },
  handler: AnswerHandler,
): Promise<void> {
  const { util } = await undici();
  const dispatcher = await client.pool(options.pool ?? 'range');
  let url = target.url;
  for (let redirects = 0; ; redirects++) {
    const location = await dispatchOnce(
      dispatcher,
      util.parseHeaders,
      url,
      requestHeaders(client, target, url, options.headers),
      options.signal,
      handler,
    );
    if (location === undefined) return;
    url = nextUrl(url, location, redirects, target.url);
  }
}

/** One request to `url`; resolves with a redirect's Location, or undefined once the answer was handled. */
function dispatchOnce(
  dispatcher: Dispatcher,
  parseHeaders: (raw: Buffer[]) => Record<string, string | string[]>,
  url: URL,
  headers: Record<string, string>,
  signal: AbortSignal,
  handler: AnswerHandler,
): Promise<string | undefined> {
  return new Promise((resolve, reject) => {
    let abort: ((err?: Error) => void) | undefined;
    let failure: XferError | undefined;
    let redirect: string | undefined;
    let paused: NodeJS.Timeout | undefined;
    let settled = false;
    const stop = (err: unknown): void => {
      failure ??= fromHttpFailure(err, shownUrl(url));
      abort?.(failure);
    };
    const onSignal = (): void => stop(signal.reason);
    const settle = (err: XferError | undefined, value?: string): void => {
      if (settled) return;
      settled = true;
      clearTimeout(paused);
      signal.removeEventListener('abort', onSignal);
      if (err) reject(err);
      else resolve(value);
    };
    const dispatchHandler: Dispatcher.DispatchHandlers = {
      onConnect(abortRequest) {
        abort = abortRequest;
        if (signal.aborted) abortRequest(signal.reason as Error);
      },
      onHeaders(status, rawHeaders, resume) {
        if (status < 200) return true;
        try {
          const parsed = parseHeaders(rawHeaders) as ResponseHeaders;
          const location = singleHeader(parsed, 'location');
          if (isRedirect(status, location)) {
            redirect = location;
            return true;
          }
          handler.onAnswer(status, parsed, url);
        } catch (err) {
          stop(err);
          return false;
        }
        resumeRequest = resume;
        return true;
      },
      onData(chunk) {
        if (redirect !== undefined || failure) return true;
        try {
          const wait = handler.onBody(chunk);
          if (wait <= 0) return true;
          paused = setTimeout(() => resumeRequest?.(), wait);
          return false;
        } catch (err) {
          stop(err);
          return false;
        }
      },
      onComplete() {
        if (failure) return settle(failure);
        if (redirect !== undefined) return settle(undefined, redirect);
        try {
          handler.onEnd(url);
          settle(undefined);
        } catch (err) {
          settle(fromHttpFailure(err, shownUrl(url)));
        }
      },
      onError(err) {
        settle(failure ?? fromHttpFailure(err, shownUrl(url)));
      },
    };
    let resumeRequest: (() => void) | undefined;
    signal.addEventListener('abort', onSignal, { once: true });
    try {
      dispatcher.dispatch(
        { origin: url.origin, path: `${url.pathname}${url.search}`, method: 'GET', headers },
        dispatchHandler,
      );
    } catch (err) {
      settle(fromHttpFailure(err, shownUrl(url)));
    }
  });
}
