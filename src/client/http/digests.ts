import { HASH_SIZE } from '../../protocol/constants.js';
import { listHeader, type ResponseHeaders } from './headers.js';

/** Where a whole-file SHA-256 came from; the done line names it. */
export type DigestSource = 'Repr-Digest' | 'Content-Digest' | 'Digest';

export interface WebDigest {
  sha256: Buffer;
  source: DigestSource;
}

/** Sent with every probe: we can check a SHA-256 if the server can give one (RFC 9530 and RFC 3230). */
export const WANT_DIGEST_HEADERS = {
  'want-repr-digest': 'sha-256=10',
  'want-digest': 'SHA-256',
} as const;

/** A list member is at most this long: a SHA-512 in base64 with its label fits with room to spare. */
const MAX_MEMBER_CHARS = 256;
/** No more than this many members per header are looked at. */
const MAX_MEMBERS = 16;

/**
 * The SHA-256 of the whole file from an answer's headers, strongest first:
 * `Repr-Digest` (RFC 9530, always about the whole representation), then
 * `Content-Digest` (only when the answer is the whole file: a 200), then the
 * older `Digest: SHA-256=` (RFC 3230, an instance digest). Malformed or
 * wrong-length values are ignored, never trusted.
 */
export function digestOf(headers: ResponseHeaders, status: number): WebDigest | undefined {
  const repr = structuredSha256(listHeader(headers, 'repr-digest'));
  if (repr) return { sha256: repr, source: 'Repr-Digest' };
  if (status === 200) {
    const content = structuredSha256(listHeader(headers, 'content-digest'));
    if (content) return { sha256: content, source: 'Content-Digest' };
  }
  const legacy = legacySha256(listHeader(headers, 'digest'));
  if (legacy) return { sha256: legacy, source: 'Digest' };
  return undefined;
}

/** `sha-256=:BASE64:` from an RFC 8941 dictionary (parameters after `;` ignored). */
function structuredSha256(value: string | undefined): Buffer | undefined {
  for (const member of members(value)) {
    const m = /^sha-256=:([A-Za-z0-9+/]+={0,2}):(;.*)?$/.exec(member);
    if (m?.[1]) return decodeSha256(m[1]);
  }
  return undefined;
}

/** `SHA-256=BASE64` (algorithm names are case-insensitive in RFC 3230). */
function legacySha256(value: string | undefined): Buffer | undefined {
  for (const member of members(value)) {
    const m = /^sha-256=([A-Za-z0-9+/]+={0,2})$/i.exec(member);
    if (m?.[1]) return decodeSha256(m[1]);
  }
  return undefined;
}

function members(value: string | undefined): string[] {
  if (value === undefined) return [];
  return value
    .split(',', MAX_MEMBERS)
    .map((m) => m.trim())
    .filter((m) => m.length > 0 && m.length <= MAX_MEMBER_CHARS);
}

function decodeSha256(base64: string): Buffer | undefined {
  const bytes = Buffer.from(base64, 'base64');
  return bytes.length === HASH_SIZE && bytes.toString('base64') === base64 ? bytes : undefined;
}
