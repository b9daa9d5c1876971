/**
 * Every failure xfer reports carries a stable `code` (for programs) and a
 * sentence a person can act on (the message). This module is the one leaf that
 * every layer, the pure protocol included, may import.
 *
 * docs/errors.md lists the same codes; a test keeps the two in step.
 */

/** Each code with the advice a user gets when they meet it. */
export const ERROR_CODES = {
  ERR_XFER_MAGIC: 'The peer does not speak the xfer protocol. Check the host and port.',
  ERR_XFER_VERSION: 'Client and server speak different protocol versions. Upgrade the older side.',
  ERR_XFER_FRAME_TOO_LARGE: 'The peer announced a frame larger than the limit; the connection was closed.',
  ERR_XFER_FRAME_TYPE: 'The peer sent an unknown or misdirected frame type; the connection was closed.',
  ERR_XFER_MALFORMED: 'A frame was truncated or had bytes left over; the connection was closed.',
  ERR_XFER_NUMBER: 'A number was out of range (above 2^53-1, or an offset + length overflow).',
  ERR_XFER_NAME:
    'A file name was refused: empty, too long, invalid UTF-8, control characters or path escapes.',
  ERR_XFER_PROTOCOL: 'A frame arrived that is not allowed at this point of the conversation.',
  ERR_XFER_NOT_FOUND: 'The server has no file by that name. Run `xfer ls` to see what it offers.',
  ERR_XFER_RANGE: 'The requested byte range lies outside the file.',
  ERR_XFER_CHANGED: 'The file changed on the server since it was listed; the download starts over.',
  ERR_XFER_AUTH: 'Authentication failed. Check the token given with --token, --token-file or XFER_TOKEN.',
  ERR_XFER_LIMIT:
    'The server refused the connection or request because a limit was reached. Try again later.',
  ERR_XFER_RATE_LIMIT: 'Too many requests in too short a time; the server closed the connection.',
  ERR_XFER_TIMEOUT: 'The peer sent nothing for too long; the connection was closed.',
  ERR_XFER_STALLED:
    'A connection stopped delivering bytes (or dripped below the floor rate); it was closed and its range retried.',
  ERR_XFER_NO_PROGRESS:
    'A download made no useful progress for too long and was given up. The partial file is kept: run again to resume.',
  ERR_XFER_CONNECT: 'Could not connect to the server. Check that it runs and that host and port are right.',
  ERR_XFER_CLOSED: 'The connection closed before the exchange finished.',
  ERR_XFER_TLS: 'The TLS handshake failed. Check --tls, --ca and the server certificate.',
  ERR_XFER_SHUTDOWN: 'The server is shutting down.',
  ERR_XFER_CORRUPT: 'The downloaded data did not match the server’s size or SHA-256 and was rejected.',
  ERR_XFER_UNSAFE_PATH: 'A path would leave the download folder or is a symlink; nothing was written.',
  ERR_XFER_DISK_FULL: 'The disk is full, or too full for the file. Free space, then run again to resume.',
  ERR_XFER_FILE_TOO_LARGE:
    'The file is larger than this file system (or the file-size limit, ulimit -f) allows. Save it elsewhere.',
  ERR_XFER_CATALOG_TOO_LARGE:
    'The server’s catalog is larger than the client accepts (files or bytes); the listing was refused.',
  ERR_XFER_CATALOG_TIMEOUT:
    'The server did not finish sending its catalog within the LIST deadline; the listing was refused.',
  ERR_XFER_FS: 'A file operation failed (permissions, missing folder). The message names the file.',
  ERR_XFER_ADDRESS_IN_USE:
    'The server cannot listen: another program uses that port. Choose another port or stop that program.',
  ERR_XFER_PERMISSION:
    'The server is not allowed to listen on that port (below 1024 needs administrator rights). Use a port of 1024 or above.',
  ERR_XFER_READ_ONLY: 'The download folder cannot be written. Fix its permissions or choose another folder.',
  ERR_XFER_USAGE: 'The command line is not valid. See `xfer --help`.',
  ERR_XFER_ABORTED: 'Stopped on request (Ctrl+C). Run again to resume.',
  ERR_XFER_INTERNAL: 'An unexpected internal error. Please report it with the message.',
  ERR_XFER_HTTP_STATUS: 'The web server refused the request (an HTTP error status); the message names it.',
  ERR_XFER_HTTP_UNAVAILABLE:
    'The web server is failing or busy (5xx or 429); the request is retried with back-off, honouring Retry-After.',
  ERR_XFER_HTTP_RANGE:
    'The web server answered a range request with other bytes than asked (Content-Range or Content-Length); refused.',
  ERR_XFER_REDIRECT: 'Too many redirects, or a redirect to an unsafe place (https to http, another scheme).',
  ERR_XFER_CHECKSUM_LIST:
    'A checksum (sha256=HEX), checksum list or Metalink file is malformed, too large or lacks the file.',
  ERR_XFER_NO_DIGEST:
    'A web mirror gives no SHA-256 (Repr-Digest, Digest or Metalink) and none was given for the file: it cannot be shown to hold the same version, so it is not used.',
} as const;

