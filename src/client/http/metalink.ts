import { ChecksumListError } from '../../errors.js';
import { HASH_SIZE, MAX_PIECES } from '../../protocol/constants.js';
import { printableName } from '../../protocol/index.js';

/** What we use of one `<file>` of a Metalink v4 document (RFC 5854). */
export interface MetalinkFile {
  name: string;
  size: number | undefined;
  sha256: Buffer | undefined;
  /** Piece hashes (`<pieces type="sha-256">`), in file order. */
  pieces: { length: number; hashes: Buffer[] } | undefined;
}

/** A Metalink is read up to this size: 32768 piece hashes in hex with their tags fit. */
export const MAX_METALINK_BYTES = 4 * 1024 * 1024;
const MAX_DEPTH = 16;
const MAX_ELEMENTS = MAX_PIECES + 1024;

interface Element {
  name: string;
  attrs: Map<string, string>;
  children: Element[];
  text: string;
}

/**
 * Parses the subset of Metalink v4 we use: each file's name, size, whole-file
 * sha-256 and sha-256 piece hashes. The XML reader is deliberately tiny and
 * strict: no DOCTYPE, no entities beyond the five predefined ones and
 * character references, no CDATA, bounded size, depth and element count.
 * A document outside that subset is refused whole, never half-trusted.
 */
export function parseMetalink(text: string): MetalinkFile[] {
  if (Buffer.byteLength(text) > MAX_METALINK_BYTES)
    throw metalinkError(`is larger than ${MAX_METALINK_BYTES} bytes`);
  const root = parseXml(text);
  if (root.name !== 'metalink') throw metalinkError('has no <metalink> root element');
  return root.children.filter((e) => e.name === 'file').map(readFile);
}

function readFile(file: Element): MetalinkFile {
  const name = file.attrs.get('name');
  if (!name) throw metalinkError('has a <file> without a name');
  const sizeText = child(file, 'size')?.text.trim();
  const size = sizeText === undefined ? undefined : Number(sizeText);
  if (
    size !== undefined &&
    !(sizeText !== undefined && /^\d{1,16}$/.test(sizeText) && Number.isSafeInteger(size))
  ) {
    throw metalinkError(`gives "${printableName(name)}" an invalid size`);
  }
  const sha = file.children.find((e) => e.name === 'hash' && e.attrs.get('type') === 'sha-256');
  const piecesEl = file.children.find((e) => e.name === 'pieces' && e.attrs.get('type') === 'sha-256');
  let pieces: MetalinkFile['pieces'];
  if (piecesEl) {
    const lengthText = piecesEl.attrs.get('length') ?? '';
    const length = Number(lengthText);
    if (!/^\d{1,12}$/.test(lengthText) || length <= 0)
      throw metalinkError(`gives "${printableName(name)}" an invalid piece length`);
    const hashes = piecesEl.children.filter((e) => e.name === 'hash').map((e) => hexHash(e.text, name));
    if (size !== undefined && hashes.length !== Math.max(1, Math.ceil(size / length))) {
      throw metalinkError(
        `has ${hashes.length} piece hashes for "${printableName(name)}", which needs ${Math.ceil(size / length)}`,
      );
    }
    pieces = { length, hashes };
  }
  return { name, size, sha256: sha ? hexHash(sha.text, name) : undefined, pieces };
}

function hexHash(text: string, name: string): Buffer {
  const hex = text.trim();
  if (!/^[0-9a-fA-F]+$/.test(hex) || hex.length !== HASH_SIZE * 2)
    throw metalinkError(`has a malformed sha-256 for "${printableName(name)}"`);
  return Buffer.from(hex, 'hex');
}

function child(e: Element, name: string): Element | undefined {
  return e.children.find((c) => c.name === name);
}

const NAME = /^[A-Za-z_][\w.-]*(:[A-Za-z_][\w.-]*)?/;
const ATTRIBUTE = /^\s+([A-Za-z_][\w.:-]*)\s*=\s*("([^"<]*)"|'([^'<]*)')/;

