import { createHash } from 'node:crypto';
import { constants as fsc } from 'node:fs';
import { open, rename, rm } from 'node:fs/promises';
import { IntegrityError, UnsafePathError, toXferError } from '../../errors.js';
import { printableName } from '../../protocol/index.js';
import type { EmitEvent } from '../events.js';
import { writeAllSync } from '../part-file.js';
import type { DownloadPaths } from '../paths.js';
import { readBody } from './range-fetch.js';
import type { RateLimit } from './rate-limit.js';
import type { ExpectedHash } from './web-hashes.js';
import type { WebAnswer } from './web-request.js';

/**
 * A web file whose size the server does not say (a chunked 200): its one
 * answer streamed into `NAME.part` and hashed on the way, checked against a
 * known SHA-256 if there is one, then renamed to `NAME`. Nothing to resume
 * (a new attempt starts from the first byte), nothing to split.
 */
export async function streamWhole(o: {
  name: string;
  paths: DownloadPaths;
  answer: WebAnswer;
  expected: ExpectedHash | undefined;
  signal: AbortSignal;
  emit: EmitEvent;
  limit: RateLimit | undefined;
}): Promise<{ size: number; sha256: string; bytesTransferred: number; verified: string }> {
  const { paths, name } = o;
  let fh;
  try {
    fh = await open(
      paths.part,
      fsc.O_WRONLY | fsc.O_CREAT | fsc.O_TRUNC | fsc.O_NOFOLLOW | fsc.O_NONBLOCK,
      0o644,
    );
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw code === 'ELOOP' || code === 'ENXIO'
      ? new UnsafePathError(`${paths.part} is not a regular file; refusing to write through it.`)
      : toXferError(err);
  }
  const hash = createHash('sha256');
  let size = 0;
  o.emit({
    type: 'start',
    file: name,
    size: 0,
    mode: 'whole',
    parts: [{ part: 0, offset: 0, length: 0 }],
    resumedBytes: 0,
  });
  const abort = () => o.answer.body.destroy();
  o.signal.addEventListener('abort', abort, { once: true });
  try {
    if (!(await fh.stat()).isFile())
      throw new UnsafePathError(`${paths.part} is not a regular file; refusing to write through it.`);
    size = await readBody(
      o.answer,
      0,
      undefined,
      (chunk, at) => {
        writeAllSync(fh.fd, chunk, at);
        hash.update(chunk);
      },
      o,
    );
    const digest = hash.digest();
    if (o.expected && !digest.equals(o.expected.sha256)) {
      throw new IntegrityError(
        `"${printableName(name)}" does not match its SHA-256 (${o.expected.source}); it was not saved.`,
      );
    }
    await fh.close();
    await rename(paths.part, paths.final);
    return {
      size,
      sha256: digest.toString('hex'),
      bytesTransferred: size,
      verified: o.expected ? `sha256 (${o.expected.source})` : 'none (the server gave no size and no hash)',
    };
  } catch (err) {
    await fh.close().catch(() => undefined);
    await rm(paths.part, { force: true });
    throw toXferError(err);
  } finally {
    o.signal.removeEventListener('abort', abort);
  }
}