export type XferErrorCode = keyof typeof ERROR_CODES;

export function isXferErrorCode(value: string): value is XferErrorCode {
  return Object.hasOwn(ERROR_CODES, value);
}

/**
 * Codes for which trying again on a fresh connection can succeed. Everything
 * else is a verdict (the name is unknown, the token is wrong, the data is bad).
 */
const RETRYABLE: ReadonlySet<XferErrorCode> = new Set([
  'ERR_XFER_CONNECT',
  'ERR_XFER_CLOSED',
  'ERR_XFER_TIMEOUT',
  'ERR_XFER_STALLED',
  'ERR_XFER_NO_PROGRESS',
  'ERR_XFER_SHUTDOWN',
  'ERR_XFER_LIMIT',
  'ERR_XFER_RATE_LIMIT',
  'ERR_XFER_HTTP_UNAVAILABLE',
  'ERR_XFER_HTTP_RANGE',
]);

/**
 * The base of every error xfer reports. Never constructed directly: each kind
 * of failure below is its own class with a fixed code, so a class and its code
 * cannot disagree (undici's lib/core/errors.js is the model).
 */
export abstract class XferError extends Error {
  abstract readonly code: XferErrorCode;

  override get name(): string {
    return this.constructor.name;
  }

  get retryable(): boolean {
    return RETRYABLE.has(this.code);
  }
}

export interface XferErrorOptions {
  cause?: unknown;
}

/** The constructor of the one class for `code`. */
export type XferErrorClass<C extends XferErrorCode = XferErrorCode> = new (
  message?: string,
  options?: XferErrorOptions,
) => XferError & { readonly code: C };

/**
 * The base of one kind of failure: its code is fixed, and a missing or empty
 * message falls back to the code's advice in ERROR_CODES.
 */
function kind<C extends XferErrorCode>(code: C): XferErrorClass<C> {
  return class extends XferError {
    readonly code: C = code;

    constructor(message?: string, options?: XferErrorOptions) {
      super(message || ERROR_CODES[code], options);
    }
  };
}

// The bytes on the wire broke the protocol: the connection cannot continue.
export class BadMagicError extends kind('ERR_XFER_MAGIC') {}
export class VersionMismatchError extends kind('ERR_XFER_VERSION') {}
export class FrameTooLargeError extends kind('ERR_XFER_FRAME_TOO_LARGE') {}
export class FrameTypeError extends kind('ERR_XFER_FRAME_TYPE') {}
export class MalformedFrameError extends kind('ERR_XFER_MALFORMED') {}
export class NumberOutOfRangeError extends kind('ERR_XFER_NUMBER') {}
export class InvalidNameError extends kind('ERR_XFER_NAME') {}
export class UnexpectedFrameError extends kind('ERR_XFER_PROTOCOL') {}
export class CatalogTooLargeError extends kind('ERR_XFER_CATALOG_TOO_LARGE') {}
/** Not ERR_XFER_TIMEOUT: a catalog dripped out too slowly is a verdict, not worth the retries a silence gets. */
export class CatalogTimeoutError extends kind('ERR_XFER_CATALOG_TIMEOUT') {}

