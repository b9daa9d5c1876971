import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import { MAX_FRAME_SIZE, encode, encodePreamble, type Message } from '../../src/protocol/index.js';
import { feedSplit, recordingDecoder } from '../helpers/decode.js';

const identity = { size: 3 * 1024 * 1024, mtimeUs: 42, sha256: randomBytes(32) };
const serverStream = Buffer.concat([
  encodePreamble(0),
  ...(
    [
      { type: 'welcome', serverNonce: randomBytes(32), authRequired: true },
      { type: 'auth-ok', serverProof: randomBytes(32) },
      {
        type: 'catalog',
        requestId: 1,
        more: false,
        entries: [{ name: 'a/b c', size: 10, mtimeUs: 1, pieceSize: 1 << 20, sha256: randomBytes(32) }],
      },
      {
        type: 'pieces',
        requestId: 2,
        identity,
        pieceSize: 1 << 20,
        hashes: [randomBytes(32), randomBytes(32), randomBytes(32)],
      },
      { type: 'data', requestId: 3, offset: 5, length: 40 },
    ] satisfies Message[]
  ).map((m) => encode(m)),
  randomBytes(40),
  encode({ type: 'error', requestId: 4, code: 'ERR_XFER_RANGE', message: 'nope' }),
]);
const clientStream = Buffer.concat([
  encodePreamble(0),
  ...(
    [
      { type: 'hello', sessionId: randomBytes(16), clientNonce: randomBytes(32) },
      { type: 'auth', clientProof: randomBytes(32) },
      { type: 'list', requestId: 1 },
      { type: 'stat', requestId: 2, name: 'x/y' },
      { type: 'get', requestId: 3, name: 'x/y', offset: 0, length: 100, expect: identity },
    ] satisfies Message[]
  ).map((m) => encode(m)),
]);

/** Flips, overwrites, inserts and deletes bytes of a valid stream. */
const mutation = (base: Buffer) =>
  fc.array(
    fc.record({
      kind: fc.constantFrom('flip', 'set', 'insert', 'delete'),
      at: fc.nat({ max: base.length - 1 }),
      byte: fc.integer({ min: 0, max: 255 }),
    }),
    { minLength: 1, maxLength: 6 },
  );

function mutate(base: Buffer, edits: { kind: string; at: number; byte: number }[]): Buffer {
  const bytes = [...base];
  for (const e of edits) {
    const at = Math.min(e.at, bytes.length - 1);
    if (e.kind === 'flip') bytes[at] = (bytes[at] ?? 0) ^ (1 << (e.byte & 7));
    else if (e.kind === 'set') bytes[at] = e.byte;
    else if (e.kind === 'insert') bytes.splice(at, 0, e.byte);
    else if (bytes.length > 1) bytes.splice(at, 1);
  }
  return Buffer.from(bytes);
}

describe('decoder fuzzing', () => {
  for (const [peer, base] of [
    ['server', serverStream],
    ['client', clientStream],
  ] as const) {
    test(`mutated ${peer} streams in random splits never throw and end in at most one coded error`, () => {
      fc.assert(
        fc.property(
          mutation(base),
          fc.array(fc.nat({ max: base.length }), { maxLength: 12 }),
          (edits, cuts) => {
            const { decoder, events } = recordingDecoder(peer);
            feedSplit(decoder, mutate(base, edits), cuts);
            const errors = events.filter((e) => e.kind === 'error');
            assert.ok(errors.length <= 1);
            if (errors[0]?.kind === 'error') {
              assert.match(errors[0].error.code, /^ERR_XFER_[A-Z_]+$/);
              assert.equal(events.at(-1), errors[0]);
            }
            for (const e of events) {
              if (e.kind === 'message' && 'requestId' in e.message)
                assert.ok(Number.isSafeInteger(e.message.requestId));
            }
          },
        ),
        { numRuns: 2500, seed: 20261128 },
      );
    });
  }

  test('a mutated length never makes the decoder buffer more than the limit', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 0xffffffff }), (announced) => {
        const header = Buffer.alloc(5);
        header.writeUInt8(0x11, 0);
        header.writeUInt32BE(announced, 1);
        const { decoder, events } = recordingDecoder('server');
        decoder.push(Buffer.concat([encodePreamble(0), header]));
        // Too large exactly when over the limit; anything else waits for its payload
        // (or, at length 0, is decoded at once and found malformed).
        const last = events.at(-1);
        const tooLarge = last?.kind === 'error' && last.error.code === 'ERR_XFER_FRAME_TOO_LARGE';
        assert.equal(tooLarge, announced > MAX_FRAME_SIZE);
        if (announced > 0 && announced <= MAX_FRAME_SIZE) assert.ok(!events.some((e) => e.kind === 'error'));
      }),
      { numRuns: 2000, seed: 7 },
    );
  });
});
