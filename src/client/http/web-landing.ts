import { createHash } from 'node:crypto';
import { lstatSync } from 'node:fs';
import { holdsVersion } from '../../file-hash.js';
import type { EmitEvent } from '../events.js';
import type { DownloadPaths } from '../paths.js';
import { landVerified, wholeFileRepair } from '../whole-file.js';
import type { ExpectedHash } from './web-hashes.js';

/**
 * A file already at the final path is never overwritten by a web download (a
 * verified file stays untouched): it is skipped, as verified when a known
 * SHA-256 matches, else as kept. Returns whether it was skipped.
 */
export async function skipIfThere(o: {
  name: string;
  paths: DownloadPaths;
  size: number | undefined;
  expected: ExpectedHash | undefined;
  emit: EmitEvent;
}): Promise<boolean> {
  // Synchronous: the common answer, nothing there yet, then costs no thread-pool round trip nor a thrown error.
  const st = lstatSync(o.paths.final, { throwIfNoEntry: false });
  if (!st) return false;
  const same =
    o.size !== undefined &&
    o.expected !== undefined &&
    (await holdsVersion(o.paths.final, o.size, o.expected.sha256));
  o.emit({
    type: 'skip',
    file: o.name,
    reason: same
      ? 'already downloaded and verified'
      : 'a file by that name is already there; it is kept (remove it to fetch again)',
  });
  return true;
}

/**
 * A small web file (at most WHOLE_FILE_MAX_BYTES) whose bytes came in the
 * probe's own answer: checked in memory (the size is exact; the SHA-256 when
 * one is known), then landed (`NAME.part`, renamed). No second request, no
 * engine, no timers: thousands of small files pay for one round trip each.
 * Emits `start` and, once landed, one `progress`; returns the SHA-256 (hex),
 * or undefined after a `repair` event when the bytes failed their hash (the
 * engine then fetches the file again, with its retries). The caller emits
 * `done`.
 */
export function landSmall(o: {
  name: string;
  paths: DownloadPaths;
  bytes: Buffer;
  expected: ExpectedHash | undefined;
  /** The web server, as the parts and sources of events name it. */
  source: string;
  /** When the probe was sent (for the speed). */
  started: number;
  emit: EmitEvent;
}): string | undefined {
  const { name, source } = o;
  const size = o.bytes.length;
  o.emit({
    type: 'start',
    file: name,
    size,
    mode: 'whole',
    parts: [{ part: 0, offset: 0, length: size, source }],
    resumedBytes: 0,
  });
  const digest = createHash('sha256').update(o.bytes).digest();
  if (o.expected && !digest.equals(o.expected.sha256)) {
    o.emit(wholeFileRepair(name));
    return undefined;
  }
  landVerified(o.paths, o.bytes);
  const ms = Date.now() - o.started;
  const bytesPerSecond = ms > 0 ? Math.round((size * 1000) / ms) : 0;
  o.emit({
    type: 'progress',
    file: name,
    bytes: size,
    total: size,
    bytesPerSecond,
    parts: [{ part: 0, bytes: size, total: size, source }],
    sources: [{ source, bytes: size, bytesPerSecond }],
  });
  return digest.toString('hex');
}