// Verdicts on one request.
export class NotFoundError extends kind('ERR_XFER_NOT_FOUND') {}
export class RangeOutsideFileError extends kind('ERR_XFER_RANGE') {}
export class FileChangedError extends kind('ERR_XFER_CHANGED') {}
export class AuthError extends kind('ERR_XFER_AUTH') {}
export class LimitError extends kind('ERR_XFER_LIMIT') {}
export class RateLimitError extends kind('ERR_XFER_RATE_LIMIT') {}

// The connection: connecting, silence, closing.
export class TimeoutError extends kind('ERR_XFER_TIMEOUT') {}
export class StalledError extends kind('ERR_XFER_STALLED') {}
export class NoProgressError extends kind('ERR_XFER_NO_PROGRESS') {}
export class ConnectError extends kind('ERR_XFER_CONNECT') {}
export class ConnectionClosedError extends kind('ERR_XFER_CLOSED') {}
export class TlsError extends kind('ERR_XFER_TLS') {}
export class ShuttingDownError extends kind('ERR_XFER_SHUTDOWN') {}

// Local files and the downloaded bytes.
export class IntegrityError extends kind('ERR_XFER_CORRUPT') {}
export class UnsafePathError extends kind('ERR_XFER_UNSAFE_PATH') {}
export class DiskFullError extends kind('ERR_XFER_DISK_FULL') {}
export class FileTooLargeError extends kind('ERR_XFER_FILE_TOO_LARGE') {}
export class FileSystemError extends kind('ERR_XFER_FS') {}

// Where the files go: the server's port, the client's folder.
export class AddressInUseError extends kind('ERR_XFER_ADDRESS_IN_USE') {}
export class ListenPermissionError extends kind('ERR_XFER_PERMISSION') {}
export class ReadOnlyFolderError extends kind('ERR_XFER_READ_ONLY') {}

// Web servers (HTTP sources).
export class HttpStatusError extends kind('ERR_XFER_HTTP_STATUS') {}
/** A 5xx, 408 or 429: retried; `retryAfterMs` is the wait the server asked for with Retry-After. */
export class HttpUnavailableError extends kind('ERR_XFER_HTTP_UNAVAILABLE') {
  readonly retryAfterMs: number | undefined;

  constructor(message?: string, options?: XferErrorOptions & { retryAfterMs?: number | undefined }) {
    super(message, options);
    this.retryAfterMs = options?.retryAfterMs;
  }
}
/** A range answer we refuse; `rangesIgnored`: the server sent the whole file (200), so fetch it whole, on one connection. */
export class BadRangeAnswerError extends kind('ERR_XFER_HTTP_RANGE') {
  readonly rangesIgnored: boolean;

  constructor(message?: string, options?: XferErrorOptions & { rangesIgnored?: boolean }) {
    super(message, options);
    this.rangesIgnored = options?.rangesIgnored ?? false;
  }

  /** Asking again cannot help a server that ignores ranges: the caller fetches the file whole instead. */
  override get retryable(): boolean {
    return !this.rangesIgnored;
  }
}
export class RedirectError extends kind('ERR_XFER_REDIRECT') {}
export class ChecksumListError extends kind('ERR_XFER_CHECKSUM_LIST') {}
export class NoDigestError extends kind('ERR_XFER_NO_DIGEST') {}

// The run itself.
/** The command line was wrong; exit code 2. */
export class UsageError extends kind('ERR_XFER_USAGE') {}
export class AbortedError extends kind('ERR_XFER_ABORTED') {}
export class InternalError extends kind('ERR_XFER_INTERNAL') {}

