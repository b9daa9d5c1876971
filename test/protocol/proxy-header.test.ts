import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import { MalformedFrameError } from '../../src/errors.js';
import { decodeProxyHeader, MAX_PROXY_BLOCK_BYTES } from '../../src/protocol/index.js';
import { proxyV2Header } from '../helpers/proxy-header.js';

describe('PROXY protocol v2 header', () => {
  test('names an IPv4 client and its port, and how many bytes the header takes', () => {
    const header = proxyV2Header({ address: '203.0.113.7', port: 40_001 });
    assert.deepEqual(decodeProxyHeader(Buffer.concat([header, Buffer.from('XFER')])), {
      length: 28,
      source: { address: '203.0.113.7', port: 40_001 },
    });
  });

  test('names an IPv6 client, and an IPv4-mapped one in the form sockets use', () => {
    const v6 = proxyV2Header({ address: '2001:db8:0:0:0:0:0:42', port: 443 });
    assert.deepEqual(decodeProxyHeader(v6)?.source, { address: '2001:db8:0:0:0:0:0:42', port: 443 });
    const mapped = proxyV2Header({ address: '0:0:0:0:0:ffff:c000:0201', port: 1 });
    assert.equal(decodeProxyHeader(mapped)?.source?.address, '::ffff:192.0.2.1');
  });

  test('skips TLVs after the addresses', () => {
    const tlv = Buffer.from([0x05, 0x00, 0x03, 0x61, 0x62, 0x63]); // PP2_TYPE_UNIQUE_ID "abc"
    const header = proxyV2Header({ address: '198.51.100.1', port: 5 }, tlv);
    assert.deepEqual(decodeProxyHeader(header), {
      length: header.length,
      source: { address: '198.51.100.1', port: 5 },
    });
  });

  test('LOCAL (a health check) names no client', () => {
    assert.deepEqual(decodeProxyHeader(proxyV2Header()), { length: 16 });
  });

  test('asks for more bytes while the header is incomplete, at every cut', () => {
    const header = proxyV2Header({ address: '203.0.113.7', port: 1 });
    for (let cut = 0; cut < header.length; cut++) {
      assert.equal(decodeProxyHeader(header.subarray(0, cut)), undefined, `cut at ${cut}`);
    }
  });

  test('refuses anything else as soon as it can tell: xfer, HTTP, version 1, unknown commands, long headers', () => {
    const refuses = (bytes: Buffer, message: RegExp) =>
      assert.throws(
        () => decodeProxyHeader(bytes),
        (err: unknown) => {
          assert.ok(err instanceof MalformedFrameError);
          assert.equal(err.code, 'ERR_XFER_MALFORMED');
          assert.match(err.message, message);
          return true;
        },
      );
    refuses(Buffer.from('XFER'), /did not start with a PROXY protocol v2 header/);
    refuses(Buffer.from('G'), /did not start with a PROXY/);
    refuses(Buffer.from('PROXY TCP4 203.0.113.7 10.0.0.1 1 2\r\n'), /did not start with a PROXY/);
    const header = proxyV2Header({ address: '203.0.113.7', port: 1 });
    const v1 = Buffer.from(header);
    v1[12] = 0x11;
    refuses(v1, /version 1 is not supported/);
    const command = Buffer.from(header);
    command[12] = 0x2f;
    refuses(command, /Unknown PROXY protocol command 15/);
    const long = Buffer.from(header);
    long.writeUInt16BE(MAX_PROXY_BLOCK_BYTES + 1, 14);
    refuses(long.subarray(0, 16), /at most 1024 are allowed/);
    const short = Buffer.from(header);
    short.writeUInt16BE(4, 14);
    refuses(short, /address block of 4 bytes is too short/);
  });
});

describe('PROXY protocol v2 header, any bytes', () => {
  test('a valid header with any bytes in it decodes or is refused with ERR_XFER_MALFORMED, never anything else', () => {
    const valid = proxyV2Header({ address: '203.0.113.7', port: 1 });
    fc.assert(
      fc.property(
        fc.array(fc.record({ at: fc.nat(valid.length - 1), byte: fc.nat(255) }), { maxLength: 4 }),
        fc.uint8Array({ maxLength: 64 }),
        (flips, tail) => {
          const bytes = Buffer.concat([valid, tail]);
          for (const { at, byte } of flips) bytes[at] = byte;
          try {
            const header = decodeProxyHeader(bytes);
            if (header) assert.ok(header.length >= 16 && header.length <= 16 + MAX_PROXY_BLOCK_BYTES);
          } catch (err) {
            assert.ok(err instanceof MalformedFrameError, String(err));
          }
        },
      ),
      { numRuns: 2000 },
    );
  });
});
