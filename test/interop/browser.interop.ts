/**
 * `npm run interop`: a real browser against the HTTP face. Headless Chromium
 * renders `/` (the page lists the files with sizes and SHA-256, no script
 * needed) and a click on a link downloads the file, compared byte for byte.
 * Chromium is driven over --remote-debugging-pipe (the DevTools protocol on
 * fds 3 and 4), so no WebSocket client or browser library is needed.
 */
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { readFile, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import type { Readable, Writable } from 'node:stream';
import { describe, test } from 'node:test';
import { havePeer, runPeer } from '../helpers/peers.js';
import { startServer } from '../helpers/server.js';
import { patternBytes, sha256, tempDir, waitFor } from '../helpers/tmp.js';

const CHROMIUM_FLAGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

const files = { 'big file.bin': patternBytes(5 * 1024 * 1024 + 1, 21), 'docs/日本 語.txt': 'bonjour\n' };

/** A DevTools protocol session over Chromium's pipe: NUL-terminated JSON both ways. */
class DevTools {
  private nextId = 1;
  private buffer = '';
  private readonly pending = new Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void }>();
  readonly events: { method: string; params: Record<string, unknown> }[] = [];

  constructor(
    private readonly input: Writable,
    output: Readable,
  ) {
    output.setEncoding('utf8');
    output.on('data', (chunk: string) => {
      this.buffer += chunk;
      for (let end = this.buffer.indexOf('\0'); end >= 0; end = this.buffer.indexOf('\0')) {
        const message = JSON.parse(this.buffer.slice(0, end)) as {
          id?: number;
          result?: unknown;
          error?: { message: string };
          method?: string;
          params?: Record<string, unknown>;
        };
        this.buffer = this.buffer.slice(end + 1);
        if (message.id !== undefined) {
          const waiter = this.pending.get(message.id);
          this.pending.delete(message.id);
          if (message.error) waiter?.reject(new Error(message.error.message));
          else waiter?.resolve(message.result);
        } else if (message.method) {
          this.events.push({ method: message.method, params: message.params ?? {} });
        }
      }
    });
  }

  send<T>(method: string, params: Record<string, unknown> = {}, sessionId?: string): Promise<T> {
    const id = this.nextId++;
    this.input.write(`${JSON.stringify({ id, method, params, ...(sessionId ? { sessionId } : {}) })}\0`);
    return new Promise<T>((resolve, reject) => {
      this.pending.set(id, { resolve: (v) => resolve(v as T), reject });
      setTimeout(() => reject(new Error(`${method}: no answer within 30 s`)), 30_000).unref();
    });
  }
}

function startChromium(
  t: Parameters<typeof tempDir>[0],
  profile: string,
): { browser: ChildProcess; devtools: DevTools } {
  const browser = spawn(
    'chromium',
    [...CHROMIUM_FLAGS, `--user-data-dir=${profile}`, '--remote-debugging-pipe', 'about:blank'],
    {
      stdio: ['ignore', 'ignore', 'pipe', 'pipe', 'pipe'],
    },
  );
  t.after(() => {
    browser.kill('SIGKILL');
  });
  const [, , , toBrowser, fromBrowser] = browser.stdio;
  return { browser, devtools: new DevTools(toBrowser as Writable, fromBrowser as Readable) };
}

describe('a real browser against the HTTP face', () => {
  test('chromium --dump-dom shows every file with its size and SHA-256', async (t) => {
    if (!havePeer(t, 'chromium')) return;
    const s = await startServer(t, files);
    await waitFor(() => s.server.catalog.entries().every((e) => e.sha256), 10_000, 'files hashed');
    const profile = await tempDir(t, 'xfer-chromium-');
    const run = await runPeer(
      'chromium',
      [...CHROMIUM_FLAGS, `--user-data-dir=${profile}`, '--dump-dom', `http://127.0.0.1:${s.port}/`],
      { timeoutMs: 60_000 },
    );
    assert.equal(run.code, 0, run.stderr);
    for (const [name, content] of Object.entries(files)) {
      assert.ok(run.stdout.includes(name), `${name} listed`);
      assert.ok(run.stdout.includes(sha256(Buffer.from(content))), `${name}'s SHA-256 shown`);
    }
    assert.ok(run.stdout.includes('href="/big%20file.bin"'));
    assert.ok(run.stdout.includes('href="/docs/%E6%97%A5%E6%9C%AC%20%E8%AA%9E.txt"'));
    assert.ok(run.stdout.includes('5 MiB'));
  });

  test('a click on a link downloads the file exactly', async (t) => {
    if (!havePeer(t, 'chromium')) return;
    const s = await startServer(t, files);
    const profile = await tempDir(t, 'xfer-chromium-');
    const downloads = await tempDir(t, 'xfer-downloads-');
    const { devtools } = startChromium(t, profile);
    await devtools.send('Browser.setDownloadBehavior', {
      behavior: 'allow',
      downloadPath: downloads,
      eventsEnabled: true,
    });
    const targets = await devtools.send<{ targetInfos: { targetId: string; type: string }[] }>(
      'Target.getTargets',
    );
    const page = targets.targetInfos.find((info) => info.type === 'page');
    assert.ok(page, 'chromium opened a page');
    const { sessionId } = await devtools.send<{ sessionId: string }>('Target.attachToTarget', {
      targetId: page.targetId,
      flatten: true,
    });
    await devtools.send('Page.navigate', { url: `http://127.0.0.1:${s.port}/` }, sessionId);
    const evaluate = async <T>(expression: string) =>
      (
        await devtools.send<{ result: { value: T } }>(
          'Runtime.evaluate',
          { expression, returnByValue: true },
          sessionId,
        )
      ).result.value;
    await waitFor(
      async () =>
        (await evaluate<string>('document.readyState')) === 'complete' &&
        (await evaluate<number>('document.querySelectorAll("tbody tr").length')) === 2,
      20_000,
      'the index loaded',
    );
    const rows = await evaluate<string[][]>(
      '[...document.querySelectorAll("tbody tr")].map((tr) => [...tr.cells].map((c) => c.textContent))',
    );
    assert.deepEqual(
      rows.map((r) => r[0]),
      ['big file.bin', 'docs/日本 語.txt'],
    );

    await evaluate('document.querySelector(\'a[href="/big%20file.bin"]\').click(), true');
    await waitFor(
      () =>
        devtools.events.some(
          (e) => e.method === 'Browser.downloadProgress' && e.params['state'] !== 'inProgress',
        ),
      60_000,
      'the download finished',
    );
    const outcome = devtools.events.find(
      (e) => e.method === 'Browser.downloadProgress' && e.params['state'] !== 'inProgress',
    );
    assert.equal(outcome?.params['state'], 'completed');
    assert.deepEqual(await readdir(downloads), ['big file.bin']);
    assert.equal(sha256(await readFile(join(downloads, 'big file.bin'))), sha256(files['big file.bin']));
  });
});
