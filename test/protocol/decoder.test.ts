import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import {
  FrameType,
  MAX_FRAME_SIZE,
  MAX_NAME_BYTES,
  encode,
  encodePreamble,
} from '../../src/protocol/index.js';
import { decodeError, recordingDecoder } from '../helpers/decode.js';

function frame(type: number, payload: Buffer, announced = payload.length): Buffer {
  const header = Buffer.alloc(5);
  header.writeUInt8(type, 0);
  header.writeUInt32BE(announced, 1);
  return Buffer.concat([header, payload]);
}
const u32 = (v: number) => {
  const b = Buffer.alloc(4);
  b.writeUInt32BE(v);
  return b;
};
const u64 = (v: bigint) => {
  const b = Buffer.alloc(8);
  b.writeBigUInt64BE(v);
  return b;
};
const str16 = (raw: Buffer) => {
  const b = Buffer.alloc(2);
  b.writeUInt16BE(raw.length);
  return Buffer.concat([b, raw]);
};
const identity = Buffer.concat([u64(10n), u64(1n), Buffer.alloc(32)]);
const getPayload = (name: Buffer, offset: bigint, length: bigint) =>
  Buffer.concat([u32(1), str16(name), u64(offset), u64(length), identity]);

describe('decoder on hostile input', () => {
  const cases: [string, 'client' | 'server', Buffer, string][] = [
    [
      'a zero-length payload where fields are required',
      'client',
      frame(FrameType.LIST, Buffer.alloc(0)),
      'ERR_XFER_MALFORMED',
    ],
    [
      'a length of 0xFFFFFFFF',
      'client',
      frame(FrameType.LIST, Buffer.alloc(0), 0xffffffff),
      'ERR_XFER_FRAME_TOO_LARGE',
    ],
    [
      'a length one byte over the limit',
      'server',
      frame(FrameType.CATALOG, Buffer.alloc(0), MAX_FRAME_SIZE + 1),
      'ERR_XFER_FRAME_TOO_LARGE',
    ],
    ['an unknown frame type', 'client', frame(0x99, Buffer.alloc(4)), 'ERR_XFER_FRAME_TYPE'],
    [
      'a server frame sent by a client',
      'client',
      frame(FrameType.DATA, Buffer.alloc(20)),
      'ERR_XFER_FRAME_TYPE',
    ],
    [
      'a client frame sent by a server',
      'server',
      frame(FrameType.GET, Buffer.alloc(20)),
      'ERR_XFER_FRAME_TYPE',
    ],
    [
      'a payload shorter than its name length says',
      'client',
      frame(FrameType.STAT, Buffer.concat([u32(1), str16(Buffer.from('abc')).subarray(0, 4)])),
      'ERR_XFER_MALFORMED',
    ],
    [
      'trailing bytes after the fields',
      'client',
      frame(FrameType.LIST, Buffer.alloc(5)),
      'ERR_XFER_MALFORMED',
    ],
    [
      'a name of invalid UTF-8',
      'client',
      frame(FrameType.STAT, Buffer.concat([u32(1), str16(Buffer.from([0x61, 0xc3, 0x28]))])),
      'ERR_XFER_NAME',
    ],
    [
      'a name with NUL',
      'client',
      frame(FrameType.STAT, Buffer.concat([u32(1), str16(Buffer.from('a\0b'))])),
      'ERR_XFER_NAME',
    ],
    [
      'a name with an escape sequence',
      'client',
      frame(FrameType.STAT, Buffer.concat([u32(1), str16(Buffer.from('a\x1b[2Jb'))])),
      'ERR_XFER_NAME',
    ],
    [
      'a name over the length limit',
      'client',
      frame(FrameType.STAT, Buffer.concat([u32(1), str16(Buffer.alloc(MAX_NAME_BYTES + 1, 0x61))])),
      'ERR_XFER_NAME',
    ],
    [
      'a catalog entry whose name is over the length limit',
      'server',
      frame(
        FrameType.CATALOG,
        Buffer.concat([
          u32(1),
          Buffer.from([0]),
          u32(1),
          Buffer.from([0]),
          str16(Buffer.alloc(MAX_NAME_BYTES + 1, 0x61)),
          u64(1n),
          u64(1n),
          u32(1),
        ]),
      ),
      'ERR_XFER_NAME',
    ],
    [
      'a get whose name announces 65535 bytes',
      'client',
      frame(FrameType.GET, getPayload(Buffer.alloc(0xffff, 0x61), 0n, 1n)),
      'ERR_XFER_NAME',
    ],
    [
      'a name that climbs out with ..',
      'client',
      frame(FrameType.GET, getPayload(Buffer.from('a/../../x'), 0n, 1n)),
      'ERR_XFER_NAME',
    ],
    [
      'an offset of 2^53',
      'client',
      frame(FrameType.GET, getPayload(Buffer.from('a'), 2n ** 53n, 1n)),
      'ERR_XFER_NUMBER',
    ],
    [
      'an offset of 2^64-1',
      'client',
      frame(FrameType.GET, getPayload(Buffer.from('a'), 2n ** 64n - 1n, 1n)),
      'ERR_XFER_NUMBER',
    ],
    [
      'an offset + length that overflows',
      'client',
      frame(FrameType.GET, getPayload(Buffer.from('a'), 2n ** 52n, 2n ** 52n)),
      'ERR_XFER_NUMBER',
    ],
    [
      'a data length of 2^64-1',
      'server',
      frame(FrameType.DATA, Buffer.concat([u32(1), u64(0n), u64(2n ** 64n - 1n)])),
      'ERR_XFER_NUMBER',
    ],
    [
      'a catalog claiming more entries than it holds',
      'server',
      frame(FrameType.CATALOG, Buffer.concat([u32(1), Buffer.from([0]), u32(0xffffffff)])),
      'ERR_XFER_MALFORMED',
    ],
    [
      'a piece list that does not cover the file',
      'server',
      frame(FrameType.PIECES, Buffer.concat([u32(1), identity, u32(1), u32(3), Buffer.alloc(96)])),
      'ERR_XFER_MALFORMED',
    ],
    [
      'a boolean field that is neither 0 nor 1',
      'server',
      frame(FrameType.CATALOG, Buffer.concat([u32(1), Buffer.from([7]), u32(0)])),
      'ERR_XFER_MALFORMED',
    ],
  ];

  for (const [what, peer, bytes, code] of cases) {
    test(`${what} gives ${code}`, () => {
      const err = decodeError(peer, bytes);
      assert.equal(err?.code, code, `got ${err?.code}: ${err?.message}`);
      assert.ok(err.message.length > 10);
    });
  }

  test('wrong magic is refused on the first wrong byte', () => {
    const { decoder, events } = recordingDecoder('client');
    decoder.push(Buffer.from('G'));
    assert.equal(events.length, 1);
    assert.ok(events[0]?.kind === 'error' && events[0].error.code === 'ERR_XFER_MAGIC');
  });

  test('a wrong protocol version gives ERR_XFER_VERSION naming both versions', () => {
    const { decoder, events } = recordingDecoder('client');
    decoder.push(encodePreamble(0, 7));
    assert.ok(events[0]?.kind === 'error' && events[0].error.code === 'ERR_XFER_VERSION');
    assert.match(events[0].error.message, /version 7.*version 1/);
  });

  test('after an error the decoder ignores all further input', () => {
    const { decoder, events } = recordingDecoder('client');
    decoder.push(Buffer.concat([encodePreamble(0), frame(0x99, Buffer.alloc(0))]));
    decoder.push(encode({ type: 'list', requestId: 1 }));
    assert.equal(events.length, 2);
    assert.ok(decoder.failed);
  });

  test('a truncated stream emits nothing rather than a partial message', () => {
    const { decoder, events } = recordingDecoder('client');
    const full = Buffer.concat([encodePreamble(0), encode({ type: 'stat', requestId: 1, name: 'abc' })]);
    decoder.push(full.subarray(0, full.length - 1));
    assert.deepEqual(
      events.map((e) => e.kind),
      ['preamble'],
    );
  });

  test('random bytes never throw and never allocate more than the frame limit', () => {
    const limit = 4096;
    // Saved unbound on purpose: they are put back exactly as they were.
    // eslint-disable-next-line @typescript-eslint/unbound-method
    const original = { alloc: Buffer.alloc, allocUnsafe: Buffer.allocUnsafe };
    let largest = 0;
    const spy =
      <F extends (size: number, ...rest: never[]) => Buffer>(fn: F) =>
      (size: number, ...rest: never[]) => {
        largest = Math.max(largest, size);
        return fn.call(Buffer, size, ...rest);
      };
    Buffer.alloc = spy(original.alloc) as typeof Buffer.alloc;
    Buffer.allocUnsafe = spy(original.allocUnsafe) as typeof Buffer.allocUnsafe;
    try {
      fc.assert(
        fc.property(
          fc.constantFrom('client' as const, 'server' as const),
          fc.uint8Array({ maxLength: 2000 }),
          (peer, bytes) => {
            const { decoder, events } = recordingDecoder(peer, limit);
            decoder.push(encodePreamble(0));
            decoder.push(Buffer.from(bytes));
            // At most one error, and it is always the last event.
            const errors = events.filter((e) => e.kind === 'error');
            assert.ok(errors.length <= 1);
            if (errors.length === 1) assert.equal(events.at(-1)?.kind, 'error');
          },
        ),
        { numRuns: 3000 },
      );
      // Headers claiming huge lengths must not lead to big buffers either.
      for (const announced of [limit + 1, 0xffffffff, MAX_FRAME_SIZE]) {
        const { decoder } = recordingDecoder('server', limit);
        decoder.push(
          Buffer.concat([encodePreamble(0), frame(FrameType.CATALOG, Buffer.alloc(10), announced)]),
        );
      }
    } finally {
      Buffer.alloc = original.alloc;
      Buffer.allocUnsafe = original.allocUnsafe;
    }
    assert.ok(largest <= limit, `largest allocation ${largest} exceeds ${limit}`);
  });
});
