import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import { encode, encodePreamble, type Message } from '../../src/protocol/index.js';
import { feedSplit, recordingDecoder } from '../helpers/decode.js';

const hash = () => randomBytes(32);
const identity = () => ({ size: 5_000_000, mtimeUs: 1_700_000_000_123_456, sha256: hash() });

const clientMessages: Message[] = [
  { type: 'hello', sessionId: randomBytes(16), clientNonce: randomBytes(32) },
  { type: 'auth', clientProof: hash() },
  { type: 'list', requestId: 1 },
  { type: 'stat', requestId: 2, name: 'dir/ünïcode file.bin' },
  { type: 'get', requestId: 3, name: 'a b.txt', offset: 0, length: 0, expect: identity() },
  {
    type: 'get',
    requestId: 4,
    name: 'x',
    offset: Number.MAX_SAFE_INTEGER - 10,
    length: 10,
    expect: identity(),
  },
];

const serverMessages: Message[] = [
  { type: 'welcome', serverNonce: randomBytes(32), authRequired: false },
  { type: 'welcome', serverNonce: randomBytes(32), authRequired: true },
  { type: 'auth-ok', serverProof: hash() },
  {
    type: 'catalog',
    requestId: 1,
    more: true,
    entries: [
      { name: 'a', size: 0, mtimeUs: 1, pieceSize: 1 << 20 },
      { name: 'sub/日本語.txt', size: 2 ** 40, mtimeUs: 2, pieceSize: 1 << 26, sha256: hash() },
    ],
  },
  { type: 'catalog', requestId: 1, more: false, entries: [] },
  {
    type: 'pieces',
    requestId: 2,
    identity: identity(),
    pieceSize: 1 << 20,
    hashes: [hash(), hash(), hash(), hash(), hash()],
  },
  { type: 'error', requestId: 0, code: 'ERR_XFER_NOT_FOUND', message: 'No file “x” here.' },
];

function roundTrip(peer: 'client' | 'server', msg: Message): Message {
  const { decoder, events } = recordingDecoder(peer);
  decoder.push(Buffer.concat([encodePreamble(0), encode(msg)]));
  const decoded = events.filter((e) => e.kind === 'message');
  assert.equal(decoded.length, 1, `one message for ${msg.type}: ${JSON.stringify(events)}`);
  return decoded[0]!.kind === 'message' ? decoded[0]!.message : assert.fail();
}

describe('frame codec', () => {
  for (const msg of clientMessages) {
    test(`a ${msg.type} frame from the client decodes to the same message`, () => {
      assert.deepEqual(roundTrip('client', msg), msg);
    });
  }
  for (const msg of serverMessages) {
    test(`a ${msg.type} frame from the server decodes to the same message`, () => {
      assert.deepEqual(roundTrip('server', msg), msg);
    });
  }

  test('a data frame is followed by exactly its raw bytes, then framing resumes', () => {
    const body = randomBytes(100_000);
    const { decoder, events } = recordingDecoder('server');
    decoder.push(
      Buffer.concat([
        encodePreamble(0),
        encode({ type: 'data', requestId: 9, offset: 7, length: body.length }),
        body,
        encode({ type: 'data', requestId: 10, offset: 0, length: 0 }),
        encode({ type: 'auth-ok', serverProof: hash() }),
      ]),
    );
    assert.deepEqual(
      events.map((e) => e.kind),
      ['preamble', 'message', 'data', 'data-end', 'message', 'data-end', 'message'],
    );
    const data = events[2];
    assert.ok(data?.kind === 'data' && data.bytes.equals(body));
  });

  test('the same stream fed whole, byte by byte and in random splits gives the same events', () => {
    const stream = Buffer.concat([
      encodePreamble(1),
      ...serverMessages.map((m) => encode(m)),
      encode({ type: 'data', requestId: 5, offset: 0, length: 3000 }),
      randomBytes(3000),
      ...serverMessages.map((m) => encode(m)),
    ]);
    const whole = recordingDecoder('server');
    whole.decoder.push(stream);
    assert.ok(!whole.events.some((e) => e.kind === 'error'));

    const bytewise = recordingDecoder('server');
    for (let i = 0; i < stream.length; i++) bytewise.decoder.push(stream.subarray(i, i + 1));
    assert.deepEqual(bytewise.events, whole.events);

    fc.assert(
      fc.property(fc.array(fc.integer({ min: 0, max: stream.length }), { maxLength: 40 }), (cuts) => {
        const split = recordingDecoder('server');
        feedSplit(split.decoder, stream, cuts);
        assert.deepEqual(split.events, whole.events);
      }),
      { numRuns: 300 },
    );
  });

  test('10,000 pipelined small frames all decode, in order', () => {
    const frames = Array.from({ length: 10_000 }, (_, i) => encode({ type: 'list', requestId: i }));
    const { decoder, events } = recordingDecoder('client');
    decoder.push(Buffer.concat([encodePreamble(0), ...frames]));
    const ids = events.flatMap((e) =>
      e.kind === 'message' && e.message.type === 'list' ? [e.message.requestId] : [],
    );
    assert.equal(ids.length, 10_000);
    assert.ok(ids.every((id, i) => id === i));
  });

  test('the encoder refuses numbers the decoder would refuse', () => {
    const expect = identity();
    for (const [offset, length] of [
      [2 ** 53, 0],
      [-1, 1],
      [1.5, 1],
      [Number.MAX_SAFE_INTEGER, 1],
    ] as const) {
      assert.throws(() => encode({ type: 'get', requestId: 1, name: 'a', offset, length, expect }), {
        code: 'ERR_XFER_NUMBER',
      });
    }
  });

  test('the encoder refuses names that would escape', () => {
    assert.throws(() => encode({ type: 'stat', requestId: 1, name: '../etc/passwd' }), {
      code: 'ERR_XFER_NAME',
    });
  });
});
