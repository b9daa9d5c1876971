/** The files a bench run serves, and keeping them in the page cache. */
import { randomFillSync } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import { open } from 'node:fs/promises';

const MiB = 1024 * 1024;
/** Random data is generated and written this much at a time. */
const WRITE_CHUNK = 64 * MiB;

export async function writeRandomFile(path: string, size: number): Promise<void> {
  const fh = await open(path, 'w');
  const chunk = Buffer.allocUnsafe(Math.min(size, WRITE_CHUNK));
  for (let pos = 0; pos < size; pos += chunk.length) {
    randomFillSync(chunk);
    await fh.write(chunk, 0, Math.min(chunk.length, size - pos), pos);
  }
  await fh.close();
}

/**
 * Reads the workload's source files just before a timed run. A warm page cache
 * cannot be taken for granted: this VM runs DAMON proactive reclaim (a kdamond
 * with the `pageout` action), which pages out file data unused for a few
 * seconds, so a file warmed a minute earlier is partly back on disk, and the
 * first tool of each round paid for reading it while the next found it warm.
 */
export function warm(paths: string): void {
  execFileSync('sh', ['-c', `cat ${paths} > /dev/null`]);
}
