import { BadRangeAnswerError, ChecksumListError, ConnectionClosedError } from '../../errors.js';
import { printableName, type FileIdentity } from '../../protocol/index.js';
import type { PieceHashes, RangeChannel, RangeRequest, RangeSource, SourceCapabilities } from '../source.js';
import { statusError } from './http-errors.js';
import { BASE_HEADERS } from './probe.js';
import { fetchRange, readBody, type ChunkSink } from './range-fetch.js';
import { checkSameVersion, type Validator } from './validator.js';
import { shownUrl, type WebClient } from './web-client.js';
import { discardBody, webRequest, type WebAnswer, type WebTarget } from './web-request.js';
import { WRITE_BATCH_BYTES, WriteBatch } from './write-batch.js';

/** Wrong range answers (Content-Range, Content-Length, excess bytes) tolerated per file before falling back to one connection. */
export const MAX_RANGE_LIES = 3;

/** One version of one web file, as the probe found it. */
export interface WebFile {
  target: WebTarget;
  name: string;
  validator: Validator;
  /** Ranges work (a 206 to the probe): up to `connections` channels; else one channel, the whole body. */
  ranges: boolean;
  /** The probe's own answer when it is the whole file (a 200): read first instead of asking again. */
  whole: WebAnswer | undefined;
  /** Metalink piece hashes, when the server offers them. */
  pieces: { length: number; hashes: Buffer[] } | undefined;
  /** How events name it (a mirror: its URL as given); the server's origin when absent. */
  label?: string;
}

/**
 * A web file as a RangeSource: channel `slot` runs one HTTP request at a
 * time (undici keeps the connection alive between them), so a file uses at
 * most `connections` connections to the server. Every range request is
 * checked strictly (fetchRange); dropping a channel aborts its request.
 */
export class HttpSource implements RangeSource {
  readonly capabilities: SourceCapabilities;
  readonly label: string;
  private readonly channels = new Map<
    number,
    { abort: AbortController; queue: Promise<unknown>; batch: WriteBatch }
  >();
  private whole: WebAnswer | undefined;
  /** Range answers refused so far: past MAX_RANGE_LIES the server's ranges are not trusted at all. */
  private lies = 0;

  constructor(
    private readonly client: WebClient,
    private readonly file: WebFile,
    /** The identity the engine knows this file by (piece hashes are offered under it). */
    private readonly identity: FileIdentity,
    connections: number,
  ) {
    this.whole = file.whole;
    this.label = file.label ?? shownUrl(new URL(file.target.url.origin));
    this.capabilities = {
      maxConnections: file.ranges ? Math.max(1, connections) : 1,
      ranges: file.ranges,
      pieceHashes: file.pieces !== undefined,
    };
  }

  channel(slot: number): Promise<RangeChannel> {
    const channel = {
      abort: new AbortController(),
      queue: Promise.resolve() as Promise<unknown>,
      batch: new WriteBatch(),
    };
    this.channels.set(slot, channel);
    return Promise.resolve({
      read: (req: RangeRequest) => {
        // One request at a time per channel: a second read waits for the first.
        const next = channel.queue.then(() => this.read(channel.abort.signal, channel.batch, req));
        channel.queue = next.catch(() => undefined);
        return next;
      },
    });
  }

  drop(slot: number): void {
    this.channels.get(slot)?.abort.abort();
    this.channels.delete(slot);
  }

  dropAll(): void {
    for (const slot of [...this.channels.keys()]) this.drop(slot);
    if (this.whole) discardBody(this.whole);
    this.whole = undefined;
  }

  pieces(): Promise<PieceHashes> {
    const { pieces } = this.file;
    if (!pieces) {
      return Promise.reject(
        new ChecksumListError(`${this.label} offers no piece hashes for "${printableName(this.file.name)}".`),
      );
    }
    return Promise.resolve({ identity: this.identity, pieceSize: pieces.length, hashes: pieces.hashes });
  }

  private async read(signal: AbortSignal, batch: WriteBatch, req: RangeRequest): Promise<void> {
    if (signal.aborted) throw dropped();
    try {
      if (this.file.ranges) {
        await fetchRange(this.client, { ...this.file, ...req, signal, batch });
        return;
      }
      await this.readWhole(signal, batch, req);
    } catch (err) {
      if (signal.aborted) throw dropped();
      if (err instanceof BadRangeAnswerError && !err.rangesIgnored && ++this.lies >= MAX_RANGE_LIES) {
        throw new BadRangeAnswerError(
          `${err.message} (${this.lies} such answers: ranges from ${this.label} are not trusted)`,
          {
            rangesIgnored: true,
          },
        );
      }
      throw err;
    }
  }

  /** A source without ranges: the whole body from its first byte, the probe's answer first. */
  private async readWhole(signal: AbortSignal, batch: WriteBatch, req: RangeRequest): Promise<void> {
    const { size } = this.file.validator;
    if (req.offset !== 0 || req.length !== size) {
      throw new BadRangeAnswerError(`${this.label} cannot serve ranges; only the whole file can be read.`);
    }
    let answer = this.whole;
    this.whole = undefined;
    if (!answer) {
      answer = await webRequest(this.client, this.file.target, {
        method: 'GET',
        headers: { ...BASE_HEADERS },
        signal,
      });
      try {
        if (answer.status !== 200) throw statusError(answer.status, answer.headers, shownUrl(answer.url));
        checkSameVersion(this.file.validator, answer.headers, answer.status, this.file.name);
      } catch (err) {
        discardBody(answer);
        throw err;
      }
    }
    const abort = () => discardBody(answer);
    const sink: ChunkSink = (chunk, at) => req.onChunk(chunk, at);
    signal.addEventListener('abort', abort, { once: true });
    try {
      const take: ChunkSink = size > WRITE_BATCH_BYTES ? (chunk, at) => batch.push(chunk, at, sink) : sink;
      await readBody(answer, 0, size, take, {
        limit: this.client.rateLimit,
        signal,
      });
    } finally {
      batch.flush(sink);
      signal.removeEventListener('abort', abort);
    }
  }
}

function dropped(): ConnectionClosedError {
  return new ConnectionClosedError(
    'The connection was closed by the download (a stall, a takeover or a stop).',
  );
}
