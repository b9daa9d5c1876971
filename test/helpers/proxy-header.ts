import { isIPv4 } from 'node:net';

const SIGNATURE = Buffer.from('0d0a0d0a000d0a515549540a', 'hex');

/**
 * A PROXY protocol v2 header as HAProxy's send-proxy-v2 writes it, written
 * here independently of the server's decoder: PROXY over TCP for `source`
 * (IPv4 dotted or full 8-group IPv6), or LOCAL without one.
 */
export function proxyV2Header(source?: { address: string; port: number }, tlvs = Buffer.alloc(0)): Buffer {
  if (!source) return Buffer.concat([SIGNATURE, Buffer.from([0x20, 0x00, 0x00, 0x00])]);
  const v4 = isIPv4(source.address);
  const address = v4
    ? Buffer.from(source.address.split('.').map(Number))
    : Buffer.concat(source.address.split(':').map((g) => u16(parseInt(g, 16))));
  const destination = Buffer.alloc(address.length); // 0.0.0.0 or ::, unused by the server
  const block = Buffer.concat([address, destination, u16(source.port), u16(9876), tlvs]);
  return Buffer.concat([SIGNATURE, Buffer.from([0x21, v4 ? 0x11 : 0x21]), u16(block.length), block]);
}

function u16(n: number): Buffer {
  const b = Buffer.alloc(2);
  b.writeUInt16BE(n);
  return b;
}
