import {
  BadMagicError,
  FrameTooLargeError,
  FrameTypeError,
  MalformedFrameError,
  VersionMismatchError,
  XferError,
} from '../errors.js';
import { FRAME_HEADER_SIZE, MAGIC, MAX_FRAME_SIZE, PREAMBLE_SIZE, PROTOCOL_VERSION } from './constants.js';
import { readFrameHeader } from './fields.js';
import { CLIENT_FRAMES, SERVER_FRAMES, decodeFrame, readPreamble } from './frames.js';
import type { Message, Preamble } from './messages.js';

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
 * it emits the same messages. A pure state machine that only cuts the stream
 * into preamble, frames and raw DATA bytes (the byte layouts are frames.ts's):
 * no I/O, no timers.
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
    const preamble = readPreamble(this.preambleBuf);
    const { version } = preamble;
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
    this.handlers.preamble(preamble);
    return pos + take;
  }

  private readHeader(chunk: Buffer, pos: number): number {
    const take = Math.min(FRAME_HEADER_SIZE - this.filled, chunk.length - pos);
    chunk.copy(this.headerBuf, this.filled, pos, pos + take);
    this.filled += take;
    if (this.filled < FRAME_HEADER_SIZE) return pos + take;
    this.filled = 0;
    const { type, length } = readFrameHeader(this.headerBuf);
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
      msg = decodeFrame(this.frameType, payload);
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
