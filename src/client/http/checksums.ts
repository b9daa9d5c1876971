import { ChecksumListError, UsageError } from '../../errors.js';
import { HASH_SIZE } from '../../protocol/constants.js';
import { printableName } from '../../protocol/index.js';

/** A `sha256sum` list is read up to this size, and at most this many lines. */
export const MAX_CHECKSUM_LIST_BYTES = 16 * 1024 * 1024;
const MAX_CHECKSUM_LINES = 200_000;

/**
 * `sha256=HEX` (also `sha-256=HEX`, aria2's spelling) as given on the
 * command line: the file's SHA-256, or a usage error saying what is wrong.
 */
export function parseChecksumOption(text: string): Buffer {
  const m = /^sha-?256=([0-9a-f]+)$/i.exec(text.trim());
  if (!m?.[1]) {
    throw new UsageError(`"${printableName(text)}" is not a checksum: write sha256= and 64 hex digits.`);
  }
  if (m[1].length !== HASH_SIZE * 2) {
    throw new UsageError(`A SHA-256 has 64 hex digits; "${printableName(text)}" has ${m[1].length}.`);
  }
  return Buffer.from(m[1], 'hex');
}

/**
 * A checksum list in `sha256sum` format (`HEX  NAME` or `HEX *NAME`, with
 * sha256sum's `\`-escaped lines for names with a newline or backslash) or
 * the BSD tag format (`SHA256 (NAME) = HEX`). Returns name → SHA-256; names
 * are matched against the file's name on disk or its URL's last segment.
 * Blank and `#` lines are skipped; any other malformed line makes the whole
 * list refused (a list we half understand is not one to trust).
 */
export function parseChecksumList(text: string, source: string): Map<string, Buffer> {
  if (Buffer.byteLength(text) > MAX_CHECKSUM_LIST_BYTES) {
    throw listError(source, `is larger than ${MAX_CHECKSUM_LIST_BYTES} bytes`);
  }
  const sums = new Map<string, Buffer>();
  const lines = text.split(/\r?\n/);
  if (lines.length > MAX_CHECKSUM_LINES) throw listError(source, `has more than ${MAX_CHECKSUM_LINES} lines`);
  lines.forEach((line, i) => {
    if (line.trim() === '' || line.startsWith('#')) return;
    const entry = parseLine(line);
    if (!entry) throw listError(source, `has a line ${i + 1} that is not "HEX  NAME"`);
    const seen = sums.get(entry.name);
    if (seen && !seen.equals(entry.sha256))
      throw listError(source, `lists "${printableName(entry.name)}" twice`);
    sums.set(entry.name, entry.sha256);
  });
  return sums;
}

function parseLine(line: string): { name: string; sha256: Buffer } | undefined {
  const bsd = /^SHA256 \((.+)\) = ([0-9a-fA-F]{64})$/.exec(line);
  if (bsd?.[1] && bsd[2]) return { name: bsd[1], sha256: Buffer.from(bsd[2], 'hex') };
  const escaped = line.startsWith('\\');
  const gnu = /^([0-9a-fA-F]{64}) [ *](.+)$/.exec(escaped ? line.slice(1) : line);
  if (!gnu?.[1] || !gnu[2]) return undefined;
  const name = escaped ? unescapeName(gnu[2]) : gnu[2];
  return name === undefined ? undefined : { name, sha256: Buffer.from(gnu[1], 'hex') };
}

/** sha256sum writes `\\` for a backslash and `\n` for a newline in an escaped line. */
function unescapeName(name: string): string | undefined {
  let bad = false;
  const out = name.replace(/\\(.?)/g, (_, c: string) => {
    if (c === '\\') return '\\';
    if (c === 'n') return '\n';
    bad = true;
    return '';
  });
  return bad ? undefined : out;
}

/** The list's SHA-256 for a file known by any of `names` (its name on disk, its URL's last segment). */
export function lookupChecksum(sums: Map<string, Buffer>, names: string[]): Buffer | undefined {
  for (const name of names) {
    const hit = sums.get(name) ?? sums.get(`./${name}`);
    if (hit) return hit;
  }
  // sha256sum run from a parent folder writes `dir/name`: match on the last segment too.
  for (const [listed, sha] of sums) {
    const base = listed.slice(listed.lastIndexOf('/') + 1);
    if (names.includes(base)) return sha;
  }
  return undefined;
}

function listError(source: string, what: string): ChecksumListError {
  return new ChecksumListError(`The checksum list ${printableName(source)} ${what}.`);
}
