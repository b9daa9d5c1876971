import { readFile } from 'node:fs/promises';
import { FileSystemError, errorFromCode, toXferError } from '../errors.js';

/** input.txt is a list of names typed by a person; a megabyte is far beyond any real one. */
const MAX_INPUT_BYTES = 1024 * 1024;

/**
 * The names in input.txt, in order: one per line, surrounding whitespace
 * trimmed, blank lines and `#` comments skipped, duplicates kept once.
 */
export function parseInputList(text: string): string[] {
  const seen = new Set<string>();
  for (const raw of text.split(/\r?\n/)) {
    const name = raw.trim();
    if (name === '' || name.startsWith('#')) continue;
    seen.add(name);
  }
  return [...seen];
}

export async function readInputList(path: string): Promise<string[]> {
  let buf: Buffer;
  try {
    buf = await readFile(path);
  } catch (err) {
    const e = toXferError(err);
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') {
      throw new FileSystemError(`${path} does not exist: create it with one file name per line.`, {
        cause: err,
      });
    }
    throw errorFromCode(
      e.code === 'ERR_XFER_INTERNAL' ? 'ERR_XFER_FS' : e.code,
      `Cannot read ${path}: ${e.message}`,
      { cause: err },
    );
  }
  if (buf.length > MAX_INPUT_BYTES) {
    throw new FileSystemError(`${path} is ${buf.length} bytes; the limit is ${MAX_INPUT_BYTES}.`);
  }
  return parseInputList(buf.toString('utf8'));
}
