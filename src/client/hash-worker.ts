/**
 * Worker thread: SHA-256 of a file that is still being written, hashing each
 * stretch as soon as the main thread says it is on disk (`{ upTo }`), so the
 * final verification overlaps the download instead of following it.
 */
import { createHash } from 'node:crypto';
import { open } from 'node:fs/promises';
import { parentPort, workerData } from 'node:worker_threads';
import { forEachChunk } from '../file-hash.js';

const { path, size } = workerData as { path: string; size: number };
const port = parentPort;
const fh = await open(path, 'r');
const hash = createHash('sha256');
let hashed = 0;
let target = 0;
let running = false;

async function catchUp(): Promise<void> {
  if (running) return;
  running = true;
  try {
    while (hashed < target) {
      const upTo = target;
      // 1 MiB reads: the prefix grows a block at a time, and this keeps the worker's footprint small.
      await forEachChunk(fh, hashed, upTo, (chunk) => hash.update(chunk), 1024 * 1024);
      hashed = upTo;
    }
    if (hashed === size) {
      await fh.close();
      port?.postMessage({ digest: hash.digest('hex') });
    }
  } catch (err) {
    port?.postMessage({ error: (err as Error).message });
  } finally {
    running = false;
  }
}

port?.on('message', (m: { upTo: number }) => {
  target = Math.max(target, Math.min(m.upTo, size));
  void catchUp();
});
