import { textWidth } from './text-width.js';
import { humanSize } from '../human.js';
import { printableName, type CatalogEntry } from '../protocol/index.js';

/** The file list as a two-column table, in the server's order; names are always escaped for the terminal. */
export function renderCatalog(entries: readonly Pick<CatalogEntry, 'name' | 'size'>[]): string[] {
  if (entries.length === 0) return ['(the server offers no files)'];
  const rows = entries.map((e) => [printableName(e.name), humanSize(e.size)] as const);
  const width = Math.max(4, ...rows.map(([n]) => textWidth(n)));
  const pad = (text: string) => text + ' '.repeat(width - textWidth(text));
  return [`${pad('NAME')}  SIZE`, ...rows.map(([n, s]) => `${pad(n)}  ${s}`)];
}
