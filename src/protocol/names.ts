import { InvalidNameError } from '../errors.js';
import { MAX_NAME_BYTES, MAX_SEGMENT_BYTES } from './constants.js';

/**
 * C0 and C1 controls, DEL, and the Unicode bidi overrides/isolates: none belongs
 * in a file name, and each can rewrite what a terminal shows.
 */
// eslint-disable-next-line no-control-regex
const FORBIDDEN_CHARS = /[\u0000-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069]/u;

/**
 * The one rule for file names on the wire, applied by server and client alike:
 * a relative path of `/`-separated segments that cannot climb out of the folder
 * it is joined to. Names are taken literally: `%2e%2e` is a file called `%2e%2e`.
 * Returns the name unchanged or throws ERR_XFER_NAME saying what is wrong.
 */
export function validateName(name: string): string {
  const bytes = Buffer.byteLength(name, 'utf8');
  if (bytes === 0) throw nameError(name, 'is empty');
  if (bytes > MAX_NAME_BYTES) throw nameError(name, `is ${bytes} bytes long (limit ${MAX_NAME_BYTES})`);
  if (FORBIDDEN_CHARS.test(name)) throw nameError(name, 'contains control characters');
  if (name.includes('\\')) throw nameError(name, 'contains a backslash');
  if (name.startsWith('/')) throw nameError(name, 'is an absolute path');
  if (name.includes('\uFFFD')) throw nameError(name, 'is not valid UTF-8');
  for (const segment of name.split('/')) {
    if (segment === '') throw nameError(name, 'has an empty path segment');
    if (segment === '.' || segment === '..') throw nameError(name, `has a "${segment}" segment`);
    if (Buffer.byteLength(segment, 'utf8') > MAX_SEGMENT_BYTES) {
      throw nameError(name, `has a segment over ${MAX_SEGMENT_BYTES} bytes`);
    }
  }
  return name;
}

/**
 * A name made safe to print: control characters become `\xNN`/`\uNNNN` escapes,
 * so a hostile name can never move the cursor or recolour the terminal.
 */
export function printableName(name: string): string {
  // eslint-disable-next-line no-control-regex
  return name.replace(/[\u0000-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069]/gu, (ch) => {
    const cp = ch.codePointAt(0) ?? 0;
    return cp <= 0xff ? `\\x${cp.toString(16).padStart(2, '0')}` : `\\u${cp.toString(16).padStart(4, '0')}`;
  });
}

function nameError(name: string, reason: string): InvalidNameError {
  const shown = printableName(name.length > 80 ? `${name.slice(0, 77)}...` : name);
  return new InvalidNameError(`The file name "${shown}" ${reason}.`);
}
