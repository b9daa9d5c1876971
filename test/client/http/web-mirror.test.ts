import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, test, type TestContext } from 'node:test';
import type { ClientEvent } from '../../../src/client/events.js';
import { WebClient } from '../../../src/client/http/web-client.js';
import { WebMirror } from '../../../src/client/http/web-mirror.js';
import { WebSession } from '../../../src/client/http/web-session.js';
import { DEFAULT_RETRY_POLICY } from '../../../src/client/retry.js';
import { startNginx, type TestNginx } from '../../helpers/nginx.js';
import { Relay } from '../../helpers/relay.js';
import { startServer } from '../../helpers/server.js';
import { eventsOf, newSession } from '../../helpers/session.js';
import { patternBytes, sha256, tempDir } from '../../helpers/tmp.js';
import { sendFile, startWebServer, type WebFile } from '../../helpers/web-server.js';

const MiB = 1024 * 1024;
const QUICK = { ...DEFAULT_RETRY_POLICY, baseDelayMs: 20, maxDelayMs: 100, stallTimeoutMs: 5000 };

const reprDigest = (data: Buffer) => ({
  'repr-digest': `sha-256=:${createHash('sha256').update(data).digest('base64')}:`,
});

/** Web mirrors over one web client, closed when the test ends. */
function webMirrors(t: TestContext, urls: string[]): WebMirror[] {
  const client = new WebClient({ connections: 4, stallTimeoutMs: 5000 });
  t.after(() => client.close());
  return urls.map((url) =>
    WebMirror.fromUrl(client, url, { connections: 4, signal: AbortSignal.timeout(60_000) }),
  );
}

/** nginx serving `content` as big.bin (with its Repr-Digest when `digest`), paced by a relay so every source gets work. */
async function pacedNginx(t: TestContext, content: Buffer, digest: boolean) {
  const header = digest ? `add_header Repr-Digest "${reprDigest(content)['repr-digest']}";` : '';
  const nginx = await startNginx(t, { config: header });
  if (!nginx) return undefined;
  await writeFile(join(nginx.root, 'big.bin'), content);
  const relay = await Relay.start(Number(new URL(nginx.base).port), () => ({ rateBytesPerSec: 8 * MiB }));
  t.after(() => relay.close());
  return { nginx, relay, base: `http://127.0.0.1:${relay.port}/` };
}

/** A web server answering under /NAME/big.bin with the file `files[NAME]` (or 200s only, for `whole`). */
async function hostileWeb(t: TestContext, files: Record<string, WebFile>) {
  const web = await startWebServer(t, (req, res) => {
    const [, dir = '', name] = (req.url ?? '').split('/');
    const file = files[dir];
    if (!file || name !== 'big.bin') return res.writeHead(404).end();
    if (dir === 'whole')
      return res.writeHead(200, { ...file.headers, 'content-length': file.data.length }).end(file.data);
    sendFile(req, res, file);
  });
  return { web, url: (dir: string) => `${web.origin}/${dir}/` };
}

function rangeRequests(nginx: TestNginx) {
  return nginx.requests().then((log) => log.filter((r) => r.status === 206));
}

