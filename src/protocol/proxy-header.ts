import { MalformedFrameError } from '../errors.js';

/**
 * The PROXY protocol version 2 header (HAProxy's `send-proxy-v2`): the binary
 * preamble a load balancer puts before a connection's own bytes to say whom
 * it carries. Only version 2 is read; version 1 (text) is refused, as a
 * balancer that can send one can send the other.
 *
 *   12 bytes  signature \r\n\r\n\0\r\nQUIT\n
 *    1 byte   version (high 4 bits, 2) and command (low 4 bits: 0 LOCAL, 1 PROXY)
 *    1 byte   address family (high 4 bits) and transport (low 4 bits)
 *    2 bytes  length of what follows, big-endian: addresses, then TLVs (ignored)
 */
export const PROXY_V2_SIGNATURE = Buffer.from('0d0a0d0a000d0a515549540a', 'hex');
const FIXED_BYTES = 16;
/** Addresses (at most 216 bytes, for UNIX) plus the TLVs a balancer adds (unique id, TLS facts). */
export const MAX_PROXY_BLOCK_BYTES = 1024;

const COMMAND_LOCAL = 0x0;
const COMMAND_PROXY = 0x1;
const FAMILY_INET = 0x1;
const FAMILY_INET6 = 0x2;
const TRANSPORT_STREAM = 0x1;
const INET_BLOCK_BYTES = 12;
const INET6_BLOCK_BYTES = 36;

export interface ProxyHeader {
  /** Bytes the header takes; the connection's own bytes start after them. */
  readonly length: number;
  /**
   * The client the balancer carries. Absent for LOCAL (the balancer's own
   * health check) and for families other than TCP over IPv4 or IPv6: the
   * connection's own peer address stands then.
   */
  readonly source?: { readonly address: string; readonly port: number };
}

/**
 * Decodes a PROXY v2 header from a connection's first bytes: undefined while
 * more bytes are needed; ERR_XFER_MALFORMED as soon as they cannot be one.
 */
export function decodeProxyHeader(head: Buffer): ProxyHeader | undefined {
  const known = Math.min(head.length, PROXY_V2_SIGNATURE.length);
  if (!head.subarray(0, known).equals(PROXY_V2_SIGNATURE.subarray(0, known))) {
    throw new MalformedFrameError('The connection did not start with a PROXY protocol v2 header.');
  }
  if (head.length < FIXED_BYTES) return undefined;
  const versionCommand = head.readUInt8(12);
  const familyTransport = head.readUInt8(13);
  const blockBytes = head.readUInt16BE(14);
  if (versionCommand >> 4 !== 2) {
    throw new MalformedFrameError(`PROXY protocol version ${versionCommand >> 4} is not supported (only 2).`);
  }
  const command = versionCommand & 0x0f;
  if (command !== COMMAND_LOCAL && command !== COMMAND_PROXY) {
    throw new MalformedFrameError(`Unknown PROXY protocol command ${command}.`);
  }
  if (blockBytes > MAX_PROXY_BLOCK_BYTES) {
    throw new MalformedFrameError(
      `PROXY header with ${blockBytes} bytes after its first 16; at most ${MAX_PROXY_BLOCK_BYTES} are allowed.`,
    );
  }
  const length = FIXED_BYTES + blockBytes;
  if (head.length < length) return undefined;
  if (command === COMMAND_LOCAL || (familyTransport & 0x0f) !== TRANSPORT_STREAM) return { length };
  const block = head.subarray(FIXED_BYTES, length);
  const family = familyTransport >> 4;
  if (family === FAMILY_INET) {
    if (blockBytes < INET_BLOCK_BYTES) throw tooShort(blockBytes);
    return { length, source: { address: [...block.subarray(0, 4)].join('.'), port: block.readUInt16BE(8) } };
  }
  if (family === FAMILY_INET6) {
    if (blockBytes < INET6_BLOCK_BYTES) throw tooShort(blockBytes);
    return { length, source: { address: ipv6Text(block.subarray(0, 16)), port: block.readUInt16BE(32) } };
  }
  return { length };
}

function tooShort(blockBytes: number): MalformedFrameError {
  return new MalformedFrameError(`PROXY header's address block of ${blockBytes} bytes is too short.`);
}

/** Sixteen bytes as IPv6 text: eight full groups, or `::ffff:a.b.c.d` for an IPv4-mapped address. */
function ipv6Text(bytes: Buffer): string {
  const mapped = bytes.subarray(0, 10).every((b) => b === 0) && bytes.readUInt16BE(10) === 0xffff;
  if (mapped) return `::ffff:${[...bytes.subarray(12)].join('.')}`;
  const groups: string[] = [];
  for (let i = 0; i < 16; i += 2) groups.push(bytes.readUInt16BE(i).toString(16));
  return groups.join(':');
}
