import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { Pacer, ReadBuffers } from '../../src/server/range-sender.js';

describe('range sender', () => {
  test('a connection gets at most two read buffers, reused once given back', async () => {
    const buffers = new ReadBuffers(1024);
    const a = await buffers.take();
    const b = await buffers.take();
    assert.notEqual(a, b);
    let third: Buffer | undefined;
    const waiting = buffers.take().then((buf) => (third = buf));
    await new Promise((r) => setImmediate(r));
    assert.equal(third, undefined, 'a third take waits');
    buffers.give(a);
    await waiting;
    assert.equal(third, a, 'the given-back buffer is reused');
    buffers.give(b);
    assert.equal(await buffers.take(), b);
  });

  test('the pacer spreads bytes over time at the given rate', async () => {
    const pacer = new Pacer(1024 * 1024);
    const t0 = Date.now();
    for (let sent = 0; sent < 256 * 1024; sent += pacer.chunkSize) await pacer.wait(pacer.chunkSize);
    const elapsed = Date.now() - t0;
    // 256 KiB at 1 MiB/s: the last chunk is due after about 200 ms.
    assert.ok(elapsed >= 150, `only ${elapsed} ms`);
  });

  test('a pacer shared by several senders holds them together to its rate', async () => {
    const pacer = new Pacer(1024 * 1024);
    const t0 = Date.now();
    // Four senders of 64 KiB each: 256 KiB in all, so the last chunk is due after about 200 ms.
    await Promise.all(
      [0, 1, 2, 3].map(async () => {
        for (let sent = 0; sent < 64 * 1024; sent += pacer.chunkSize) await pacer.wait(pacer.chunkSize);
      }),
    );
    const elapsed = Date.now() - t0;
    assert.ok(elapsed >= 150, `four senders shared 1 MiB/s yet finished 256 KiB in ${elapsed} ms`);
  });

  test('a pacer shared by many senders gives each a small chunk often, not a full chunk rarely', async () => {
    const pacer = new Pacer(4 * 1024 * 1024); // a full chunk is 1/20 s: about 205 KiB
    const senders = 40;
    const gaps: number[] = [];
    await Promise.all(
      Array.from({ length: senders }, async () => {
        let last = Date.now();
        for (let sent = 0; sent < 64 * 1024;) {
          const chunk = pacer.chunkSize;
          await pacer.wait(chunk);
          sent += chunk;
          gaps.push(Date.now() - last);
          last = Date.now();
        }
      }),
    );
    // 40 senders sharing 4 MiB/s in full chunks would each wait about 2 s between chunks;
    // chunks of 16 KiB come about every 160 ms. Timers only ever fire late, so bound the median.
    const median = gaps.sort((x, y) => x - y)[Math.floor(gaps.length / 2)] ?? 0;
    assert.ok(median < 1000, `a sender waited ${median} ms between chunks (median)`);
  });

  test('an idle pacer saves up at most one chunk, so a pause is not followed by a burst', async () => {
    const pacer = new Pacer(1024 * 1024);
    await new Promise((r) => setTimeout(r, 300)); // idle: 300 KiB of budget would pile up unbounded
    const t0 = Date.now();
    for (let i = 0; i < 6; i++) await pacer.wait(pacer.chunkSize);
    const elapsed = Date.now() - t0;
    // The saved-up chunk and the first go at once; the other four take about 200 ms at 1 MiB/s.
    assert.ok(elapsed >= 150, `six chunks after a pause went out in ${elapsed} ms`);
  });
});