describe('web mirrors beside an xfer server', () => {
  test('an xfer server and an nginx folder with the same Repr-Digest share the file; hostile web mirrors are left out or dropped', async (t) => {
    const content = patternBytes(24 * MiB + 11, 41);
    const a = await startServer(t, { 'big.bin': content });
    const ra = await Relay.start(a.port, () => ({ rateBytesPerSec: 8 * MiB }));
    t.after(() => ra.close());
    const paced = await pacedNginx(t, content, true);
    if (!paced) return;
    const other = patternBytes(content.length, 42);
    const short = content.subarray(0, content.length - 1);
    const { url } = await hostileWeb(t, {
      other: { data: other, etag: '"o"', headers: reprDigest(other) },
      short: { data: short, etag: '"s"', headers: reprDigest(short) },
      plain: { data: content, etag: '"p"' },
      whole: { data: content, etag: '"w"', headers: reprDigest(content) },
      // Claims the file's SHA-256 and serves other bytes: caught at its first piece by the xfer server's piece hashes.
      liar: { data: other, etag: '"l"', headers: reprDigest(content) },
    });
    const mirrorUrls = [paced.base, url('other'), url('short'), url('plain'), url('whole'), url('liar')];
    const run = await newSession(t, ra.port, { otherMirrors: webMirrors(t, mirrorUrls), policy: QUICK });
    assert.deepEqual(await run.session.fetch('big.bin'), { ok: true });
    assert.equal(sha256(await readFile(join(run.dataDir, 'big.bin'))), sha256(content));

    const verdicts = new Map(eventsOf(run.events, 'source').map((e) => [e.source, [e.status, e.code]]));
    assert.deepEqual(
      Object.fromEntries(verdicts),
      Object.fromEntries([
        [url('other'), ['left-out', 'ERR_XFER_CHANGED']],
        [url('short'), ['left-out', 'ERR_XFER_CHANGED']],
        [url('plain'), ['left-out', 'ERR_XFER_NO_DIGEST']],
        [url('whole'), ['left-out', 'ERR_XFER_HTTP_RANGE']],
        [url('liar'), ['dropped', 'ERR_XFER_CORRUPT']],
      ]),
    );
    for (const e of eventsOf(run.events, 'source')) {
      assert.ok(e.message.includes(e.source), e.message);
      assert.ok(!e.message.includes('\n'), 'one line');
    }
    // Both honest sources carried bytes, and the parts say where each came from.
    const primary = `127.0.0.1:${ra.port}`;
    const start = eventsOf(run.events, 'start')[0];
    const partSources = new Set(start?.parts.map((p) => p.source));
    for (const s of [primary, paced.base, url('liar')])
      assert.ok(partSources.has(s), `${s} in ${[...partSources].join(' ')}`);
    const last = eventsOf(run.events, 'progress').at(-1);
    const bytes = new Map(last?.sources.map((s) => [s.source, s.bytes]));
    assert.ok((bytes.get(primary) ?? 0) > MiB, `primary wrote ${bytes.get(primary)}`);
    assert.ok((bytes.get(paced.base) ?? 0) > MiB, `nginx wrote ${bytes.get(paced.base)}`);
    assert.ok((await rangeRequests(paced.nginx)).length >= 2, 'nginx answered range requests');
  });
});

describe('WebMirror', () => {
  test('a folder mirror asks for each name percent-encoded segment by segment, never above the folder', async (t) => {
    const data = patternBytes(3 * MiB, 47);
    const web = await startWebServer(t, (req, res) =>
      sendFile(req, res, { data, etag: '"x"', headers: reprDigest(data) }),
    );
    const [folder, file] = webMirrors(t, [`${web.origin}/pub/`, `${web.origin}/one.bin`]);
    assert.ok(folder && file);
    const identity = { size: data.length, mtimeUs: 0, sha256: createHash('sha256').update(data).digest() };
    const context = { firstSlot: 0, userChecksum: false };
    const source = await folder.sourceFor({ name: 'a b/c#?.bin', identity, pieceSize: MiB }, context);
    assert.equal(source.label, `${web.origin}/pub/`);
    assert.equal(web.requests.at(-1)?.url, '/pub/a%20b/c%23%3F.bin');
    await assert.rejects(folder.sourceFor({ name: '../x.bin', identity, pieceSize: MiB }, context), {
      code: 'ERR_XFER_NAME',
    });
    // A file URL is asked as it is, whatever the name.
    await file.sourceFor({ name: 'other.bin', identity, pieceSize: MiB }, context);
    assert.equal(web.requests.at(-1)?.url, '/one.bin');
  });
});

