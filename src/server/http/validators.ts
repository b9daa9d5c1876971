import { createHash } from 'node:crypto';
import type { IncomingHttpHeaders } from 'node:http';
import type { FileVersion } from '../catalog.js';
import type { FileHashes } from '../hasher.js';

/**
 * A strong ETag from the file's identity: the SHA-256 (a prefix of it) and the
 * size once the file is hashed; before that, a digest of device, inode, size
 * and mtime. Either way it changes whenever the bytes can have changed.
 */
export function etagOf(file: FileVersion, hashes: FileHashes | undefined): string {
  if (hashes) return `"${hashes.sha256.toString('hex').slice(0, 32)}-${file.size}"`;
  return `"v-${createHash('sha256').update(file.versionKey).digest('hex').slice(0, 24)}"`;
}

/** Last-Modified has whole seconds; comparisons use the same rounding. */
export function lastModifiedOf(file: FileVersion): string {
  return new Date(Math.floor(file.mtimeUs / 1e6) * 1000).toUTCString();
}

/**
 * True when the client's cached copy is current, so the answer is 304
 * (RFC 9110 §13.2.2: If-None-Match wins over If-Modified-Since, which is only
 * looked at when If-None-Match is absent).
 */
export function notModified(headers: IncomingHttpHeaders, etag: string, file: FileVersion): boolean {
  const inm = headers['if-none-match'];
  if (inm !== undefined) return weakMatch(inm, etag);
  const ims = headers['if-modified-since'];
  if (ims === undefined) return false;
  const since = Date.parse(ims);
  return Number.isFinite(since) && Math.floor(file.mtimeUs / 1e6) * 1000 <= since;
}

/**
 * If-Range: a Range is honoured only when the validator names this exact
 * version: the same strong ETag, or the exact Last-Modified date. Otherwise
 * the whole file is sent, so a resumed download never mixes two versions.
 */
export function ifRangeHolds(headers: IncomingHttpHeaders, etag: string, file: FileVersion): boolean {
  const value = headerOf(headers, 'if-range')?.trim();
  if (value === undefined) return true;
  if (value.startsWith('"') || value.startsWith('W/')) return value === etag;
  const date = Date.parse(value);
  return Number.isFinite(date) && date === Math.floor(file.mtimeUs / 1e6) * 1000;
}

/** `*` or a comma-separated list of entity tags, compared weakly (the `W/` prefix ignored). */
function weakMatch(list: string, etag: string): boolean {
  if (list.trim() === '*') return true;
  const bare = (tag: string) => tag.replace(/^W\//, '');
  return list
    .split(',')
    .slice(0, 100)
    .some((tag) => bare(tag.trim()) === bare(etag));
}

/** A header's value as one string (node:http gives unknown repeated headers as an array). */
export function headerOf(headers: IncomingHttpHeaders, name: string): string | undefined {
  const value = headers[name];
  return Array.isArray(value) ? value.join(', ') : value;
}
