import {
  AuthError,
  BadRangeAnswerError,
  ConnectError,
  ConnectionClosedError,
  HttpStatusError,
  HttpUnavailableError,
  NotFoundError,
  RangeOutsideFileError,
  TimeoutError,
  TlsError,
  XferError,
  toXferError,
} from '../../errors.js';
import { shorten } from './content-range.js';
import { singleHeader, type ResponseHeaders } from './headers.js';

/**
 * A server asking (with Retry-After) for a longer wait than this gets a
 * failure instead: the retry budget stays bounded in time.
 */
export const MAX_RETRY_AFTER_MS = 60_000;

/**
 * The error for an answer with a status we cannot use. 5xx, 408 and 429 are
 * worth retrying (ERR_XFER_HTTP_UNAVAILABLE, with the Retry-After wait if the
 * server sent one); 404/410, 401/403 and the rest are verdicts.
 */
export function statusError(
  status: number,
  headers: ResponseHeaders,
  shownUrl: string,
  now = Date.now(),
): XferError {
  const said = `${shownUrl} answered ${status}`;
  if (status === 404 || status === 410) return new NotFoundError(`${said}: no such file.`);
  if (status === 401 || status === 403 || status === 407) {
    return new AuthError(`${said}: access refused; check the credentials or headers sent.`);
  }
  if (status === 416) return new RangeOutsideFileError(`${said}: the range asked for lies outside the file.`);
  if (status === 408 || status === 429 || status >= 500) {
    const wait = retryAfterMs(singleHeader(headers, 'retry-after'), now);
    if (wait !== undefined && wait > MAX_RETRY_AFTER_MS) {
      return new HttpStatusError(
        `${said} and asks to wait ${Math.ceil(wait / 1000)} s, longer than the ${MAX_RETRY_AFTER_MS / 1000} s we wait.`,
      );
    }
    return new HttpUnavailableError(`${said}: the server is busy or failing.`, { retryAfterMs: wait });
  }
  return new HttpStatusError(`${said}, which cannot be used for a download.`);
}

/** Retry-After as delay-seconds or an HTTP-date (RFC 9110 §10.2.3); undefined when absent or malformed. */
export function retryAfterMs(value: string | undefined, now = Date.now()): number | undefined {
  if (value === undefined) return undefined;
  if (/^\d{1,9}$/.test(value)) return Number(value) * 1000;
  const at = Date.parse(value);
  return Number.isNaN(at) ? undefined : Math.max(0, at - now);
}

/** TLS failures as Node and OpenSSL name them. */
const TLS_CODE =
  /^(ERR_TLS_|ERR_SSL_|CERT_|UNABLE_TO_|DEPTH_ZERO_SELF_SIGNED_CERT|SELF_SIGNED_CERT_IN_CHAIN|HOSTNAME_MISMATCH)/;

/** Turns what undici or a socket throws into an XferError with a code a person (and the retry rule) can act on. */
export function fromHttpFailure(error: unknown, shownUrl: string): XferError {
  if (error instanceof XferError) return error;
  const raw = (error as { code?: unknown } | undefined)?.code;
  const code = typeof raw === 'string' ? raw : '';
  const message = shorten(error instanceof Error ? error.message : String(error));
  const cause = { cause: error };
  if (TLS_CODE.test(code)) {
    return new TlsError(`TLS with ${shownUrl} failed: ${message} (${code}).`, cause);
  }
  switch (code) {
    case 'UND_ERR_CONNECT_TIMEOUT':
      return new ConnectError(`Connecting to ${shownUrl} timed out.`, cause);
    case 'UND_ERR_HEADERS_TIMEOUT':
    case 'UND_ERR_BODY_TIMEOUT':
      return new TimeoutError(`${shownUrl} sent nothing for too long.`, cause);
    case 'UND_ERR_SOCKET':
    case 'UND_ERR_CLOSED':
    case 'UND_ERR_DESTROYED':
      return new ConnectionClosedError(`The connection to ${shownUrl} closed early: ${message}.`, cause);
    case 'UND_ERR_RES_CONTENT_LENGTH_MISMATCH':
    case 'HPE_INVALID_CONSTANT':
    case 'HPE_UNEXPECTED_CONTENT_LENGTH':
      return new BadRangeAnswerError(`${shownUrl} sent another number of bytes than it announced.`);
    default: {
      const e = toXferError(error);
      return e.code === 'ERR_XFER_INTERNAL' && code.startsWith('HPE_')
        ? new ConnectionClosedError(`${shownUrl} sent a malformed HTTP answer: ${message}.`, cause)
        : e;
    }
  }
}
