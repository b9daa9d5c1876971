/** The messages of the xfer protocol as plain objects, one per frame type. */

/** What a client expects a file to be; a GET for a file that is no longer this is refused. */
export interface FileIdentity {
  size: number;
  /** Modification time in whole microseconds since the epoch. */
  mtimeUs: number;
  sha256: Buffer;
}

export interface CatalogEntry {
  name: string;
  size: number;
  mtimeUs: number;
  pieceSize: number;
  /** Absent while the server is still hashing the file; STAT waits for it. */
  sha256?: Buffer;
}

export interface HelloMessage {
  type: 'hello';
  sessionId: Buffer;
  clientNonce: Buffer;
}
export interface WelcomeMessage {
  type: 'welcome';
  serverNonce: Buffer;
  authRequired: boolean;
}
export interface AuthMessage {
  type: 'auth';
  clientProof: Buffer;
}
export interface AuthOkMessage {
  type: 'auth-ok';
  /** HMAC proving the server knows the token too; sent only after the client proved it. */
  serverProof: Buffer;
}
export interface ListMessage {
  type: 'list';
  requestId: number;
}
export interface CatalogMessage {
  type: 'catalog';
  requestId: number;
  /** True when further CATALOG frames for the same request follow. */
  more: boolean;
  entries: CatalogEntry[];
}
export interface StatMessage {
  type: 'stat';
  requestId: number;
  name: string;
}
export interface PiecesMessage {
  type: 'pieces';
  requestId: number;
  identity: FileIdentity;
  pieceSize: number;
  hashes: Buffer[];
}
export interface GetMessage {
  type: 'get';
  requestId: number;
  name: string;
  offset: number;
  length: number;
  expect: FileIdentity;
}
export interface DataMessage {
  type: 'data';
  requestId: number;
  offset: number;
  /** Exactly this many raw bytes follow the frame, with no further framing. */
  length: number;
}
export interface ErrorMessage {
  type: 'error';
  /** 0 when the error concerns the connection rather than one request. */
  requestId: number;
  code: string;
  message: string;
}

export type ClientMessage = HelloMessage | AuthMessage | ListMessage | StatMessage | GetMessage;
export type ServerMessage =
  WelcomeMessage | AuthOkMessage | CatalogMessage | PiecesMessage | DataMessage | ErrorMessage;
export type Message = ClientMessage | ServerMessage;

export interface Preamble {
  version: number;
  features: number;
}
