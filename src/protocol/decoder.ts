import {
  BadMagicError,
  FrameTooLargeError,
  FrameTypeError,
  MalformedFrameError,
  NumberOutOfRangeError,
  VersionMismatchError,
  XferError,
} from '../errors.js';
import {
  CLIENT_FRAMES,
  FRAME_HEADER_SIZE,
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
  SERVER_FRAMES,
  SESSION_ID_SIZE,
} from './constants.js';
import { PayloadReader } from './fields.js';
import type { CatalogEntry, FileIdentity, Message, Preamble } from './messages.js';
import { checkRange } from './encoder.js';

export interface DecoderHandlers {
  preamble(p: Preamble): void;
  message(msg: Message): void;
  /** Raw bytes that follow a DATA frame, as slices of the pushed chunks (no copy). */
  data(chunk: Buffer): void;
  /** The last raw byte of the current DATA frame has been delivered. */
  dataEnd(): void;
  /** The stream is broken; the decoder ignores all further input. */
  error(err: XferError): void;
}

export interface DecoderOptions {
  /** Whose frames this decoder reads: a server decodes what the client sends. */
  peer: 'client' | 'server';
  maxFrameSize?: number;
}

const enum State {
  Preamble,
  Header,
  Payload,
  Raw,
  Failed,
}

/**
 * Incremental decoder of an xfer byte stream: fed chunks of any size and split,
 * it emits the same messages. A pure state machine: no I/O, no timers.
 *
 * Memory: the only buffer it allocates from input is a frame payload, and only
 * after the announced length has been checked against the frame limit.
 */
export class FrameDecoder {
  private state = State.Preamble;
  private readonly allowed: ReadonlySet<number>;
  private readonly maxFrameSize: number;
  private readonly handlers: DecoderHandlers;

  private readonly preambleBuf = Buffer.alloc(PREAMBLE_SIZE);
  private readonly headerBuf = Buffer.alloc(FRAME_HEADER_SIZE);
  private filled = 0;
  private frameType = 0;
  private payload: Buffer = Buffer.alloc(0);
  private rawRemaining = 0;

  constructor(options: DecoderOptions, handlers: DecoderHandlers) {
    this.allowed = options.peer === 'client' ? CLIENT_FRAMES : SERVER_FRAMES;
    this.maxFrameSize = Math.min(options.maxFrameSize ?? MAX_FRAME_SIZE, MAX_FRAME_SIZE);
    this.handlers = handlers;
  }

  get failed(): boolean {
    return this.state === State.Failed;
  }

  /** True between a DATA frame and the end of its raw bytes. */
  get inData(): boolean {
    return this.state === State.Raw;
  }

  push(chunk: Buffer): void {
    let pos = 0;
    while (pos < chunk.length && this.state !== State.Failed) {
      switch (this.state) {
        case State.Preamble:
          pos = this.readPreamble(chunk, pos);
          break;
        case State.Header:
          pos = this.readHeader(chunk, pos);
          break;
        case State.Payload:
          pos = this.readPayload(chunk, pos);
          break;
        case State.Raw: {
          const take = Math.min(this.rawRemaining, chunk.length - pos);
          this.rawRemaining -= take;
          this.handlers.data(chunk.subarray(pos, pos + take));
          pos += take;
          if (this.rawRemaining === 0) this.endRaw();
          break;
        }
      }
    }
  }

  private readPreamble(chunk: Buffer, pos: number): number {
    const take = Math.min(PREAMBLE_SIZE - this.filled, chunk.length - pos);
    chunk.copy(this.preambleBuf, this.filled, pos, pos + take);
    const before = this.filled;
    this.filled += take;
    // Compare the magic byte by byte as it arrives, so an HTTP request or a port
    // scanner is refused on its first wrong byte rather than after ten.
    for (let i = before; i < Math.min(this.filled, MAGIC.length); i++) {
      if (this.preambleBuf[i] !== MAGIC[i]) {
        this.fail(new BadMagicError('The peer does not speak the xfer protocol (wrong magic bytes).'));
        return chunk.length;
      }
    }
    if (this.filled < PREAMBLE_SIZE) return pos + take;
    const version = this.preambleBuf.readUInt16BE(4);
    if (version !== PROTOCOL_VERSION) {
      this.fail(
        new VersionMismatchError(
          `The peer speaks xfer protocol version ${version}; this side speaks version ${PROTOCOL_VERSION}.`,
        ),
      );
      return chunk.length;
    }
    this.filled = 0;
    this.state = State.Header;
    this.handlers.preamble({ version, features: this.preambleBuf.readUInt32BE(6) });
    return pos + take;
  }

