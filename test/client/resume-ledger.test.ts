import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { open, readdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, test, type TestContext } from 'node:test';
import type { ClientEvent } from '../../src/client/events.js';
import { PieceSet } from '../../src/client/piece-set.js';
import { ResumeLedger } from '../../src/client/resume-ledger.js';
import { saveResumeState } from '../../src/client/resume-state.js';
import type { PieceHashes, RangeSource } from '../../src/client/source.js';
import { InternalError } from '../../src/errors.js';
import { patternBytes, tempDir } from '../helpers/tmp.js';

const PIECE = 1024;
const content = patternBytes(3 * PIECE + 5, 41);
const digest = (b: Buffer) => createHash('sha256').update(b).digest();
const identity = { size: content.length, mtimeUs: 7, sha256: digest(content) };
const file = { name: 'f', identity, pieceSize: PIECE };
const hashes = [0, 1, 2, 3].map((p) => digest(content.subarray(p * PIECE, (p + 1) * PIECE)));

/** A source that only answers piece hashes: the ledger never asks it for bytes. */
function hashSource(answer: PieceHashes | undefined): RangeSource {
  return {
    label: 'test',
    capabilities: { maxConnections: 1, ranges: true, pieceHashes: answer !== undefined },
    channel: () => Promise.reject(new InternalError('not used')),
    drop: () => undefined,
    dropAll: () => undefined,
    pieces: () => (answer ? Promise.resolve(answer) : Promise.reject(new InternalError('no hashes'))),
  };
}

/** A ledger over a .part holding `part` and a state claiming `claimed` pieces of `stateIdentity`. */
async function setUp(t: TestContext, part: Buffer, claimed: number[], stateIdentity = identity) {
  const dir = await tempDir(t);
  const paths = { final: join(dir, 'f'), part: join(dir, 'f.part'), state: join(dir, '.f.xfer') };
  await writeFile(paths.part, part);
  const done = new PieceSet(4);
  for (const p of claimed) done.add(p);
  await saveResumeState(paths.state, {
    size: stateIdentity.size,
    mtimeUs: stateIdentity.mtimeUs,
    sha256: stateIdentity.sha256.toString('hex'),
    pieceSize: PIECE,
    done: done.toBase64(),
  });
  const events: ClientEvent[] = [];
  const ledger = new ResumeLedger(file, paths, (e) => events.push(e));
  const fh = await open(paths.part, 'r');
  t.after(() => fh.close());
  return { dir, ledger, events, fh };
}

describe('ResumeLedger', () => {
  test('claimed pieces are trusted only when their hash matches; the others are fetched again', async (t) => {
    const part = Buffer.from(content);
    part[2 * PIECE + 1] = (part[2 * PIECE + 1] ?? 0) ^ 0xff; // piece 2 damaged on disk
    const { ledger, events, fh } = await setUp(t, part, [0, 2, 3]);
    await ledger.load();
    assert.deepEqual([...ledger.pieces], [0, 2, 3]);
    const verified = await ledger.verifyClaimed(fh, hashSource({ identity, pieceSize: PIECE, hashes }));
    assert.deepEqual([...ledger.pieces], [0, 3]);
    assert.equal(verified, PIECE + 5);
    assert.match(events.find((e) => e.type === 'resume')?.message ?? '', /2 of 4 pieces verified/);
  });

  test('a state for another version of the file starts over and removes the partial', async (t) => {
    const other = { ...identity, mtimeUs: 8 };
    const { dir, ledger, events } = await setUp(t, content, [0, 1], other);
    await ledger.load();
    assert.equal(ledger.pieces.size, 0);
    assert.deepEqual(
      events.map((e) => e.type),
      ['restart'],
    );
    assert.deepEqual(await readdir(dir), []);
  });

  test('piece hashes of another version mean the file changed (ERR_XFER_CHANGED)', async (t) => {
    const { ledger, fh } = await setUp(t, content, [0]);
    await ledger.load();
    const changed = { identity: { ...identity, sha256: Buffer.alloc(32) }, pieceSize: PIECE, hashes };
    await assert.rejects(ledger.verifyClaimed(fh, hashSource(changed)), { code: 'ERR_XFER_CHANGED' });
  });

  test('without piece hashes, claims wait for the whole-file check, and a mismatch drops every piece', async (t) => {
    const { ledger, fh } = await setUp(t, content, [0, 1]);
    await ledger.load();
    assert.equal(await ledger.verifyClaimed(fh, hashSource(undefined)), 2 * PIECE);
    assert.equal(await ledger.dropDamaged(fh, hashSource(undefined)), 4);
    assert.equal(ledger.pieces.size, 0);
  });

  test('a write marks only whole pieces inside the written part as done', async (t) => {
    const { ledger } = await setUp(t, content, []);
    ledger.markWritten(0, PIECE + 10, 0, PIECE + 10, 0);
    assert.deepEqual([...ledger.pieces], [0]);
    ledger.markWritten(PIECE + 10, 2 * PIECE, 0, 2 * PIECE, 0);
    assert.deepEqual([...ledger.pieces], [0, 1]);
    // The last piece is short: it is done at the file's end.
    ledger.markWritten(3 * PIECE, content.length, 3 * PIECE, content.length, 0);
    assert.deepEqual([...ledger.pieces], [0, 1, 3]);
  });
});