/** Every code's class: the type makes it exhaustive, so a new code needs its class. */
const ERROR_CLASSES: { readonly [C in XferErrorCode]: XferErrorClass<C> } = {
  ERR_XFER_MAGIC: BadMagicError,
  ERR_XFER_VERSION: VersionMismatchError,
  ERR_XFER_FRAME_TOO_LARGE: FrameTooLargeError,
  ERR_XFER_FRAME_TYPE: FrameTypeError,
  ERR_XFER_MALFORMED: MalformedFrameError,
  ERR_XFER_NUMBER: NumberOutOfRangeError,
  ERR_XFER_NAME: InvalidNameError,
  ERR_XFER_PROTOCOL: UnexpectedFrameError,
  ERR_XFER_CATALOG_TOO_LARGE: CatalogTooLargeError,
  ERR_XFER_CATALOG_TIMEOUT: CatalogTimeoutError,
  ERR_XFER_NOT_FOUND: NotFoundError,
  ERR_XFER_RANGE: RangeOutsideFileError,
  ERR_XFER_CHANGED: FileChangedError,
  ERR_XFER_AUTH: AuthError,
  ERR_XFER_LIMIT: LimitError,
  ERR_XFER_RATE_LIMIT: RateLimitError,
  ERR_XFER_TIMEOUT: TimeoutError,
  ERR_XFER_STALLED: StalledError,
  ERR_XFER_NO_PROGRESS: NoProgressError,
  ERR_XFER_CONNECT: ConnectError,
  ERR_XFER_CLOSED: ConnectionClosedError,
  ERR_XFER_TLS: TlsError,
  ERR_XFER_SHUTDOWN: ShuttingDownError,
  ERR_XFER_CORRUPT: IntegrityError,
  ERR_XFER_UNSAFE_PATH: UnsafePathError,
  ERR_XFER_DISK_FULL: DiskFullError,
  ERR_XFER_FILE_TOO_LARGE: FileTooLargeError,
  ERR_XFER_FS: FileSystemError,
  ERR_XFER_ADDRESS_IN_USE: AddressInUseError,
  ERR_XFER_PERMISSION: ListenPermissionError,
  ERR_XFER_READ_ONLY: ReadOnlyFolderError,
  ERR_XFER_USAGE: UsageError,
  ERR_XFER_ABORTED: AbortedError,
  ERR_XFER_INTERNAL: InternalError,
  ERR_XFER_HTTP_STATUS: HttpStatusError,
  ERR_XFER_HTTP_UNAVAILABLE: HttpUnavailableError,
  ERR_XFER_HTTP_RANGE: BadRangeAnswerError,
  ERR_XFER_REDIRECT: RedirectError,
  ERR_XFER_CHECKSUM_LIST: ChecksumListError,
  ERR_XFER_NO_DIGEST: NoDigestError,
};

/**
 * A new error of the class of `code`: the one a peer reported in an ERROR
 * frame, or a known error retold with more context. A code this version does
 * not know becomes an InternalError (the message is kept either way).
 */
export function errorFromCode(code: string, message?: string, options?: XferErrorOptions): XferError {
  const ErrorClass: XferErrorClass = isXferErrorCode(code) ? ERROR_CLASSES[code] : InternalError;
  return new ErrorClass(message, options);
}

/** Turns anything thrown into an XferError, keeping the original as `cause`. */
export function toXferError(error: unknown): XferError {
  if (error instanceof XferError) return error;
  const err = error instanceof Error ? error : new Error(String(error));
  const sysCode = (err as NodeJS.ErrnoException).code;
  switch (sysCode) {
    case 'ENOSPC':
    case 'EDQUOT':
      return new DiskFullError(`No space left to write: ${err.message}`, { cause: err });
    case 'EFBIG':
      return new FileTooLargeError(`Too large for this file system: ${err.message}`, { cause: err });
    case 'ENAMETOOLONG':
      return new FileSystemError(`A name is too long for this file system: ${shortPath(err)}.`, {
        cause: err,
      });
    case 'EACCES':
    case 'EPERM':
    case 'ENOENT':
    case 'ENOTDIR':
    case 'EISDIR':
    case 'EEXIST':
    case 'EROFS':
      return new FileSystemError(err.message, { cause: err });
    case 'ELOOP':
      return new UnsafePathError(`Refusing to follow a symlink: ${err.message}`, { cause: err });
    case 'ECONNREFUSED':
    case 'EHOSTUNREACH':
    case 'ENETUNREACH':
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
      return new ConnectError(err.message, { cause: err });
    case 'ECONNRESET':
    case 'EPIPE':
    case 'ECONNABORTED':
      return new ConnectionClosedError(err.message, { cause: err });
    case 'ETIMEDOUT':
      return new TimeoutError(err.message, { cause: err });
    default:
      return new InternalError(err.message, { cause: err });
  }
}

/** The last part of an errno's path, cut short: a too-long name must not fill the screen. */
function shortPath(err: NodeJS.ErrnoException): string {
  const last = (err.path ?? '').split('/').pop() ?? '';
  return last.length > 40 ? `${last.slice(0, 40)}…` : last;
}
