import { createHash } from 'node:crypto';
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';

/**
 * The download folder's layout as docs/protocol.md §5 states it: the client's
 * own files in `.xfer/`, named by the SHA-256 of the file's name. Written out
 * here rather than imported, so a test notices if the layout changes.
 */
export function ownFiles(data: string, name: string): { part: string; state: string } {
  const key = createHash('sha256').update(name).digest('hex');
  return { part: join(data, '.xfer', `${key}.part`), state: join(data, '.xfer', `${key}.state`) };
}

/** Everything under the download folder but the client's own `.xfer/` folder, sorted. */
export async function downloaded(data: string): Promise<string[]> {
  const all = (await readdir(data, { recursive: true })).map(String);
  return all.filter((p) => p !== '.xfer' && !p.startsWith('.xfer/')).sort();
}

/** What the client keeps in `.xfer/` (partials, resume state), sorted; none when the folder is missing. */
export async function bookkeeping(data: string): Promise<string[]> {
  return (await readdir(join(data, '.xfer')).catch(() => [])).sort();
}
