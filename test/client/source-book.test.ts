import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { IntegrityError } from '../../src/errors.js';
import type { ClientEvent } from '../../src/client/events.js';
import { FileSources } from '../../src/client/source-book.js';
import type { RangeSource } from '../../src/client/source.js';
import { eventsOf } from '../helpers/session.js';

const source = (label: string, pieceHashes: boolean) =>
  ({ label, capabilities: { maxConnections: 4, ranges: true, pieceHashes } }) as RangeSource;

function book(...sources: RangeSource[]) {
  const events: ClientEvent[] = [];
  return { sources: new FileSources(sources, 'f\u001b.bin', (e) => events.push(e)), events };
}

describe('FileSources', () => {
  test('the first live source with piece hashes judges; dropping it hands that to the next', () => {
    const [web, a, b] = [source('http://w/', false), source('a:1', true), source('b:1', true)];
    const { sources, events } = book(web, a, b);
    assert.equal(sources.hashSource, a);
    sources.drop(a, new IntegrityError('bad bytes.'));
    sources.drop(a, new IntegrityError('again.'));
    assert.equal(sources.hashSource, b);
    assert.deepEqual(sources.live, [web, b]);
    const dropped = eventsOf(events, 'source');
    assert.equal(dropped.length, 1, 'a source is dropped once');
    assert.deepEqual(
      [dropped[0]?.source, dropped[0]?.status, dropped[0]?.code],
      ['a:1', 'dropped', 'ERR_XFER_CORRUPT'],
    );
    assert.ok(!dropped[0]?.message.includes('\u001b'), 'the file name is escaped');
  });

  test('blame drops the writers of bad pieces but never the last source', () => {
    const [a, b] = [source('a:1', true), source('b:1', true)];
    const { sources } = book(a, b);
    sources.pieceOwners.set(0, a).set(1, b);
    sources.blame([0, 1]);
    assert.equal(sources.live.length, 1);
  });

  test('without piece hashes each repair takes one source alone, in turn; none when only one is left', () => {
    const [a, b, c] = [source('a', false), source('b', false), source('c', false)];
    const { sources } = book(a, b, c);
    assert.deepEqual(
      [0, 1, 2, 3].map((r) => sources.repairSource(r)),
      [a, b, c, a],
    );
    sources.exposeLiars(new Set([b, c]));
    assert.deepEqual(sources.live, [a]);
    assert.equal(sources.repairSource(0), undefined);
  });
});
