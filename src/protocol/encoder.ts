import { NumberOutOfRangeError } from '../errors.js';
import {
  FrameType,
  HASH_SIZE,
  MAGIC,
  MAX_CODE_BYTES,
  MAX_FRAME_SIZE,
  MAX_MESSAGE_BYTES,
  MAX_NAME_BYTES,
  MAX_PIECES,
  NONCE_SIZE,
  PREAMBLE_SIZE,
  PROTOCOL_VERSION,
  SESSION_ID_SIZE,
} from './constants.js';
import { FrameWriter } from './fields.js';
import type { CatalogEntry, FileIdentity, Message } from './messages.js';
import { validateName } from './names.js';

export function encodePreamble(features: number, version = PROTOCOL_VERSION): Buffer {
  const buf = Buffer.allocUnsafe(PREAMBLE_SIZE);
  MAGIC.copy(buf, 0);
  buf.writeUInt16BE(version, 4);
  buf.writeUInt32BE(features >>> 0, 6);
  return buf;
}

/** Encodes one message as a complete frame (header + payload). */
export function encode(msg: Message, maxPayload = MAX_FRAME_SIZE): Buffer {
  switch (msg.type) {
    case 'hello':
      return new FrameWriter(FrameType.HELLO, SESSION_ID_SIZE + NONCE_SIZE)
        .bytes(msg.sessionId, SESSION_ID_SIZE, 'session id')
        .bytes(msg.clientNonce, NONCE_SIZE, 'client nonce')
        .finish(maxPayload);
    case 'welcome':
      return new FrameWriter(FrameType.WELCOME, NONCE_SIZE + 1)
        .bytes(msg.serverNonce, NONCE_SIZE, 'server nonce')
        .u8(msg.authRequired ? 1 : 0)
        .finish(maxPayload);
    case 'auth':
      return new FrameWriter(FrameType.AUTH, HASH_SIZE)
        .bytes(msg.clientProof, HASH_SIZE, 'client proof')
        .finish(maxPayload);
    case 'auth-ok':
      return new FrameWriter(FrameType.AUTH_OK, HASH_SIZE)
        .bytes(msg.serverProof, HASH_SIZE, 'server proof')
        .finish(maxPayload);
    case 'list':
      return new FrameWriter(FrameType.LIST, 4).u32(msg.requestId).finish(maxPayload);
    case 'catalog': {
      const w = new FrameWriter(FrameType.CATALOG, 16 + msg.entries.length * 96)
        .u32(msg.requestId)
        .u8(msg.more ? 1 : 0)
        .u32(msg.entries.length);
      for (const entry of msg.entries) writeCatalogEntry(w, entry);
      return w.finish(maxPayload);
    }
    case 'stat':
      return writeName(new FrameWriter(FrameType.STAT).u32(msg.requestId), msg.name).finish(maxPayload);
    case 'pieces': {
      if (msg.hashes.length > MAX_PIECES) {
        throw new NumberOutOfRangeError(`${msg.hashes.length} pieces exceed the limit of ${MAX_PIECES}.`);
      }
      const w = new FrameWriter(FrameType.PIECES, 64 + msg.hashes.length * HASH_SIZE).u32(msg.requestId);
      writeIdentity(w, msg.identity).u32(msg.pieceSize).u32(msg.hashes.length);
      for (const h of msg.hashes) w.bytes(h, HASH_SIZE, 'piece hash');
      return w.finish(maxPayload);
    }
    case 'get': {
      checkRange(msg.offset, msg.length);
      const w = writeName(new FrameWriter(FrameType.GET, 128).u32(msg.requestId), msg.name)
        .u64(msg.offset, 'offset')
        .u64(msg.length, 'length');
      return writeIdentity(w, msg.expect).finish(maxPayload);
    }
    case 'data':
      checkRange(msg.offset, msg.length);
      return new FrameWriter(FrameType.DATA, 20)
        .u32(msg.requestId)
        .u64(msg.offset, 'offset')
        .u64(msg.length, 'length')
        .finish(maxPayload);
    case 'error':
      return new FrameWriter(FrameType.ERROR, 64 + msg.message.length)
        .u32(msg.requestId)
        .string(1, msg.code, MAX_CODE_BYTES, 'error code')
        .string(2, truncateUtf8(msg.message, MAX_MESSAGE_BYTES), MAX_MESSAGE_BYTES, 'error message')
        .finish(maxPayload);
  }
}

/** offset + length must stay a safe integer, so no peer can make the other overflow. */
export function checkRange(offset: number, length: number): void {
  for (const [field, v] of [
    ['offset', offset],
    ['length', length],
  ] as const) {
    if (!Number.isSafeInteger(v) || v < 0) {
      throw new NumberOutOfRangeError(`The ${field} ${v} is not a whole number from 0 to 2^53-1.`);
    }
  }
  if (offset + length > Number.MAX_SAFE_INTEGER) {
    throw new NumberOutOfRangeError(`The range ${offset} + ${length} overflows 2^53-1.`);
  }
}

function writeName(w: FrameWriter, name: string): FrameWriter {
  return w.string(2, validateName(name), MAX_NAME_BYTES, 'name');
}

function writeIdentity(w: FrameWriter, id: FileIdentity): FrameWriter {
  return w.u64(id.size, 'size').u64(id.mtimeUs, 'mtime').bytes(id.sha256, HASH_SIZE, 'sha256');
}

function writeCatalogEntry(w: FrameWriter, e: CatalogEntry): void {
  w.u8(e.sha256 ? 1 : 0);
  writeName(w, e.name).u64(e.size, 'size').u64(e.mtimeUs, 'mtime').u32(e.pieceSize);
  if (e.sha256) w.bytes(e.sha256, HASH_SIZE, 'sha256');
}

/** Cuts a string to at most `max` UTF-8 bytes without splitting a character. */
function truncateUtf8(s: string, max: number): string {
  if (Buffer.byteLength(s, 'utf8') <= max) return s;
  let out = s.slice(0, max);
  while (Buffer.byteLength(out, 'utf8') > max) out = out.slice(0, -1);
  return out;
}

/** Bytes one entry takes in a CATALOG frame, so the server can split long catalogs across frames. */
export function catalogEntryWireSize(e: CatalogEntry): number {
  return 1 + 2 + Buffer.byteLength(e.name, 'utf8') + 8 + 8 + 4 + (e.sha256 ? HASH_SIZE : 0);
}
