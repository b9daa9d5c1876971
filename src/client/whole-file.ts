import { createHash } from 'node:crypto';
import { closeSync, constants as fsc, fstatSync, openSync, renameSync, rmSync } from 'node:fs';
import { IntegrityError, InternalError, UnsafePathError, toXferError, type XferError } from '../errors.js';
import { printableName } from '../protocol/index.js';
import { MAX_REPAIR_ROUNDS, type DownloadOptions, type DownloadResult } from './download.js';
import type { ClientEvent, DownloadProgress } from './events.js';
import type { DownloadPaths } from './paths.js';
import { writeAllSync } from './part-file.js';
import { ProgressWatch, noProgressError, stalledError } from './progress-watch.js';
import { abortError, retryOrGiveUp } from './retry.js';
import type { RangeSource } from './source.js';

/**
 * Files up to this size are fetched with one request, verified in memory and
 * written once. It is also the most such a download holds in memory.
 */
export const WHOLE_FILE_MAX_BYTES = 1024 * 1024;

/**
 * A small file (at most WHOLE_FILE_MAX_BYTES): one request on one channel of
 * its first source into memory, size and SHA-256 checked there, then written
 * to `NAME.part` and renamed to `NAME`. Unverified bytes never touch the disk,
 * so there is never a partial file to resume: an interrupted one is fetched
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

  progress(): DownloadProgress {
    const total = this.o.file.identity.size;
    return {
      bytes: this.received,
      total,
      resumedBytes: 0,
      parts: [{ part: 0, bytes: this.received, total, source: this.label }],
      sources: [{ source: this.label, bytes: this.received }],
    };
  }

  /** A small file is one request to its primary source. */
  private get label(): string {
    return this.o.sources[0]?.label ?? '';
  }

  async run(): Promise<DownloadResult> {
    const { name, identity } = this.o.file;
    this.o.emit({
      type: 'start',
      file: name,
      size: identity.size,
      mode: 'whole',
      parts: [{ part: 0, offset: 0, length: identity.size, source: this.label }],
      resumedBytes: 0,
    });
    for (let round = 0; ; round++) {
      const bytes = await this.fetchWithRetries();
      const digest = createHash('sha256').update(bytes).digest();
      if (
        this.received === identity.size &&
        (this.o.file.verify === 'size' || digest.equals(identity.sha256))
      ) {
        landVerified(this.o.paths, bytes);
        return { sha256: digest.toString('hex'), bytesTransferred: this.bytesTransferred };
      }
      if (round >= MAX_REPAIR_ROUNDS) {
        throw new IntegrityError(
          `"${printableName(name)}" failed SHA-256 verification after ${round} repair attempts; it was not saved.`,
        );
      }
      this.o.emit(wholeFileRepair(name));
    }
  }

  /**
   * The file's bytes, retrying connection failures as decideRetry says. The
   * minimum-progress rule holds here too: a drip loses its connection, and a
   * file that cannot get its bytes within the give-up time fails.
   */
  private async fetchWithRetries(): Promise<Buffer> {
    const { signal, policy } = this.o;
    const source = this.o.sources[0];
    if (!source) throw new InternalError('A download needs at least one source.');
    const watch = new ProgressWatch(policy, Date.now());
    let reason: XferError | undefined;
    const timer = setInterval(() => {
      const verdict = watch.check(Date.now());
      if (verdict.gaveUp) reason = noProgressError(policy, this.o.file.name);
      else if (verdict.stalled.length > 0) reason = stalledError(policy, source.label);
      if (reason) source.drop(0);
    }, watch.checkIntervalMs);
    try {
      for (let attempt = 0; ;) {
        if (signal.aborted) throw abortError();
        try {
          watch.busy(0, Date.now());
          return await this.fetchOnce(source, watch);
        } catch (err) {
          if (signal.aborted) throw abortError();
          const e = reason ?? toXferError(err);
          reason = undefined;
          watch.idle(0);
          if (e.code === 'ERR_XFER_NO_PROGRESS') throw e;
          source.drop(0, e);
          attempt = await retryOrGiveUp(this.o, 0, { attempt, error: e, progressBytes: this.received });
        }
      }
    } finally {
      clearInterval(timer);
    }
  }

  private async fetchOnce(source: RangeSource, watch: ProgressWatch): Promise<Buffer> {
    const { size } = this.o.file.identity;
    const bytes = Buffer.allocUnsafe(size);
    this.received = 0;
    const channel = await source.channel(0);
    await channel.read({
      offset: 0,
      length: size,
      // The chunk is the connection's read buffer: copy it out now. The
      // source delivers exactly the `size` bytes asked for, in order.
      onChunk: (chunk, position) => {
        chunk.copy(bytes, position);
        this.received += chunk.length;
        this.bytesTransferred += chunk.length;
        watch.received(0, chunk.length, Date.now());
      },
      // Bytes whose SHA-256 matches are the expected file, whatever the source
      // reports afterwards; bytes that do not match are fetched again.
    });
    return bytes;
  }
}

/** A small file whose bytes failed their SHA-256 in memory: it is fetched again whole. */
export function wholeFileRepair(name: string): ClientEvent {
  return {
    type: 'repair',
    file: name,
    pieces: 1,
    message: `"${printableName(name)}" arrived damaged and will be fetched again.`,
  };
}

/**
 * Verified bytes to `NAME.part` (never through a symlink), then renamed into
 * place. Synchronous on purpose: for a small file each call takes
 * microseconds, less than a round trip through the thread pool.
 */
export function landVerified(paths: DownloadPaths, data: Buffer): void {
  const { part, final } = paths;
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
