import type { XferError } from '../errors.js';
import type { CatalogEntry, FileIdentity, PiecesMessage } from '../protocol/index.js';
import type { CatalogCollector } from './catalog-bounds.js';
import type { TransportOptions } from './transport.js';

/** What a ClientConnection is opened with, what it is asked, and what it keeps per request in flight. */

export interface ConnectOptions extends TransportOptions {
  token?: string | undefined;
  /** Identifies one client process to the server across its connections (the per-file connection limit). */
  sessionId: Buffer;
  /** TCP (and TLS) connect. */
  connectTimeoutMs?: number;
  /** From connected to ready: the xfer handshake (with TLS, the TLS handshake too). */
  handshakeTimeoutMs?: number;
  /** A connection with requests outstanding that receives nothing for this long is failed as stalled. */
  stallTimeoutMs?: number;
  /** A whole LIST, every CATALOG frame of it, must arrive within this. */
  listTimeoutMs?: number;
  /** Aborting it closes the connection at once, failing every request with ERR_XFER_ABORTED. */
  signal?: AbortSignal | undefined;
}

export interface GetRequest {
  name: string;
  offset: number;
  length: number;
  expect: FileIdentity;
  /**
   * Raw bytes in order; `position` is the file offset of chunk[0]. The chunk
   * is borrowed: the connection reads into one reused buffer, so it is valid
   * only during the call. Write it or copy it; do not keep it.
   */
  onChunk(chunk: Buffer, position: number): void;
  /** The server reported, after the bytes, that the file changed while they were sent. */
  onLateError?(err: XferError): void;
}

export interface Waiting {
  requestId: number;
  reject(err: XferError): void;
}
export type Pending =
  | (Waiting & { kind: 'list'; catalog: CatalogCollector; resolve(v: CatalogEntry[]): void })
  | (Waiting & { kind: 'stat'; resolve(v: PiecesMessage): void })
  | (Waiting & { kind: 'get'; get: GetRequest; received: number; resolve(): void });
/** A request about to be sent: its id is given by `send`. */
export type NewRequest = Pending extends infer P ? (P extends Pending ? Omit<P, 'requestId'> : never) : never;
