/**
 * Every frame of the protocol with its byte layout, written once: `encode`
 * and `decodeFrame` both follow the layouts below, and sizes derive from them
 * (docs/protocol.md §3 describes the same layouts in prose).
 */
import { FrameTypeError, MalformedFrameError, NumberOutOfRangeError } from '../errors.js';
import {
  FrameType,
  HASH_SIZE,
  MAGIC,
  MAX_CODE_BYTES,
  MAX_FRAME_SIZE,
  MAX_MESSAGE_BYTES,
  MAX_PIECES,
  NONCE_SIZE,
  PREAMBLE_SIZE,
  PROTOCOL_VERSION,
  SESSION_ID_SIZE,
} from './constants.js';
import { FrameWriter, PayloadReader } from './fields.js';
import {
  fileName,
  fixed,
  flag,
  list,
  struct,
  text,
  u32,
  u64,
  withOptionalTail,
  type Field,
  type StructField,
} from './layout.js';
import type { CatalogEntry, FileIdentity, Message, Preamble } from './messages.js';

/** magic, version (u16), feature flags (u32) */
export function encodePreamble(features: number, version = PROTOCOL_VERSION): Buffer {
  const buf = Buffer.allocUnsafe(PREAMBLE_SIZE);
  MAGIC.copy(buf, 0);
  buf.writeUInt16BE(version, MAGIC.length);
  buf.writeUInt32BE(features >>> 0, MAGIC.length + 2);
  return buf;
}

/** The version and features of a whole preamble whose magic has been checked. */
export function readPreamble(buf: Buffer): Preamble {
  return { version: buf.readUInt16BE(MAGIC.length), features: buf.readUInt32BE(MAGIC.length + 2) };
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

const requestId = u32;
const hash = (field: string) => fixed(HASH_SIZE, field);
const identity: Field<FileIdentity> = struct({
  size: u64('size'),
  mtimeUs: u64('mtime'),
  sha256: hash('sha256'),
});

/** flags (bit 0: sha256 follows), name, size, mtime, piece size, [sha256] */
export const catalogEntry: Field<CatalogEntry> = withOptionalTail(
  struct({ name: fileName, size: u64('size'), mtimeUs: u64('mtime'), pieceSize: u32 }, (e) => {
    if (e.pieceSize === 0) throw new NumberOutOfRangeError(`The piece size of "${e.name}" is zero.`);
  }),
  'sha256',
  hash('sha256'),
);

type MessageOf<K extends Message['type']> = Extract<Message, { type: K }>;
interface Frame<K extends Message['type']> {
  type: number;
  /** The side that sends it: the other side's decoder refuses it from anyone else. */
  sender: 'client' | 'server';
  layout: StructField<Omit<MessageOf<K>, 'type'>>;
}

const FRAMES: { [K in Message['type']]: Frame<K> } = {
  hello: {
    type: FrameType.HELLO,
    sender: 'client',
    layout: struct({
      sessionId: fixed(SESSION_ID_SIZE, 'session id'),
      clientNonce: fixed(NONCE_SIZE, 'client nonce'),
    }),
  },
  welcome: {
    type: FrameType.WELCOME,
    sender: 'server',
    layout: struct({ serverNonce: fixed(NONCE_SIZE, 'server nonce'), authRequired: flag('auth flag') }),
  },
  auth: { type: FrameType.AUTH, sender: 'client', layout: struct({ clientProof: hash('client proof') }) },
  'auth-ok': {
    type: FrameType.AUTH_OK,
    sender: 'server',
    layout: struct({ serverProof: hash('server proof') }),
  },
  list: { type: FrameType.LIST, sender: 'client', layout: struct({ requestId }) },
  catalog: {
    type: FrameType.CATALOG,
    sender: 'server',
    layout: struct({ requestId, more: flag('more flag'), entries: list(catalogEntry, 'catalog entries') }),
  },
  stat: { type: FrameType.STAT, sender: 'client', layout: struct({ requestId, name: fileName }) },
  pieces: {
    type: FrameType.PIECES,
    sender: 'server',
    layout: struct(
      { requestId, identity, pieceSize: u32, hashes: list(hash('piece hash'), 'piece hashes', MAX_PIECES) },
      ({ identity: { size }, pieceSize, hashes }) => {
        if (pieceSize === 0)
          throw new NumberOutOfRangeError('A piece list with a piece size of zero is not valid.');
        if (hashes.length !== Math.ceil(size / pieceSize)) {
          throw new MalformedFrameError(
            `${hashes.length} piece hashes do not cover ${size} bytes in pieces of ${pieceSize}.`,
          );
        }
      },
    ),
  },
  get: {
    type: FrameType.GET,
    sender: 'client',
    layout: struct(
      { requestId, name: fileName, offset: u64('offset'), length: u64('length'), expect: identity },
      (get) => checkRange(get.offset, get.length),
    ),
  },
  data: {
    type: FrameType.DATA,
    sender: 'server',
    layout: struct({ requestId, offset: u64('offset'), length: u64('length') }, (data) =>
      checkRange(data.offset, data.length),
    ),
  },
  error: {
    type: FrameType.ERROR,
    sender: 'server',
    layout: struct({
      requestId,
      code: text(1, MAX_CODE_BYTES, 'error code'),
      message: text(2, MAX_MESSAGE_BYTES, 'error message', true),
    }),
  },
};

type AnyFrame = { name: Message['type'] } & Frame<Message['type']>;
const BY_TYPE = new Map<number, AnyFrame>(
  Object.entries(FRAMES).map(([name, frame]) => [frame.type, { name, ...frame } as AnyFrame]),
);
const typesSentBy = (sender: Frame<Message['type']>['sender']): ReadonlySet<number> =>
  new Set([...BY_TYPE.values()].filter((f) => f.sender === sender).map((f) => f.type));

/** Which frames each side may send: the decoder of the other side refuses the rest. */
export const CLIENT_FRAMES = typesSentBy('client');
export const SERVER_FRAMES = typesSentBy('server');

/** Encodes one message as a complete frame (header + payload). */
export function encode(msg: Message, maxPayload = MAX_FRAME_SIZE): Buffer {
  const { type, layout } = FRAMES[msg.type] as Frame<Message['type']>;
  const w = new FrameWriter(type, layout.bytes(msg));
  layout.write(w, msg);
  return w.finish(maxPayload);
}

/** Decodes one frame's payload; throws an XferError for anything out of spec. */
export function decodeFrame(type: number, payload: Buffer): Message {
  const frame = BY_TYPE.get(type);
  if (!frame) throw new FrameTypeError(`Unknown frame type 0x${type.toString(16)}.`);
  const r = new PayloadReader(payload);
  const msg = frame.layout.readInto(r, { type: frame.name }) as Message;
  // Every payload must be consumed exactly: trailing bytes mean the peer and we disagree.
  r.end();
  return msg;
}

/** Bytes one entry takes in a CATALOG frame, so the server can split long catalogs across frames. */
export function catalogEntryWireSize(entry: CatalogEntry): number {
  return catalogEntry.bytes(entry);
}
