import { ChecksumListError } from '../../errors.js';
import { printableName } from '../../protocol/index.js';
import { lookupChecksum } from './checksums.js';
import { MAX_METALINK_BYTES, parseMetalink, type MetalinkFile } from './metalink.js';
import type { Probe } from './probe.js';
import { readBody } from './range-fetch.js';
import { statusError } from './http-errors.js';
import { shownUrl, type WebClient } from './web-client.js';
import { discardBody, webRequest, type WebTarget } from './web-request.js';

/** The SHA-256 a web file is checked against, and where it came from (the done line names it). */
export interface ExpectedHash {
  sha256: Buffer;
  /** `checksum`, `checksum list`, `Metalink`, `Repr-Digest`, `Content-Digest` or `Digest`. */
  source: string;
}

/**
 * The strongest whole-file SHA-256 available, in this order: the one the
 * user gave for this file, the user's checksum list, then what the server
 * says (a Metalink's sha-256, Repr-Digest, Content-Digest, Digest). What the
 * user gave comes first because it does not come from the server being
 * checked. Undefined: only the size can be checked.
 */
export function expectedHash(options: {
  checksum: Buffer | undefined;
  checksums: Map<string, Buffer> | undefined;
  names: string[];
  metalink: MetalinkFile | undefined;
  probe: Probe;
}): ExpectedHash | undefined {
  if (options.checksum) return { sha256: options.checksum, source: 'checksum' };
  const listed = options.checksums ? lookupChecksum(options.checksums, options.names) : undefined;
  if (listed) return { sha256: listed, source: 'checksum list' };
  if (options.metalink?.sha256) return { sha256: options.metalink.sha256, source: 'Metalink' };
  if (options.probe.digest)
    return { sha256: options.probe.digest.sha256, source: options.probe.digest.source };
  return undefined;
}

/** The text at a URL, at most `maxBytes` (a checksum list, a Metalink): a longer answer is refused. */
export async function fetchSmallText(
  client: WebClient,
  target: WebTarget,
  maxBytes: number,
  signal: AbortSignal,
): Promise<string> {
  const answer = await webRequest(client, target, {
    method: 'GET',
    headers: { 'accept-encoding': 'identity' },
    signal,
  });
  if (answer.status !== 200) {
    discardBody(answer);
    throw statusError(answer.status, answer.headers, shownUrl(answer.url));
  }
  const chunks: Buffer[] = [];
  let size = 0;
  await readBody(answer, 0, undefined, (chunk) => {
    size += chunk.length;
    if (size > maxBytes) {
      discardBody(answer);
      throw new ChecksumListError(`${shownUrl(answer.url)} is larger than ${maxBytes} bytes; refused.`);
    }
    chunks.push(Buffer.from(chunk));
  });
  return Buffer.concat(chunks).toString('utf8');
}

/**
 * The Metalink entry for a web file the probe found a `Link` to: the entry
 * named like the file, else the only one. Its size must be the file's: a
 * Metalink about another version is refused, not half-used.
 */
export async function fetchMetalink(
  client: WebClient,
  probe: Probe,
  names: string[],
  signal: AbortSignal,
): Promise<MetalinkFile | undefined> {
  if (!probe.metalink) return undefined;
  const sameOrigin = probe.metalink.origin === probe.target.url.origin;
  const text = await fetchSmallText(
    client,
    {
      ...probe.target,
      url: probe.metalink,
      authorization: sameOrigin ? probe.target.authorization : undefined,
    },
    MAX_METALINK_BYTES,
    signal,
  );
  const files = parseMetalink(text);
  const file = files.find((f) => names.includes(f.name)) ?? (files.length === 1 ? files[0] : undefined);
  if (!file) return undefined;
  if (file.size !== undefined && file.size !== probe.size) {
    throw new ChecksumListError(
      `The Metalink for "${printableName(names[0] ?? '')}" describes ${file.size} bytes, not the ${probe.size ?? 'unknown'} the server sends.`,
    );
  }
  return file;
}