describe('xfer get URL --mirror URL (WebSession)', () => {
  async function fetchWithMirrors(
    t: TestContext,
    url: string,
    mirrors: string[],
    checksum?: Buffer,
    headers: [string, string][] = [],
  ) {
    const out = await tempDir(t, 'xfer-web-mirrors-');
    const events: ClientEvent[] = [];
    const session = new WebSession({
      dataDir: join(out, 'data'),
      connections: 4,
      policy: QUICK,
      signal: AbortSignal.timeout(60_000),
      emit: (e) => events.push(e),
      mirrors,
      headers,
    });
    t.after(() => session.close());
    const outcome = await session.fetch(url, checksum ? { checksum } : {});
    return { outcome, events, read: () => readFile(join(out, 'data', 'big.bin')) };
  }

  test('with the SHA-256 given, a mirror without a digest joins; both serve ranges', async (t) => {
    const content = patternBytes(24 * MiB + 3, 43);
    const paced = await pacedNginx(t, content, false);
    if (!paced) return;
    const { web, url } = await hostileWeb(t, { plain: { data: content, etag: '"p"' } });
    const sum = createHash('sha256').update(content).digest();
    const headers: [string, string][] = [
      ['Authorization', 'Bearer for-the-primary'],
      ['X-Note', 'any'],
    ];
    const r = await fetchWithMirrors(t, `${paced.base}big.bin`, [url('plain')], sum, headers);
    assert.deepEqual(r.outcome, { ok: true });
    // The user's credentials go to the first source only; other headers go to the mirror too.
    assert.ok(web.requests.length > 0);
    for (const q of web.requests) {
      assert.equal(q.headers.authorization, undefined);
      assert.equal(q.headers['x-note'], 'any');
    }
    assert.equal(sha256(await r.read()), sha256(content));
    assert.equal(eventsOf(r.events, 'source').length, 0);
    assert.equal(eventsOf(r.events, 'done')[0]?.verified, 'sha256 (checksum)');
    assert.ok((await rangeRequests(paced.nginx)).length >= 2, 'the primary served ranges');
    assert.ok(
      web.requests.filter((q) => q.headers.range !== undefined).length >= 2,
      'the mirror served ranges',
    );
    const parts = eventsOf(r.events, 'start')[0]?.parts ?? [];
    assert.ok(parts.some((p) => p.source === url('plain')));
  });

  test('a folder mirror is asked for the last segment of the URL, not the name on disk', async (t) => {
    const content = patternBytes(3 * MiB, 48);
    const primary = await startWebServer(t, (req, res) =>
      sendFile(req, res, {
        data: content,
        etag: '"a"',
        headers: { ...reprDigest(content), 'content-disposition': 'attachment; filename="renamed.bin"' },
      }),
    );
    const { web, url } = await hostileWeb(t, {
      digest: { data: content, etag: '"d"', headers: reprDigest(content) },
    });
    const r = await fetchWithMirrors(t, `${primary.origin}/dl/big.bin`, [url('digest')]);
    assert.deepEqual(r.outcome, { ok: true });
    assert.equal(eventsOf(r.events, 'source').length, 0);
    assert.ok(web.requests.some((q) => q.url === '/digest/big.bin'));
    assert.ok(eventsOf(r.events, 'done').some((e) => e.file === 'renamed.bin'));
  });

  test('without piece hashes, a mirror serving other bytes fails the whole-file check; the file is fetched again from the primary alone', async (t) => {
    const content = patternBytes(24 * MiB, 44);
    const paced = await pacedNginx(t, content, false);
    if (!paced) return;
    const { url } = await hostileWeb(t, { liar: { data: patternBytes(content.length, 45), etag: '"l"' } });
    const sum = createHash('sha256').update(content).digest();
    const r = await fetchWithMirrors(t, `${paced.base}big.bin`, [url('liar')], sum);
    assert.deepEqual(r.outcome, { ok: true });
    assert.equal(sha256(await r.read()), sha256(content));
    const [repair] = eventsOf(r.events, 'repair');
    assert.match(repair?.message ?? '', new RegExp(`from ${paced.base.replace(/[.]/g, '\\.')} alone`));
    // Once the file passed, the pieces whose bytes changed show who served them: the mirror, named after the fact.
    const dropped = eventsOf(r.events, 'source');
    assert.deepEqual(
      dropped.map((e) => [e.source, e.status, e.code]),
      [[url('liar'), 'dropped', 'ERR_XFER_CORRUPT']],
    );
    assert.match(dropped[0]?.message ?? '', /differ from the verified file/);
  });

  test('a mirror is used only when its SHA-256 is known to be the primary’s', async (t) => {
    const content = patternBytes(12 * MiB, 46);
    const paced = await pacedNginx(t, content, true);
    if (!paced) return;
    const { url } = await hostileWeb(t, {
      bare: { data: content, etag: '"b"' },
      digest: { data: content, etag: '"d"', headers: reprDigest(content) },
    });
    // The primary gives no digest and none is given: nothing shows the mirror's copy is the same.
    const unknown = await fetchWithMirrors(t, `${url('bare')}big.bin`, [paced.base]);
    assert.deepEqual(unknown.outcome, { ok: true });
    assert.equal(eventsOf(unknown.events, 'done')[0]?.verified, 'size only');
    const [left] = eventsOf(unknown.events, 'source');
    assert.deepEqual(
      [left?.status, left?.code, left?.source],
      ['left-out', 'ERR_XFER_NO_DIGEST', paced.base],
    );
    // Both give the same Repr-Digest: the mirror joins.
    const known = await fetchWithMirrors(t, `${url('digest')}big.bin`, [paced.base]);
    assert.deepEqual(known.outcome, { ok: true });
    assert.equal(sha256(await known.read()), sha256(content));
    assert.equal(eventsOf(known.events, 'source').length, 0);
    assert.ok(eventsOf(known.events, 'start')[0]?.parts.some((p) => p.source === paced.base));
  });
});
