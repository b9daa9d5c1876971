import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { WEB_WINDOW, fetchUrls } from '../../src/client/batch.js';
import type { FetchOutcome } from '../../src/client/session.js';

/** A fake fetch that records what is in flight; each URL finishes when the test says. */
function fakeFetches() {
  const started: string[] = [];
  const pending = new Map<string, (outcome: FetchOutcome) => void>();
  let peak = 0;
  return {
    started,
    pending,
    peak: () => peak,
    fetchUrl: (url: string) =>
      new Promise<FetchOutcome>((resolve) => {
        started.push(url);
        pending.set(url, (outcome) => {
          pending.delete(url);
          resolve(outcome);
        });
        peak = Math.max(peak, pending.size);
      }),
  };
}

const urls = (n: number) => Array.from({ length: n }, (_, i) => `http://127.0.0.1/f${i}.bin`);
const settle = () => new Promise<void>((r) => setImmediate(r));

describe('fetchUrls', () => {
  test('never more than WEB_WINDOW URLs in flight; each starts in list order as another ends', async () => {
    const fake = fakeFetches();
    const list = urls(WEB_WINDOW * 3 + 5);
    const outcomes: string[] = [];
    const run = fetchUrls(list, fake.fetchUrl, new AbortController().signal, (url) => outcomes.push(url));
    await settle();
    assert.equal(fake.pending.size, WEB_WINDOW);
    assert.deepEqual(fake.started, list.slice(0, WEB_WINDOW));
    // Finish them out of order (last started first): one more starts for each that ends.
    while (fake.pending.size > 0) {
      const last = [...fake.pending.keys()].at(-1) ?? '';
      const before = fake.started.length;
      fake.pending.get(last)?.({ ok: true });
      await settle();
      assert.equal(fake.started.length, Math.min(list.length, before + 1));
      assert.ok(fake.pending.size <= WEB_WINDOW);
    }
    await run;
    assert.equal(fake.peak(), WEB_WINDOW);
    assert.deepEqual(fake.started, list);
    assert.deepEqual([...outcomes].sort(), [...list].sort());
  });

  test('a failing URL does not stop the others: every outcome is reported', async () => {
    const list = urls(40);
    const failing = new Set([list[0], list[17], list[39]]);
    const outcomes = new Map<string, FetchOutcome>();
    await fetchUrls(
      list,
      async (url) => {
        await settle();
        return failing.has(url) ? { ok: false, retryable: false } : { ok: true };
      },
      new AbortController().signal,
      (url, outcome) => outcomes.set(url, outcome),
    );
    assert.equal(outcomes.size, list.length);
    assert.deepEqual(
      [...outcomes].filter(([, o]) => !o.ok).map(([url]) => url),
      [...failing].filter((u) => outcomes.has(u ?? '')),
    );
  });

  test('after an abort no further URL starts', async () => {
    const fake = fakeFetches();
    const abort = new AbortController();
    const list = urls(WEB_WINDOW + 10);
    const run = fetchUrls(list, fake.fetchUrl, abort.signal, () => undefined);
    await settle();
    abort.abort();
    // The fetches in flight end on the abort (as WebSession.fetch does: it throws).
    for (const finish of [...fake.pending.values()]) finish({ ok: false });
    await run;
    assert.equal(fake.started.length, WEB_WINDOW);
  });
});
