import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { describe, test } from 'node:test';
import { FRAME_HEADER_SIZE, FrameType, MAX_NAME_BYTES, type Message } from '../../src/protocol/index.js';
import {
  CLIENT_FRAMES,
  SERVER_FRAMES,
  catalogEntry,
  catalogEntryWireSize,
  decodeFrame,
  encode,
} from '../../src/protocol/frames.js';
import type { CatalogEntry } from '../../src/protocol/messages.js';

const hash = () => randomBytes(32);
/** A valid name of exactly `bytes` bytes: segments of 127 bytes (the limit for one is 255). */
const nameOf = (bytes: number) => {
  const segments = Math.floor((bytes - 1) / 128);
  return `${'s'.repeat(127)}/`.repeat(segments) + 'n'.repeat(bytes - segments * 128);
};
const identity = { size: 3 * 1024 * 1024 + 1, mtimeUs: 1_700_000_000_123_456, sha256: hash() };

/** One message of every type: the type makes the list complete. */
const samples: { [K in Message['type']]: Extract<Message, { type: K }> } = {
  hello: { type: 'hello', sessionId: randomBytes(16), clientNonce: randomBytes(32) },
  welcome: { type: 'welcome', serverNonce: randomBytes(32), authRequired: true },
  auth: { type: 'auth', clientProof: hash() },
  'auth-ok': { type: 'auth-ok', serverProof: hash() },
  list: { type: 'list', requestId: 0xffffffff },
  catalog: {
    type: 'catalog',
    requestId: 1,
    more: true,
    entries: [
      { name: 'a', size: 0, mtimeUs: 0, pieceSize: 1 },
      { name: 'sub/日本語.txt', size: 2 ** 40, mtimeUs: 2, pieceSize: 1 << 26, sha256: hash() },
    ],
  },
  stat: { type: 'stat', requestId: 2, name: nameOf(MAX_NAME_BYTES) },
  pieces: {
    type: 'pieces',
    requestId: 3,
    identity,
    pieceSize: 1 << 20,
    hashes: [hash(), hash(), hash(), hash()],
  },
  get: {
    type: 'get',
    requestId: 4,
    name: 'f',
    offset: Number.MAX_SAFE_INTEGER - 1,
    length: 1,
    expect: identity,
  },
  data: { type: 'data', requestId: 5, offset: 7, length: 0 },
  error: { type: 'error', requestId: 0, code: 'ERR_XFER_RANGE', message: 'Bytes 5..9 lie past the end.' },
};

/** The payload of one encoded frame, after checking its header. */
function payloadOf(frame: Buffer): Buffer {
  assert.equal(frame.readUInt32BE(1), frame.length - FRAME_HEADER_SIZE, 'the header announces the payload');
  return frame.subarray(FRAME_HEADER_SIZE);
}

const catalogFrame = (entries: CatalogEntry[]) =>
  encode({ type: 'catalog', requestId: 1, more: false, entries });

describe('frames', () => {
  for (const msg of Object.values(samples)) {
    test(`a ${msg.type} frame encodes and decodes back to the same message`, () => {
      const frame = encode(msg);
      assert.deepEqual(decodeFrame(frame.readUInt8(0), payloadOf(frame)), msg);
    });
  }

  test('every frame type has a layout and one sender', () => {
    const all = Object.values(FrameType) as number[];
    const encodedTypes = Object.values(samples).map((m) => encode(m).readUInt8(0));
    assert.deepEqual([...encodedTypes].sort(), [...all].sort());
    assert.deepEqual([...CLIENT_FRAMES, ...SERVER_FRAMES].sort(), [...all].sort());
    assert.ok([...CLIENT_FRAMES].every((t) => !SERVER_FRAMES.has(t)));
  });

  test("a catalog entry's wire size is what it adds to a CATALOG frame", () => {
    const entries: CatalogEntry[] = [
      { name: 'a', size: 1, mtimeUs: 1, pieceSize: 1 },
      { name: 'ü/é', size: 2 ** 50, mtimeUs: 3, pieceSize: 1 << 20, sha256: hash() },
      { name: nameOf(MAX_NAME_BYTES), size: 0, mtimeUs: 0, pieceSize: 1 },
    ];
    const empty = catalogFrame([]).length;
    for (const entry of entries) {
      assert.equal(
        catalogFrame([entry]).length - empty,
        catalogEntryWireSize(entry),
        entry.name.slice(0, 10),
      );
    }
    const all = entries.reduce((sum, e) => sum + catalogEntryWireSize(e), 0);
    assert.equal(catalogFrame(entries).length - empty, all);
  });

  test("a catalog entry's minimum size is the smallest entry's, and bounds the count a frame may claim", () => {
    const smallest = { name: 'a', size: 0, mtimeUs: 0, pieceSize: 1 };
    assert.equal(catalogEntryWireSize(smallest), catalogEntry.minBytes);
    // A frame that claims one entry more than its bytes could hold is refused before any entry is read.
    const body = payloadOf(catalogFrame([smallest, smallest]));
    const lying = Buffer.from(body);
    lying.writeUInt32BE(3, 5);
    assert.throws(() => decodeFrame(FrameType.CATALOG, lying), {
      code: 'ERR_XFER_MALFORMED',
      message: /claims 3/,
    });
    assert.equal(decodeFrame(FrameType.CATALOG, body).type, 'catalog');
  });

  test('what the encoder writes, the decoder accepts, and what it refuses, the decoder refuses too', () => {
    assert.throws(
      () => encode({ ...samples.catalog, entries: [{ name: 'a', size: 1, mtimeUs: 1, pieceSize: 0 }] }),
      {
        code: 'ERR_XFER_NUMBER',
      },
    );
    assert.throws(() => encode({ ...samples.pieces, hashes: [hash()] }), { code: 'ERR_XFER_MALFORMED' });
    assert.throws(() => encode({ ...samples.data, offset: Number.MAX_SAFE_INTEGER, length: 1 }), {
      code: 'ERR_XFER_NUMBER',
    });
    assert.throws(() => encode({ ...samples.stat, name: nameOf(MAX_NAME_BYTES + 1) }), {
      code: 'ERR_XFER_NAME',
    });
  });

  test('an error message over its limit is cut at a character boundary, not refused', () => {
    const long = '日'.repeat(1000);
    const frame = encode({ ...samples.error, message: long });
    const decoded = decodeFrame(FrameType.ERROR, payloadOf(frame));
    assert.ok(decoded.type === 'error' && long.startsWith(decoded.message) && decoded.message.length === 682);
  });
});