/** A strict reader for the XML subset above: elements, attributes, text, comments. */
function parseXml(text: string): Element {
  let i = 0;
  let count = 0;
  const stack: Element[] = [];
  let root: Element | undefined;
  const skipSpace = () => {
    while (i < text.length && /\s/.test(text[i] ?? '')) i++;
  };
  if (text.startsWith('\uFEFF')) i = 1;
  if (text.startsWith('<?xml', i)) {
    const end = text.indexOf('?>', i);
    if (end < 0) throw metalinkError('has an unterminated XML declaration');
    i = end + 2;
  }
  while (i < text.length) {
    const lt = text.indexOf('<', i);
    const chunk = text.slice(i, lt < 0 ? text.length : lt);
    const top = stack[stack.length - 1];
    if (top) top.text += decodeEntities(chunk);
    else if (chunk.trim() !== '') throw metalinkError('has text outside the root element');
    if (lt < 0) break;
    i = lt;
    if (text.startsWith('<!--', i)) {
      const end = text.indexOf('-->', i + 4);
      if (end < 0) throw metalinkError('has an unterminated comment');
      i = end + 3;
      continue;
    }
    if (text.startsWith('<!', i) || text.startsWith('<?', i)) {
      throw metalinkError('uses a DOCTYPE, CDATA or processing instruction, which are not accepted');
    }
    if (text.startsWith('</', i)) {
      const m = NAME.exec(text.slice(i + 2, i + 2 + 256));
      const closing = m ? localName(m[0]) : '';
      const open = stack.pop();
      if (!open || open.name !== closing) throw metalinkError('has mismatched tags');
      i += 2 + (m?.[0].length ?? 0);
      skipSpace();
      if (text[i] !== '>') throw metalinkError('has a malformed closing tag');
      i++;
      continue;
    }
    const m = NAME.exec(text.slice(i + 1, i + 1 + 256));
    if (!m) throw metalinkError('has a malformed tag');
    i += 1 + m[0].length;
    const element: Element = { name: localName(m[0]), attrs: new Map(), children: [], text: '' };
    for (;;) {
      const a = ATTRIBUTE.exec(text.slice(i, i + 4096));
      if (!a?.[1]) break;
      element.attrs.set(localName(a[1]), decodeEntities(a[3] ?? a[4] ?? ''));
      i += a[0].length;
    }
    skipSpace();
    const selfClosing = text.startsWith('/>', i);
    if (!selfClosing && text[i] !== '>') throw metalinkError('has a malformed tag');
    i += selfClosing ? 2 : 1;
    if (++count > MAX_ELEMENTS || stack.length >= MAX_DEPTH)
      throw metalinkError('is nested too deep or has too many elements');
    const parent = stack[stack.length - 1];
    if (parent) parent.children.push(element);
    else if (root) throw metalinkError('has more than one root element');
    else root = element;
    if (!selfClosing) stack.push(element);
  }
  if (!root || stack.length > 0) throw metalinkError('ends before its root element closes');
  return root;
}

function localName(qualified: string): string {
  return qualified.slice(qualified.indexOf(':') + 1);
}

const PREDEFINED: Record<string, string> = { lt: '<', gt: '>', amp: '&', quot: '"', apos: "'" };

function decodeEntities(text: string): string {
  return text.replace(/&([^;]{0,10});?/g, (whole, ref: string) => {
    if (!whole.endsWith(';')) throw metalinkError('has a bare "&"');
    const named = PREDEFINED[ref];
    if (named !== undefined) return named;
    const m = /^#(x[0-9a-fA-F]{1,6}|[0-9]{1,7})$/.exec(ref);
    const cp = m?.[1] ? (m[1].startsWith('x') ? parseInt(m[1].slice(1), 16) : Number(m[1])) : NaN;
    if (!Number.isInteger(cp) || cp < 0x20 || cp > 0x10ffff)
      throw metalinkError(`uses the entity "&${ref.slice(0, 10)};", which is not accepted`);
    return String.fromCodePoint(cp);
  });
}

function metalinkError(what: string): ChecksumListError {
  return new ChecksumListError(`The Metalink file ${what}.`);
}
