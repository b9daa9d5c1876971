import type { Dispatcher } from 'undici';
import { RedirectError } from '../../errors.js';
import { singleHeader, type ResponseHeaders } from './headers.js';
import { fromHttpFailure } from './http-errors.js';
import { undici } from './undici.js';
import { shownUrl, type WebClient, type WebPool } from './web-client.js';

/** At most this many redirects per request (curl's and browsers' order of magnitude, aria2's default is 20). */
export const MAX_REDIRECTS = 10;
const REDIRECT_STATUSES = new Set([301, 302, 303, 307, 308]);

/** The place a download talks to: its URL (credentials removed) and the Authorization they became. */
export interface WebTarget {
  url: URL;
  authorization: string | undefined;
  /** False for a mirror: the user's Authorization, Cookie and Proxy-Authorization headers are not sent to it. */
  userCredentials?: boolean;
}

export interface WebAnswer {
  status: number;
  headers: ResponseHeaders;
  body: Dispatcher.ResponseData['body'];
  /** Where the answer came from, after redirects. */
  url: URL;
}

/**
 * One GET or HEAD, following up to MAX_REDIRECTS redirects: never from https
 * to http nor to another scheme, and Authorization (from the URL or the
 * user's headers) and Cookie only to the origin they were given for.
 * Returns the first non-redirect answer, its body unread; network failures
 * come back as XferErrors.
 */
export async function webRequest(
  client: WebClient,
  target: WebTarget,
  options: {
    method: 'GET' | 'HEAD';
    headers: Record<string, string>;
    signal: AbortSignal;
    /** The pool to send it on: the client's range pool unless said otherwise. */
    pool?: WebPool;
  },
): Promise<WebAnswer> {
  const { request } = await undici();
  const dispatcher = await client.pool(options.pool ?? 'range');
  let url = target.url;
  for (let redirects = 0; ; redirects++) {
    const headers = requestHeaders(client, target, url, options.headers);
    let answer: Dispatcher.ResponseData;
    try {
      answer = await request(url, {
        dispatcher,
        method: options.method,
        headers,
        signal: options.signal,
        maxRedirections: 0,
      });
    } catch (err) {
      throw fromHttpFailure(err, shownUrl(url));
    }
    const location = singleHeader(answer.headers, 'location');
    if (!isRedirect(answer.statusCode, location)) {
      return { status: answer.statusCode, headers: answer.headers, body: answer.body, url };
    }
    await answer.body.dump().catch(() => undefined);
    url = nextUrl(url, location, redirects, target.url);
  }
}

/** The headers of a request to `url`: the user's, Authorization and Cookie only to the target's origin, then `own`. */
export function requestHeaders(
  client: WebClient,
  target: WebTarget,
  url: URL,
  own: Record<string, string>,
): Record<string, string> {
  const sameOrigin = url.origin === target.url.origin;
  const headers: Record<string, string> = {};
  for (const [name, value] of client.headers) {
    const private_ = /^(authorization|cookie|proxy-authorization)$/i.test(name);
    if ((sameOrigin && target.userCredentials !== false) || !private_) headers[name.toLowerCase()] = value;
  }
  if (sameOrigin && target.authorization !== undefined) headers['authorization'] = target.authorization;
  return Object.assign(headers, own);
}

/** Whether an answer is a redirect to follow. */
export function isRedirect(status: number, location: string | undefined): location is string {
  return REDIRECT_STATUSES.has(status) && location !== undefined;
}

/** The next URL of a redirect chain, or a RedirectError (too many, malformed, another scheme, https→http). */
export function nextUrl(from: URL, location: string, redirects: number, start: URL): URL {
  if (redirects >= MAX_REDIRECTS) {
    throw new RedirectError(`${shownUrl(start)} redirected more than ${MAX_REDIRECTS} times.`);
  }
  return followed(from, location);
}

function followed(from: URL, location: string): URL {
  let to: URL;
  try {
    to = new URL(location, from);
  } catch {
    throw new RedirectError(`${shownUrl(from)} redirected to a malformed address.`);
  }
  if (to.protocol !== 'http:' && to.protocol !== 'https:') {
    throw new RedirectError(
      `${shownUrl(from)} redirected to a ${to.protocol} address, which is not followed.`,
    );
  }
  if (from.protocol === 'https:' && to.protocol === 'http:') {
    throw new RedirectError(
      `${shownUrl(from)} redirected from https to plain http (${shownUrl(to)}); refused, the download would lose its encryption.`,
    );
  }
  // Credentials in a Location header are not ours to use or show.
  to.username = '';
  to.password = '';
  return to;
}

/** Stops reading an answer and closes its connection (an unread body cannot be skipped on keep-alive). */
export function discardBody(answer: WebAnswer): void {
  answer.body.on('error', () => undefined);
  answer.body.destroy();
}
