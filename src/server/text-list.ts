import { rename, writeFile } from 'node:fs/promises';
import { humanSize } from '../human.js';
import type { CatalogEntry } from '../protocol/index.js';

/** text.txt as the course project wrote it: one `name size` line per downloadable file. */
export function renderTextList(entries: readonly CatalogEntry[]): string {
  return entries.map((e) => `${e.name} ${humanSize(e.size)}\n`).join('');
}

/**
 * Writes text.txt atomically (temp file + rename), only when its content
 * changes, and one write at a time so two updates never race on the temp file.
 */
export class TextListWriter {
  private last: string | undefined;
  private queue: Promise<void> = Promise.resolve();

  constructor(private readonly path: string) {}

  write(entries: readonly CatalogEntry[]): Promise<void> {
    const content = renderTextList(entries);
    const next = this.queue.then(() => this.replace(content));
    this.queue = next.catch(() => undefined);
    return next;
  }

  /** Resolves when every write asked for so far has finished (or failed). */
  idle(): Promise<void> {
    return this.queue;
  }

  private async replace(content: string): Promise<void> {
    if (content === this.last) return;
    const tmp = `${this.path}.${process.pid}.tmp`;
    await writeFile(tmp, content);
    await rename(tmp, this.path);
    this.last = content;
  }
}
