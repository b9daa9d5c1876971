import { Worker } from 'node:worker_threads';
import { FileSystemError } from '../errors.js';

/**
 * The main thread's handle on hash-worker.ts: tell it how far the file is
 * written (`advance`), then wait for the digest of the whole file.
 */
export class PrefixHasher {
  private readonly worker: Worker;
  private readonly result: Promise<Buffer>;
  private sent = 0;

  constructor(
    path: string,
    private readonly size: number,
  ) {
    this.worker = new Worker(new URL('./hash-worker.js', import.meta.url), { workerData: { path, size } });
    this.result = new Promise<Buffer>((resolve, reject) => {
      this.worker.on('message', (m: { digest?: string; error?: string }) => {
        if (m.digest) resolve(Buffer.from(m.digest, 'hex'));
        else reject(new FileSystemError(`Hashing the downloaded file failed: ${m.error ?? 'unknown'}`));
      });
      this.worker.on('error', reject);
    });
    this.result.catch(() => undefined);
  }

  /** Bytes [0, upTo) are on disk and will not change. */
  advance(upTo: number): void {
    if (upTo <= this.sent) return;
    this.sent = upTo;
    this.worker.postMessage({ upTo });
  }

  async digest(): Promise<Buffer> {
    this.advance(this.size);
    try {
      return await this.result;
    } finally {
      await this.worker.terminate();
    }
  }

  stop(): void {
    void this.worker.terminate();
  }
}
