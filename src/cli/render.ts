import { forTerminal } from './escape.js';
import { fit, textWidth, truncateMiddle } from './text-width.js';
import { humanSize } from '../human.js';
import type { CatalogEntry } from '../protocol/index.js';

/** The name column never shrinks below this, so a shortened name still shows both its ends. */
const MIN_NAME_COLUMN = 12;

/**
 * The file list as a two-column table, in the server's order; names are always
 * escaped for the terminal. Given a `width` (a terminal's columns), no row is
 * wider: a long name is shortened in the middle, only when it would not fit.
 */
export function renderCatalog(
  entries: readonly Pick<CatalogEntry, 'name' | 'size'>[],
  width = Number.POSITIVE_INFINITY,
): string[] {
  if (entries.length === 0) return ['(the server offers no files)'];
  const rows = entries.map((e) => [forTerminal(e.name), humanSize(e.size)] as const);
  const sizeColumn = Math.max(4, ...rows.map(([, s]) => s.length));
  const widest = Math.max(4, ...rows.map(([n]) => textWidth(n)));
  const nameColumn = Math.min(widest, Math.max(MIN_NAME_COLUMN, width - 2 - sizeColumn));
  const row = (name: string, size: string) => {
    const shown = truncateMiddle(name, nameColumn);
    return fit(`${shown}${' '.repeat(nameColumn - textWidth(shown))}  ${size}`, width);
  };
  return [row('NAME', 'SIZE'), ...rows.map(([n, s]) => row(n, s))];
}
