import type { XferError } from '../errors.js';
import type { FileIdentity } from '../protocol/index.js';

/**
 * The seam between the download engine and wherever bytes come from.
 *
 * A `RangeSource` is bound to ONE version of ONE file (name + identity: size,
 * mtime, SHA-256). The engine asks it for `(offset, length)` ranges of that
 * file and receives the bytes; it does not know whether they come over an
 * xfer connection (xfer-source.ts), HTTP, or anything else. The engine owns
 * everything else: the `.part` file, which ranges to ask for, retries,
 * stall detection, resume state and verification. One file may be fetched
 * from several sources at once, so a source holds no state about the file's
 * progress: its slots are just numbered channels.
 *
 * How a source is expected to behave:
 * - `channel(slot)` opens (or reuses) channel `slot`, 0 <= slot <
 *   `capabilities.maxConnections`. A channel is one connection: requests on it
 *   may be pipelined and are answered strictly in order. Once a channel has
 *   failed, every later `read` on that same channel object rejects at once;
 *   the engine then calls `drop(slot)` and asks for `channel(slot)` again.
 * - `read` delivers exactly the bytes `[offset, offset + length)` in order
 *   through `onChunk`, never a byte outside them (a peer that sends other
 *   bytes is refused by the source with a coded error), then resolves.
 *   `onChunk` runs synchronously; its chunk is borrowed (typically the
 *   connection's one reused read buffer) and is written by the engine at its
 *   final offset before the call returns: do not keep or reuse it meanwhile.
 * - Failures reject with an `XferError` whose `retryable` tells the truth:
 *   connection trouble (closed, refused, timed out, a limit) is retryable;
 *   a verdict (not found, the file changed, auth, protocol violation) is not.
 *   A source that learns only after the bytes that the file changed reports it
 *   through `onLateError`; the engine's final SHA-256 check decides anyway.
 * - The source does not retry, back off or judge slowness: the engine does
 *   (src/client/retry.ts, docs/protocol.md §5). `drop`/`dropAll` must close
 *   channels promptly so that in-flight reads reject; they never throw.
 * - `capabilities.ranges = false` (a peer that can only send the whole file):
 *   the engine asks for the whole file, from offset 0, on one channel, and
 *   starts again from 0 after a failure.
 * - `capabilities.pieceHashes = false`: `pieces()` is never called; resumed
 *   bytes are then only checked by the whole-file SHA-256, and a mismatch
 *   fetches the whole file again.
 */
export interface RangeSource {
  /** For messages and events: where the bytes come from (e.g. "[::1]:9876"). Never trusted text. */
  readonly label: string;
  readonly capabilities: SourceCapabilities;
  channel(slot: number): Promise<RangeChannel>;
  /**
   * Closes channel `slot` (after a failure, a stall, or a tail taken over); the
   * next `channel(slot)` opens anew. `reason` is the failure, if any: a source
   * may reconnect differently for it (to reach another backend, say).
   */
  drop(slot: number, reason?: XferError): void;
  /** Closes every channel of this file (abort, or a fatal error elsewhere). */
  dropAll(): void;
  /** The file's piece hashes, for verifying resumed pieces and finding damaged ones. */
  pieces(): Promise<PieceHashes>;
}

export interface SourceCapabilities {
  /** Channels this source allows for one file at once (xfer: up to 4, its per-file connection limit). */
  maxConnections: number;
  /** Whether arbitrary byte ranges can be asked for; if not, the file is fetched whole over one channel. */
  ranges: boolean;
  /** Whether `pieces()` can answer. */
  pieceHashes: boolean;
}

export interface RangeChannel {
  read(request: RangeRequest): Promise<void>;
}

export interface RangeRequest {
  offset: number;
  length: number;
  /** Bytes in order; `position` is the file offset of chunk[0]. The chunk is valid only during the call. */
  onChunk(chunk: Buffer, position: number): void;
  /** After the bytes were delivered, the source learned they may be wrong (the file changed meanwhile). */
  onLateError?(err: XferError): void;
}

export interface PieceHashes {
  /** The identity the hashes belong to: the engine refuses them if it is not its file's. */
  identity: FileIdentity;
  pieceSize: number;
  hashes: Buffer[];
}
