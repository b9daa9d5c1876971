import type { XferError } from '../../errors.js';
import { InvalidNameError } from '../../errors.js';
import { printableName, validateName } from '../../protocol/index.js';
import { singleHeader, type ResponseHeaders } from './headers.js';

/**
 * The name a web file gets on disk: `Content-Disposition`'s `filename*`
 * (RFC 8187) or `filename`, else the URL's last path segment, percent-decoded.
 * Whatever the server or URL says, only its last path segment is kept
 * (`filename="../../x"` becomes `x`, as browsers do), and that must pass the
 * same rule as every xfer name (no control characters, no `..`, length
 * limits); otherwise it is an ERR_XFER_NAME error, never a path.
 */
export function fileNameFor(url: URL, headers: ResponseHeaders | undefined): string {
  const disposition = headers ? singleHeader(headers, 'content-disposition') : undefined;
  const fromHeader = disposition === undefined ? undefined : dispositionFileName(disposition);
  if (fromHeader !== undefined) return safeBaseName(fromHeader, 'Content-Disposition');
  const segment = url.pathname.slice(url.pathname.lastIndexOf('/') + 1);
  let decoded: string;
  try {
    decoded = decodeURIComponent(segment);
  } catch {
    throw nameError(`The URL's file name "${printableName(segment)}" is not valid percent-encoded UTF-8.`);
  }
  return safeBaseName(decoded, 'URL');
}

/** The last `/`- or `\`-separated segment of `name`, checked by the xfer name rule. */
export function safeBaseName(name: string, from: string): string {
  const base = name.split(/[/\\]/).pop() ?? '';
  if (base === '' || base === '.' || base === '..') {
    throw nameError(
      `The ${from} gives no usable file name ("${printableName(name.slice(0, 80))}"); name the file yourself.`,
    );
  }
  try {
    return validateName(base);
  } catch (err) {
    throw nameError(`The ${from} file name was refused: ${(err as Error).message}`);
  }
}

const PARAMETER = /;\s*([!#$%&'*+.^_`|~0-9A-Za-z-]+)\s*=\s*("(?:[^"\\]|\\.){0,4096}"|[^;\s]{0,4096})/gy;

/** `filename*` (preferred, RFC 8187) or `filename` from a Content-Disposition value; undefined if absent or malformed. */
export function dispositionFileName(value: string): string | undefined {
  const semicolon = value.indexOf(';');
  if (semicolon < 0) return undefined;
  const params = new Map<string, string>();
  PARAMETER.lastIndex = semicolon;
  for (let m = PARAMETER.exec(value); m; m = PARAMETER.exec(value)) {
    const key = (m[1] ?? '').toLowerCase();
    const raw = m[2] ?? '';
    if (!params.has(key))
      params.set(key, raw.startsWith('"') ? raw.slice(1, -1).replace(/\\(.)/g, '$1') : raw);
  }
  const extended = params.get('filename*');
  const decoded = extended === undefined ? undefined : decodeExtValue(extended);
  return decoded ?? params.get('filename');
}

/** RFC 8187 `charset'language'value`: UTF-8 or ISO-8859-1, percent-encoded. */
function decodeExtValue(ext: string): string | undefined {
  const m = /^(utf-8|iso-8859-1)'[^']*'(.*)$/i.exec(ext);
  if (!m?.[1] || m[2] === undefined) return undefined;
  try {
    if (m[1].toLowerCase() === 'utf-8') return decodeURIComponent(m[2]);
    return unescapeLatin1(m[2]);
  } catch {
    return undefined;
  }
}

function unescapeLatin1(value: string): string {
  return value.replace(/%([0-9a-fA-F]{2})/g, (_, hex: string) => String.fromCharCode(parseInt(hex, 16)));
}

function nameError(message: string): XferError {
  return new InvalidNameError(message);
}
