import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { SPEED_WINDOW_MS, SpeedMeter } from '../../src/client/speed-meter.js';
import { Relay } from '../helpers/relay.js';
import { startServer } from '../helpers/server.js';
import { eventsOf, newSession } from '../helpers/session.js';
import { patternBytes, waitFor } from '../helpers/tmp.js';

const MiB = 1024 * 1024;

describe('speed', () => {
  test('the meter measures the bytes of the recent window only', () => {
    const meter = new SpeedMeter();
    assert.equal(meter.sample(0, 0), 0);
    assert.equal(meter.sample(1000, MiB), MiB);
    // Much later, at a quarter of the rate: the early samples have left the window.
    for (let at = 2000; at <= 2000 + 2 * SPEED_WINDOW_MS; at += 500)
      meter.sample(at, MiB + ((at - 1000) * MiB) / 4000);
    const last = meter.sample(
      2000 + 2 * SPEED_WINDOW_MS + 500,
      MiB + ((1000 + 2 * SPEED_WINDOW_MS + 500) * MiB) / 4000,
    );
    assert.equal(last, MiB / 4);
  });

  test('fewer bytes than before (pieces dropped for a repair) start a fresh measurement', () => {
    const meter = new SpeedMeter();
    meter.sample(0, 0);
    meter.sample(1000, 10 * MiB);
    assert.equal(meter.sample(1100, MiB), 0);
    assert.equal(meter.sample(2100, 2 * MiB), MiB);
  });

  test('after a resume, speed counts only this run: the first progress carries the resumed bytes, done its own rate', async (t) => {
    const size = 32 * MiB;
    const s = await startServer(t, { f: patternBytes(size, 31) });
    const relay = await Relay.start(s.port, () => ({ rateBytesPerSec: 16 * MiB }));
    t.after(() => relay.close());
    const first = await newSession(t, relay.port);
    const fetching = first.session.fetch('f');
    await waitFor(() => relay.bytesToClient >= size / 2, 20_000, 'half the file');
    first.controller.abort();
    await assert.rejects(fetching, { code: 'ERR_XFER_ABORTED' });
    first.session.close();

    const second = await newSession(t, relay.port, { dataDir: first.dataDir });
    assert.ok((await second.session.fetch('f')).ok);
    const resumed = eventsOf(second.events, 'resume')[0]?.verifiedBytes ?? 0;
    assert.ok(resumed >= size / 4, `resumed ${resumed} bytes`);
    const start = eventsOf(second.events, 'start')[0];
    assert.equal(start?.resumedBytes, resumed);
    const progress = eventsOf(second.events, 'progress');
    assert.equal(progress[0]?.bytes, resumed, 'the first progress event says what is already there');
    assert.equal(progress[0]?.parts.length, start?.parts.length, '... with every part');
    const done = eventsOf(second.events, 'done')[0];
    assert.ok(done);
    // This run brought size - resumed bytes: that, not the whole file, is what the speed counts.
    const counted = done.bytesPerSecond * done.seconds;
    assert.ok(Math.abs(counted - (size - resumed)) <= 0.01 * size, `counted ${counted} of ${size - resumed}`);
  });
});
