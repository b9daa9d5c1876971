import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { WebSession } from '../../../src/client/http/web-session.js';
import type { ClientEvent } from '../../../src/client/events.js';
import { DEFAULT_RETRY_POLICY } from '../../../src/client/retry.js';
import { startServer } from '../../helpers/server.js';
import { patternBytes, sha256, tempDir } from '../../helpers/tmp.js';

describe("xfer's own HTTP face as a web source", () => {
  test('the SHA-256 and piece hashes come from its Metalink; the file is verified by them', async (t) => {
    const data = patternBytes(9 * 1024 * 1024 + 5, 71);
    const server = await startServer(t, { 'big file.bin': data });
    const out = await tempDir(t);
    const events: ClientEvent[] = [];
    const session = new WebSession({
      dataDir: out,
      connections: 4,
      policy: DEFAULT_RETRY_POLICY,
      signal: AbortSignal.timeout(60_000),
      emit: (e) => events.push(e),
    });
    t.after(() => session.close());
    const outcome = await session.fetch(`http://127.0.0.1:${server.port}/big%20file.bin`);
    assert.ok(outcome.ok, JSON.stringify(events.filter((e) => e.type === 'error')));
    const done = events.find((e) => e.type === 'done');
    assert.equal(done?.type === 'done' && done.verified, 'sha256 (Metalink)');
    assert.equal(done?.type === 'done' && done.sha256, sha256(data));
    assert.ok((await readFile(join(out, 'big file.bin'))).equals(data));
  });
});
