import { createHash } from 'node:crypto';
import { closeSync, constants as fsc, fstatSync, openSync, renameSync, rmSync } from 'node:fs';
import { IntegrityError, UnsafePathError, toXferError } from '../errors.js';
import { printableName } from '../protocol/index.js';
import {
  MAX_REPAIR_ROUNDS,
  abortError,
  backOff,
  giveUpAfter,
  type DownloadOptions,
  type DownloadResult,
} from './download.js';
import { writeAllSync } from './part-file.js';
import type { PartProgress } from './events.js';

/**
 * Files up to this size are fetched with one request, verified in memory and
 * written once. It is also the most such a download holds in memory.
 */
export const WHOLE_FILE_MAX_BYTES = 1024 * 1024;

/**
 * A small file (at most WHOLE_FILE_MAX_BYTES): one GET on one pooled
 * connection into memory, size and SHA-256 checked there, then written to
 * `NAME.part` and renamed to `NAME`. Unverified bytes never touch the disk, so
 * there is never a partial file to resume: an interrupted one is fetched
 * again, which costs less than any resume bookkeeping.
 *
 * Its file-system calls (open, fstat, write, close, rename) are synchronous on
 * purpose: for a few KiB each takes microseconds, less than a round trip
 * through the thread pool, and those round trips dominate a run of thousands
 * of small files. The session sends only files up to WHOLE_FILE_MAX_BYTES here.
 */
export class WholeFileDownload {
  private received = 0;
  private bytesTransferred = 0;

  constructor(private readonly o: DownloadOptions) {}

  progress(): { bytes: number; total: number; parts: PartProgress[] } {
    const total = this.o.file.identity.size;
    return { bytes: this.received, total, parts: [{ part: 0, bytes: this.received, total }] };
  }

  async run(): Promise<DownloadResult> {
    const { name, identity } = this.o.file;
    this.o.emit({
      type: 'start',
      file: name,
      size: identity.size,
      parts: [{ part: 0, offset: 0, length: identity.size }],
      resumedBytes: 0,
    });
    for (let round = 0; ; round++) {
      const bytes = await this.fetchWithRetries();
      if (
        this.received === identity.size &&
        createHash('sha256').update(bytes).digest().equals(identity.sha256)
      ) {
        this.land(bytes);
        return { sha256: identity.sha256.toString('hex'), bytesTransferred: this.bytesTransferred };
      }
      if (round >= MAX_REPAIR_ROUNDS) {
        throw new IntegrityError(
          `"${printableName(name)}" failed SHA-256 verification after ${round} repair attempts; it was not saved.`,
        );
      }
      this.o.emit({
        type: 'repair',
        file: name,
        pieces: 1,
        message: `"${printableName(name)}" arrived damaged and will be fetched again.`,
      });
    }
  }

  /** The file's bytes, retrying connection failures with back-off as the policy says. */
  private async fetchWithRetries(): Promise<Buffer> {
    const { pool, signal } = this.o;
    const slot = (this.o.firstSlot ?? 0) % pool.size;
    for (let attempt = 1; ; attempt++) {
      if (signal.aborted) throw abortError();
      // No abort listener per file (32 in flight would trip MaxListeners): the signal closes the pool's connections.
      try {
        return await this.fetchOnce(slot);
      } catch (err) {
        if (signal.aborted) throw abortError();
        const e = toXferError(err);
        if (!e.retryable) throw e;
        pool.drop(slot);
        const gaveUp = giveUpAfter(this.o, attempt, e);
        if (gaveUp) throw gaveUp;
        await backOff(this.o, 0, attempt, e);
      }
    }
  }

  private async fetchOnce(slot: number): Promise<Buffer> {
    const { file } = this.o;
    const bytes = Buffer.allocUnsafe(file.identity.size);
    this.received = 0;
    const conn = await this.o.pool.connection(slot);
    await conn.get({
      name: file.name,
      offset: 0,
      length: file.identity.size,
      expect: file.identity,
      // The chunk is the connection's read buffer: copy it out now. The
      // connection delivers exactly the `size` bytes asked for, in order.
      onChunk: (chunk, position) => {
        chunk.copy(bytes, position);
        this.received += chunk.length;
        this.bytesTransferred += chunk.length;
      },
      // Bytes whose SHA-256 matches are the expected file, whatever the server
      // reports afterwards; bytes that do not match are fetched again.
      onLateError: () => undefined,
    });
    return bytes;
  }

  /** Verified bytes to `NAME.part` (never through a symlink), then renamed into place. */
  private land(data: Buffer): void {
    const { part, final } = this.o.paths;
    const notRegular = (cause?: unknown) =>
      new UnsafePathError(`${part} is not a regular file; refusing to write through it.`, {
        cause,
      });
    let fd: number;
    try {
      // O_NONBLOCK: a FIFO planted as the .part fails to open (ENXIO) instead of blocking.
      fd = openSync(part, fsc.O_WRONLY | fsc.O_CREAT | fsc.O_TRUNC | fsc.O_NOFOLLOW | fsc.O_NONBLOCK, 0o644);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      throw code === 'ELOOP' || code === 'ENXIO' ? notRegular(err) : toXferError(err);
    }
    try {
      if (!fstatSync(fd).isFile()) throw notRegular();
      writeAllSync(fd, data, 0);
    } catch (err) {
      closeSync(fd);
      rmSync(part, { force: true });
      throw toXferError(err);
    }
    closeSync(fd);
    // rename(2) replaces whatever is at the final path (a symlink included) and never follows it.
    renameSync(part, final);
  }
}
