import { validateName } from '../../protocol/index.js';

/** What a request target names. */
export type Target =
  | { kind: 'index' }
  | { kind: 'file'; name: string }
  /** The target cannot name a file: a 400, whatever the catalog holds. */
  | { kind: 'bad'; reason: string };

/**
 * Decodes an origin-form target (`/a%20b/c.txt?x`) into a catalog name, one
 * percent-decoding per path segment. Refused (400), never looked up: an
 * absolute URL or `*`, malformed escapes, and any segment that decodes to
 * something a name may not hold (`%2f`, `%5c`, `%00`, `.`/`..` spelled any way),
 * then whatever validateName() refuses. Double encoding stays literal:
 * `%252e%252e` is a file named `%2e%2e`, which no catalog lists (404).
 */
export function parseTarget(url: string): Target {
  if (!url.startsWith('/'))
    return { kind: 'bad', reason: 'The request target must be a path starting with "/".' };
  const path = url.split(/[?#]/, 1)[0] ?? '';
  if (path === '/') return { kind: 'index' };
  const segments: string[] = [];
  for (const raw of path.slice(1).split('/')) {
    let segment: string;
    try {
      segment = decodeURIComponent(raw);
    } catch {
      return { kind: 'bad', reason: 'The path has a malformed percent-escape.' };
    }
    if (/[/\\\0]/.test(segment) || segment === '.' || segment === '..') {
      return { kind: 'bad', reason: 'The path escapes its folder or holds a forbidden character.' };
    }
    segments.push(segment);
  }
  const name = segments.join('/');
  try {
    validateName(name);
  } catch (err) {
    return { kind: 'bad', reason: (err as Error).message };
  }
  return { kind: 'file', name };
}

/** A catalog name as a URL path: each segment percent-encoded, the slashes kept. */
export function pathOf(name: string): string {
  return `/${name.split('/').map(encodeURIComponent).join('/')}`;
}