  private readHeader(chunk: Buffer, pos: number): number {
    const take = Math.min(FRAME_HEADER_SIZE - this.filled, chunk.length - pos);
    chunk.copy(this.headerBuf, this.filled, pos, pos + take);
    this.filled += take;
    if (this.filled < FRAME_HEADER_SIZE) return pos + take;
    this.filled = 0;
    const type = this.headerBuf.readUInt8(0);
    const length = this.headerBuf.readUInt32BE(1);
    if (!this.allowed.has(type)) {
      this.fail(new FrameTypeError(`Unexpected frame type 0x${type.toString(16).padStart(2, '0')}.`));
      return chunk.length;
    }
    // The limit is checked before a single payload byte is buffered.
    if (length > this.maxFrameSize) {
      this.fail(
        new FrameTooLargeError(`A frame announced ${length} bytes; the limit is ${this.maxFrameSize}.`),
      );
      return chunk.length;
    }
    this.frameType = type;
    pos += take;
    const available = chunk.length - pos;
    if (available >= length) {
      // Common case: the whole payload is in this chunk, decode it in place.
      this.finishFrame(chunk.subarray(pos, pos + length));
      return pos + length;
    }
    this.payload = Buffer.allocUnsafe(length);
    this.state = State.Payload;
    return pos;
  }

  private readPayload(chunk: Buffer, pos: number): number {
    const take = Math.min(this.payload.length - this.filled, chunk.length - pos);
    chunk.copy(this.payload, this.filled, pos, pos + take);
    this.filled += take;
    if (this.filled === this.payload.length) {
      const payload = this.payload;
      this.payload = Buffer.alloc(0);
      this.filled = 0;
      this.finishFrame(payload);
    }
    return pos + take;
  }

  private finishFrame(payload: Buffer): void {
    let msg: Message;
    try {
      msg = decodePayload(this.frameType, payload);
    } catch (err) {
      this.fail(
        err instanceof XferError
          ? err
          : new MalformedFrameError(`A frame could not be decoded: ${String(err)}`),
      );
      return;
    }
    this.state = State.Header;
    if (msg.type === 'data') {
      this.rawRemaining = msg.length;
      this.state = State.Raw;
      this.handlers.message(msg);
      if (msg.length === 0) this.endRaw();
      return;
    }
    this.handlers.message(msg);
  }

  private endRaw(): void {
    if (this.state === State.Raw) this.state = State.Header;
    this.handlers.dataEnd();
  }

  private fail(err: XferError): void {
    this.state = State.Failed;
    this.payload = Buffer.alloc(0);
    this.handlers.error(err);
  }
}

