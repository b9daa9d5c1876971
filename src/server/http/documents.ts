import { humanSize } from '../../human.js';
import type { CatalogEntry } from '../../protocol/index.js';
import type { FileHashes } from '../hasher.js';
import { pathOf } from './target.js';

/** The file list for a browser: one row per file, a plain link each, no script. */
export function renderIndexHtml(entries: readonly CatalogEntry[]): string {
  const rows = entries
    .map((e) => {
      const sha = e.sha256 ? `<code>${e.sha256.toString('hex')}</code>` : '<i>being hashed</i>';
      return `<tr><td><a href="${escapeXml(pathOf(e.name))}" download>${escapeXml(e.name)}</a></td><td class="n">${humanSize(e.size)}</td><td>${sha}</td></tr>`;
    })
    .join('\n');
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width">
<title>xfer: ${entries.length} file${entries.length === 1 ? '' : 's'}</title>
<style>body{font-family:sans-serif;margin:2em}td{padding:.2em .8em}.n{text-align:right}code{font-size:.8em}</style>
</head><body>
<h1>Files</h1>
<table>
<thead><tr><th>Name</th><th>Size</th><th>SHA-256</th></tr></thead>
<tbody>
${rows}
</tbody></table>
<p>Each file's response carries its SHA-256 (<code>Repr-Digest</code>); <code>NAME.meta4</code> has its piece hashes.</p>
</body></html>
`;
}

/** The file list as JSON (docs/http.md): sha256 is null while a file is being hashed. */
export function renderIndexJson(entries: readonly CatalogEntry[]): string {
  const files = entries.map((e) => ({
    name: e.name,
    size: e.size,
    mtime: new Date(Math.floor(e.mtimeUs / 1000)).toISOString(),
    sha256: e.sha256 ? e.sha256.toString('hex') : null,
    url: pathOf(e.name),
  }));
  return `${JSON.stringify({ files })}\n`;
}

/**
 * A Metalink v4 document (RFC 5854) for one file: size, whole-file SHA-256,
 * the piece hashes in order, and the one URL to fetch it from, so `aria2c -M`
 * checks each piece as it arrives.
 */
export function renderMetalink(name: string, size: number, hashes: FileHashes, url: string): string {
  const pieces = hashes.pieces.map((p) => `      <hash>${p.toString('hex')}</hash>`).join('\n');
  return `<?xml version="1.0" encoding="UTF-8"?>
<metalink xmlns="urn:ietf:params:xml:ns:metalink">
  <file name="${escapeXml(name)}">
    <size>${size}</size>
    <hash type="sha-256">${hashes.sha256.toString('hex')}</hash>
    <pieces length="${hashes.pieceSize}" type="sha-256">
${pieces}
    </pieces>
    <url>${escapeXml(url)}</url>
  </file>
</metalink>
`;
}

const XML_ESCAPES: Record<string, string> = {
  '&': '&amp;',
  '<': '&lt;',
  '>': '&gt;',
  '"': '&quot;',
  "'": '&#39;',
};

/** Text for HTML or XML content and attribute values. */
export function escapeXml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => XML_ESCAPES[c] ?? c);
}
