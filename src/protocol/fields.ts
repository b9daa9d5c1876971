import type { XferErrorClass } from '../errors.js';
import { FrameTooLargeError, MalformedFrameError, NumberOutOfRangeError } from '../errors.js';
import { FRAME_HEADER_SIZE } from './constants.js';

const MAX_SAFE = BigInt(Number.MAX_SAFE_INTEGER);
const strictUtf8 = new TextDecoder('utf-8', { fatal: true });

/** Sequential reader over one frame payload; every read is bounds- and range-checked. */
export class PayloadReader {
  private pos = 0;

  constructor(private readonly buf: Buffer) {}

  /** Bytes not read yet. */
  get remaining(): number {
    return this.buf.length - this.pos;
  }

  u8(): number {
    this.need(1);
    return this.buf.readUInt8(this.pos++);
  }

  u16(): number {
    this.need(2);
    const v = this.buf.readUInt16BE(this.pos);
    this.pos += 2;
    return v;
  }

  u32(): number {
    this.need(4);
    const v = this.buf.readUInt32BE(this.pos);
    this.pos += 4;
    return v;
  }

  /** A 64-bit field that must hold a safe integer (at most 2^53-1). */
  u64(field: string): number {
    this.need(8);
    const v = this.buf.readBigUInt64BE(this.pos);
    this.pos += 8;
    if (v > MAX_SAFE) {
      throw new NumberOutOfRangeError(`The ${field} ${v} is above the limit of 2^53-1.`);
    }
    return Number(v);
  }

  /** A copy, so a retained field never pins the (possibly large) receive buffer. */
  bytes(n: number): Buffer {
    this.need(n);
    const out = Buffer.from(this.buf.subarray(this.pos, this.pos + n));
    this.pos += n;
    return out;
  }

  /**
   * u8 or u16 byte length, then strict UTF-8, with the length checked against
   * `max` first; a string refused (too long, not UTF-8) is a `Refused` error.
   */
  string(
    lengthBytes: 1 | 2,
    max: number,
    field: string,
    Refused: XferErrorClass = MalformedFrameError,
  ): string {
    const len = lengthBytes === 1 ? this.u8() : this.u16();
    if (len > max) throw new Refused(`The ${field} is ${len} bytes (limit ${max}).`);
    this.need(len);
    const raw = this.buf.subarray(this.pos, this.pos + len);
    this.pos += len;
    try {
      return strictUtf8.decode(raw);
    } catch {
      throw new Refused(`The ${field} is not valid UTF-8.`);
    }
  }

  /** Every payload must be consumed exactly: trailing bytes mean the peer and we disagree. */
  end(): void {
    if (this.pos !== this.buf.length) {
      throw new MalformedFrameError(`The frame has ${this.buf.length - this.pos} unexpected trailing bytes.`);
    }
  }

  private need(n: number): void {
    if (this.pos + n > this.buf.length) {
      throw new MalformedFrameError('The frame payload is truncated.');
    }
  }
}

/** A frame header: type (u8), then the payload length (u32). */
export function readFrameHeader(header: Buffer): { type: number; length: number } {
  return { type: header.readUInt8(0), length: header.readUInt32BE(1) };
}

/** Builds one frame: header first, then the payload appended field by field. */
export class FrameWriter {
  private buf: Buffer;
  private pos: number;

  constructor(type: number, sizeHint = 64) {
    this.buf = Buffer.allocUnsafe(FRAME_HEADER_SIZE + sizeHint);
    this.buf.writeUInt8(type, 0);
    this.pos = FRAME_HEADER_SIZE;
  }

  u8(v: number): this {
    this.ensure(1);
    this.pos = this.buf.writeUInt8(v, this.pos);
    return this;
  }

  u16(v: number): this {
    this.ensure(2);
    this.pos = this.buf.writeUInt16BE(v, this.pos);
    return this;
  }

  u32(v: number): this {
    this.ensure(4);
    this.pos = this.buf.writeUInt32BE(v, this.pos);
    return this;
  }

  u64(v: number, field: string): this {
    if (!Number.isSafeInteger(v) || v < 0) {
      throw new NumberOutOfRangeError(`The ${field} ${v} is not a whole number from 0 to 2^53-1.`);
    }
    this.ensure(8);
    this.pos = this.buf.writeBigUInt64BE(BigInt(v), this.pos);
    return this;
  }

  bytes(b: Buffer, expectedLength: number, field: string): this {
    if (b.length !== expectedLength) {
      throw new MalformedFrameError(`The ${field} must be ${expectedLength} bytes, not ${b.length}.`);
    }
    this.ensure(b.length);
    this.pos += b.copy(this.buf, this.pos);
    return this;
  }

  string(lengthBytes: 1 | 2, s: string, max: number, field: string): this {
    const len = Buffer.byteLength(s, 'utf8');
    if (len > max) throw new MalformedFrameError(`The ${field} is ${len} bytes (limit ${max}).`);
    if (lengthBytes === 1) this.u8(len);
    else this.u16(len);
    this.ensure(len);
    this.pos += this.buf.write(s, this.pos, 'utf8');
    return this;
  }

  /** Finishes the frame: fills in the payload length and returns exactly the written bytes. */
  finish(maxPayload: number): Buffer {
    const payload = this.pos - FRAME_HEADER_SIZE;
    if (payload > maxPayload) {
      throw new FrameTooLargeError(`A frame of ${payload} bytes exceeds the limit of ${maxPayload}.`);
    }
    this.buf.writeUInt32BE(payload, 1);
    return this.buf.subarray(0, this.pos);
  }

  private ensure(n: number): void {
    if (this.pos + n <= this.buf.length) return;
    const grown = Buffer.allocUnsafe(Math.max(this.buf.length * 2, this.pos + n));
    this.buf.copy(grown, 0, 0, this.pos);
    this.buf = grown;
  }
}
