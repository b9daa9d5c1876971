/** Wire constants and limits. docs/protocol.md documents each one. */

/** The port a server listens on, and a client connects to, when none is given. */
export const DEFAULT_PORT = 9876;
/** The course project's rule: one client fetches one file over at most 4 connections at once. */
export const MAX_CONNECTIONS_PER_FILE = 4;
/** A connection with requests outstanding that receives nothing for this long is closed and retried. */
export const DEFAULT_STALL_TIMEOUT_MS = 10_000;

/** "XFER": the first four bytes each side sends, so a stray HTTP client or port scan fails fast. */
export const MAGIC = Buffer.from('XFER', 'ascii');
export const PROTOCOL_VERSION = 1;
/** magic (4) + version (u16) + feature flags (u32) */
export const PREAMBLE_SIZE = 10;

/** Feature bits carried in the preamble; unknown bits are ignored, so features can be added. */
export const FEATURE_AUTH = 1 << 0;

/** type (u8) + payload length (u32 BE) */
export const FRAME_HEADER_SIZE = 5;
/** Control frames larger than this are refused before a single payload byte is buffered. */
export const MAX_FRAME_SIZE = 1024 * 1024;
/** UTF-8 bytes in a file name, and in one path segment (the common file-system limit). */
export const MAX_NAME_BYTES = 4096;
export const MAX_SEGMENT_BYTES = 255;
/** Error codes are short identifiers; messages are one or two sentences. */
export const MAX_CODE_BYTES = 64;
export const MAX_MESSAGE_BYTES = 2048;

export const NONCE_SIZE = 32;
export const SESSION_ID_SIZE = 16;
export const HASH_SIZE = 32;

/** Piece hashes for one file must fit one frame: 32768 pieces of 32 bytes, less the header fields. */
export const MAX_PIECES = Math.floor((MAX_FRAME_SIZE - 4096 - 64) / HASH_SIZE);

export const FrameType = {
  HELLO: 0x01,
  WELCOME: 0x02,
  AUTH: 0x03,
  AUTH_OK: 0x04,
  LIST: 0x10,
  CATALOG: 0x11,
  STAT: 0x12,
  PIECES: 0x13,
  GET: 0x20,
  DATA: 0x21,
  ERROR: 0x7e,
} as const;
