import { BadRangeAnswerError, FileChangedError, InvalidNameError, NoDigestError } from '../../errors.js';
import { printableName } from '../../protocol/index.js';
import type { RemoteFile } from '../download.js';
import type { EmitEvent } from '../events.js';
import { MirrorSet, type Mirror, type MirrorContext } from '../mirrors.js';
import type { RangeSource } from '../source.js';
import { WHOLE_FILE_MAX_BYTES } from '../whole-file.js';
import { HttpSource } from './http-source.js';
import { probe } from './probe.js';
import { shownUrl, targetOf, type WebClient } from './web-client.js';
import { expectedHash, fetchMetalink, type ExpectedHash } from './web-hashes.js';
import { discardBody, type WebTarget } from './web-request.js';

/**
 * A web server as a mirror: a folder URL (ending in `/`) where each file is
 * found by its name, or the URL of one file. For each file it is probed
 * once, and it joins only when its copy is shown to be the primary's version:
 * the same size, ranges served, and a SHA-256 equal to the file's (from its
 * Metalink, Repr-Digest, Content-Digest or Digest), or, with no digest from
 * it, a SHA-256 the user gave, which then judges its bytes. A mirror whose
 * version cannot be shown is left out (NoDigestError), never trusted on its
 * size alone. Its piece hashes, if any, are not used: the primary's judge.
 */
export class WebMirror implements Mirror {
  readonly label: string;

  constructor(
    private readonly client: WebClient,
    private readonly base: WebTarget,
    private readonly options: { connections: number; signal: AbortSignal },
  ) {
    this.label = shownUrl(base.url);
  }

  /** A mirror from a URL as typed: http or https, `user:pass@` turned into Authorization. */
  static fromUrl(client: WebClient, url: string, options: WebMirror['options']): WebMirror {
    // The user's credential headers are for the first source; a mirror needing some takes them in its URL.
    return new WebMirror(client, { ...targetOf(url), userCredentials: false }, options);
  }

  /** A folder holds every file by name; a file URL stands for one file only. */
  get isFolder(): boolean {
    return this.base.url.pathname.endsWith('/');
  }

  async sourceFor(file: RemoteFile, context: MirrorContext): Promise<RangeSource> {
    const { signal } = this.options;
    const p = await probe(this.client, this.targetFor(context.lookupName ?? file.name), { signal });
    if (p.whole) discardBody(p.whole);
    const { size, sha256 } = file.identity;
    if (p.size !== size) {
      const its = p.size === undefined ? 'no size given' : `${p.size} bytes`;
      throw new FileChangedError(`it has another version (${its}, not ${size}).`);
    }
    if (!p.split || !p.validator)
      throw new BadRangeAnswerError('it does not serve byte ranges, so it cannot share the work.');
    const metalink = await fetchMetalink(this.client, p, [file.name], signal);
    const claimed = expectedHash({
      checksum: undefined,
      checksums: undefined,
      names: [file.name],
      metalink,
      probe: p,
    });
    if (claimed && file.verify === 'size') {
      throw new NoDigestError(
        `the file's first source gives no SHA-256 to compare with this mirror's ${claimed.source}.`,
      );
    }
    if (claimed && !claimed.sha256.equals(sha256)) {
      throw new FileChangedError(
        `it has another version (its ${claimed.source} gives SHA-256 ${claimed.sha256.toString('hex').slice(0, 12)}…).`,
      );
    }
    if (!claimed && !context.userChecksum) {
      throw new NoDigestError(
        'it gives no SHA-256 (no Repr-Digest, Digest or Metalink), so it cannot be shown to hold the same version.',
      );
    }
    const web = { target: p.target, name: file.name, validator: p.validator, ranges: true };
    return new HttpSource(
      this.client,
      { ...web, whole: undefined, pieces: undefined, label: this.label },
      file.identity,
      this.options.connections,
    );
  }

  /** The web client is the caller's: it closes it once for all its mirrors. */
  close(): void {}

  /** A folder's URL for a file: each segment of its name percent-encoded, never above the folder. */
  private targetFor(name: string): WebTarget {
    if (!this.isFolder) return this.base;
    const segments = name.split('/');
    if (segments.some((s) => s === '' || s === '.' || s === '..'))
      throw new InvalidNameError(`"${printableName(name)}" cannot be looked up in a web folder.`);
    const url = new URL(segments.map(encodeURIComponent).join('/'), this.base.url);
    return { ...this.base, url };
  }
}

/** A WebSession's mirrors (`xfer get URL --mirror URL`), over its own web client. */
export class WebMirrors {
  private readonly set: MirrorSet;

  constructor(
    client: WebClient,
    urls: string[],
    options: { connections: number; signal: AbortSignal; emit: EmitEvent },
  ) {
    const mirrorOptions = { connections: options.connections, signal: options.signal };
    this.set = new MirrorSet(
      urls.map((url) => WebMirror.fromUrl(client, url, mirrorOptions)),
      options.emit,
    );
  }

  /**
   * The mirrors whose copy agrees, for a file large enough to share out and
   * served in ranges by its first source; a folder mirror is asked for
   * `lookupName` (the last segment of the file's URL). A SHA-256 the user
   * gave (not the server) vouches for mirrors without a digest.
   */
  sourcesFor(
    file: RemoteFile,
    lookupName: string,
    ranges: boolean,
    expected: ExpectedHash | undefined,
  ): Promise<RangeSource[]> {
    if (this.set.size === 0 || !ranges || file.identity.size <= WHOLE_FILE_MAX_BYTES)
      return Promise.resolve([]);
    const userChecksum = expected?.source === 'checksum' || expected?.source === 'checksum list';
    return this.set.sourcesFor(file, { firstSlot: 0, userChecksum, lookupName });
  }
}
