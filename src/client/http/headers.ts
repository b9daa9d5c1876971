import type { IncomingHttpHeaders } from 'node:http';

/** Response headers as undici returns them: lower-case names, repeated ones as arrays. */
export type ResponseHeaders = IncomingHttpHeaders | Record<string, string | string[] | undefined>;

/**
 * A header that must appear at most once (Content-Range, ETag, ...). A server
 * that sends it twice with different values is not trusted with either.
 */
export function singleHeader(headers: ResponseHeaders, name: string): string | undefined {
  const value = headers[name];
  if (value === undefined) return undefined;
  if (typeof value === 'string') return value.trim();
  const distinct = new Set(value.map((v) => v.trim()));
  return distinct.size === 1 ? [...distinct][0] : undefined;
}

/** A list-valued header (Digest, Link, ...): every occurrence joined with commas, as RFC 9110 §5.3 allows. */
export function listHeader(headers: ResponseHeaders, name: string): string | undefined {
  const value = headers[name];
  if (value === undefined) return undefined;
  return typeof value === 'string' ? value : value.join(', ');
}

/** A non-negative decimal integer header (Content-Length): anything else is undefined. */
export function integerHeader(headers: ResponseHeaders, name: string): number | undefined {
  const value = singleHeader(headers, name);
  if (value === undefined || !/^\d{1,16}$/.test(value)) return undefined;
  const n = Number(value);
  return Number.isSafeInteger(n) ? n : undefined;
}