/** Decodes one payload; throws an XferError for anything out of spec. */
export function decodePayload(type: number, payload: Buffer): Message {
  const r = new PayloadReader(payload);
  let msg: Message;
  switch (type) {
    case FrameType.HELLO:
      msg = { type: 'hello', sessionId: r.bytes(SESSION_ID_SIZE), clientNonce: r.bytes(NONCE_SIZE) };
      break;
    case FrameType.WELCOME:
      msg = { type: 'welcome', serverNonce: r.bytes(NONCE_SIZE), authRequired: readBool(r, 'auth flag') };
      break;
    case FrameType.AUTH:
      msg = { type: 'auth', clientProof: r.bytes(HASH_SIZE) };
      break;
    case FrameType.AUTH_OK:
      msg = { type: 'auth-ok', serverProof: r.bytes(HASH_SIZE) };
      break;
    case FrameType.LIST:
      msg = { type: 'list', requestId: r.u32() };
      break;
    case FrameType.CATALOG: {
      const requestId = r.u32();
      const more = readBool(r, 'more flag');
      const count = r.u32();
      // An entry takes at least 24 bytes: a count the payload cannot hold is a lie.
      if (count > payload.length / MIN_CATALOG_ENTRY_BYTES) {
        throw new MalformedFrameError(`A catalog frame claims ${count} entries it cannot hold.`);
      }
      const entries: CatalogEntry[] = [];
      for (let i = 0; i < count; i++) entries.push(readCatalogEntry(r));
      msg = { type: 'catalog', requestId, more, entries };
      break;
    }
    case FrameType.STAT:
      msg = { type: 'stat', requestId: r.u32(), name: r.name(MAX_NAME_BYTES) };
      break;
    case FrameType.PIECES: {
      const requestId = r.u32();
      const identity = readIdentity(r);
      const pieceSize = r.u32();
      const count = r.u32();
      if (count > MAX_PIECES || pieceSize === 0) {
        throw new NumberOutOfRangeError(
          `A piece list of ${count} pieces of ${pieceSize} bytes is not valid.`,
        );
      }
      if (count !== Math.ceil(identity.size / pieceSize)) {
        throw new MalformedFrameError(
          `${count} piece hashes do not cover ${identity.size} bytes in pieces of ${pieceSize}.`,
        );
      }
      const hashes: Buffer[] = [];
      for (let i = 0; i < count; i++) hashes.push(r.bytes(HASH_SIZE));
      msg = { type: 'pieces', requestId, identity, pieceSize, hashes };
      break;
    }
    case FrameType.GET: {
      const requestId = r.u32();
      const name = r.name(MAX_NAME_BYTES);
      const offset = r.u64('offset');
      const length = r.u64('length');
      checkRange(offset, length);
      msg = { type: 'get', requestId, name, offset, length, expect: readIdentity(r) };
      break;
    }
    case FrameType.DATA: {
      const requestId = r.u32();
      const offset = r.u64('offset');
      const length = r.u64('length');
      checkRange(offset, length);
      msg = { type: 'data', requestId, offset, length };
      break;
    }
    case FrameType.ERROR:
      msg = {
        type: 'error',
        requestId: r.u32(),
        code: r.string(1, MAX_CODE_BYTES, 'error code'),
        message: r.string(2, MAX_MESSAGE_BYTES, 'error message'),
      };
      break;
    default:
      throw new FrameTypeError(`Unknown frame type 0x${type.toString(16)}.`);
  }
  r.end();
  return msg;
}

/** flags + name length + a 1-byte name + size + mtime + piece size */
const MIN_CATALOG_ENTRY_BYTES = 1 + 2 + 1 + 8 + 8 + 4;

function readBool(r: PayloadReader, field: string): boolean {
  const v = r.u8();
  if (v > 1) throw new MalformedFrameError(`The ${field} must be 0 or 1, not ${v}.`);
  return v === 1;
}

function readIdentity(r: PayloadReader): FileIdentity {
  return { size: r.u64('size'), mtimeUs: r.u64('mtime'), sha256: r.bytes(HASH_SIZE) };
}

function readCatalogEntry(r: PayloadReader): CatalogEntry {
  const flags = r.u8();
  if (flags > 1) throw new MalformedFrameError(`Unknown catalog entry flags ${flags}.`);
  const name = r.name(MAX_NAME_BYTES);
  const size = r.u64('size');
  const mtimeUs = r.u64('mtime');
  const pieceSize = r.u32();
  if (pieceSize === 0) throw new NumberOutOfRangeError(`The piece size of "${name}" is zero.`);
  const entry: CatalogEntry = { name, size, mtimeUs, pieceSize };
  if (flags === 1) entry.sha256 = r.bytes(HASH_SIZE);
  return entry;
}
