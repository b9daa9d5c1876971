import assert from 'node:assert/strict';
import { createServer, type Socket } from 'node:net';
import { describe, test, type TestContext } from 'node:test';
import { RangeSockets } from '../../../src/client/http/range-socket.js';
import type { AnswerHandler } from '../../../src/client/http/web-dispatch.js';
import { patternBytes, waitFor } from '../../helpers/tmp.js';

const data = patternBytes(300_000, 21);

/** A request as the raw server saw it: its head, and the connection it came on. */
interface Seen {
  head: string;
  connection: number;
  socket: Socket;
}

/**
 * A TCP server that hands each HTTP request head to `answer`, which writes
 * whatever raw bytes the test wants. Closed with its connections when the test ends.
 */
async function rawServer(t: TestContext, answer: (r: Seen) => void) {
  const seen: Seen[] = [];
  const sockets = new Set<Socket>();
  let connections = 0;
  const server = createServer((socket) => {
    const connection = ++connections;
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => undefined);
    let pending = '';
    socket.on('data', (d: Buffer) => {
      pending += d.toString('latin1');
      for (let end = pending.indexOf('\r\n\r\n'); end >= 0; end = pending.indexOf('\r\n\r\n')) {
        const r = { head: pending.slice(0, end), connection, socket };
        pending = pending.slice(end + 4);
        seen.push(r);
        answer(r);
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.after(async () => {
    for (const s of sockets) s.destroy();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });
  const { port } = server.address() as { port: number };
  return { url: new URL(`http://127.0.0.1:${port}/f.bin`), seen, connections: () => connections };
}

/** `bytes=A-B` of a request head. */
function rangeOf(head: string): { start: number; end: number } {
  const m = /\r\nrange: bytes=(\d+)-(\d+)/i.exec(head);
  assert.ok(m, head);
  return { start: Number(m[1]), end: Number(m[2]) };
}

function partialHead(start: number, end: number, extra = ''): string {
  return (
    `HTTP/1.1 206 Partial Content\r\ncontent-range: bytes ${start}-${end}/${data.length}\r\n` +
    `content-length: ${end - start + 1}\r\n${extra}\r\n`
  );
}

/** An honest 206 for the range asked, written in pieces so the head and body cross reads. */
function honest(r: Seen): void {
  const { start, end } = rangeOf(r.head);
  const body = data.subarray(start, end + 1);
  const head = partialHead(start, end);
  r.socket.write(head.slice(0, 7));
  r.socket.write(head.slice(7) + body.subarray(0, 10).toString('latin1'), 'latin1');
  r.socket.write(body.subarray(10));
}

/** A handler that collects what it is given, checking nothing. */
function collector() {
  const got = Buffer.alloc(data.length);
  const state = { status: 0, at: 0, ended: false };
  const handler = (start: number): AnswerHandler => {
    state.at = start;
    return {
      onAnswer: (status) => (state.status = status),
      onBody: (chunk) => {
        chunk.copy(got, state.at);
        state.at += chunk.length;
        return 0;
      },
      onEnd: () => (state.ended = true),
    };
  };
  return { got, state, handler };
}

function sockets(t: TestContext, max = 4, stallMs = 5000, idleMs?: number): RangeSockets {
  const s = new RangeSockets({ maxPerOrigin: max, stallTimeoutMs: stallMs, ...(idleMs ? { idleMs } : {}) });
  t.after(() => s.close());
  return s;
}

const signal = () => AbortSignal.timeout(10_000);

describe('RangeSockets: range GETs over our own plain-HTTP connections', () => {
  test('a 206 reaches the handler whole, head split across reads; the connection is kept alive and reused', async (t) => {
    const server = await rawServer(t, honest);
    const s = sockets(t);
    const c = collector();
    for (const [start, end] of [
      [0, 99_999],
      [100_000, 299_999],
    ] as const) {
      const done = await s.get(server.url, { range: `bytes=${start}-${end}` }, signal(), c.handler(start));
      assert.equal(done, true);
      assert.equal(c.state.status, 206);
      assert.equal(c.state.ended, true);
    }
    assert.ok(c.got.equals(data));
    assert.equal(server.connections(), 1, 'the second range went over the first connection');
    assert.match(server.seen[0]?.head ?? '', /^GET \/f\.bin HTTP\/1\.1\r\nhost: 127\.0\.0\.1:\d+\r\n/);
  });

  test('an idle connection is closed after the keep-alive time, and the next request opens another', async (t) => {
    let closed = 0;
    const server = await rawServer(t, (r) => {
      r.socket.once('close', () => closed++);
      honest(r);
    });
    const s = sockets(t, 4, 5000, 100);
    await s.get(server.url, { range: 'bytes=0-999' }, signal(), collector().handler(0));
    await waitFor(() => closed === 1, 5000, 'the idle connection closed');
    assert.equal(await s.get(server.url, { range: 'bytes=0-999' }, signal(), collector().handler(0)), true);
    assert.equal(server.connections(), 2);
  });

  test('no more than maxPerOrigin connections at once: further requests wait for a free one', async (t) => {
    let open = 0;
    let peak = 0;
    const server = await rawServer(t, (r) => {
      peak = Math.max(peak, ++open);
      setTimeout(() => {
        open--;
        honest(r);
      }, 30);
    });
    const s = sockets(t, 2);
    const parts = Array.from({ length: 6 }, (_, i) => i * 50_000);
    await Promise.all(
      parts.map((start) =>
        s.get(
          server.url,
          { range: `bytes=${start}-${start + 49_999}` },
          signal(),
          collector().handler(start),
        ),
      ),
    );
    assert.equal(peak, 2);
    assert.equal(server.connections(), 2);
  });

  test('anything but a plain 206 with a Content-Length is left to undici: the handler sees nothing', async (t) => {
    const answers = [
      'HTTP/1.1 200 OK\r\ncontent-length: 3\r\n\r\nabc',
      'HTTP/1.1 302 Found\r\nlocation: /elsewhere\r\ncontent-length: 0\r\n\r\n',
      'HTTP/1.1 206 Partial Content\r\ncontent-range: bytes 0-2/300000\r\ntransfer-encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n',
      'HTTP/1.1 206 Partial Content\r\ncontent-range: bytes 0-2/300000\r\n\r\nabc',
      'HTTP/1.1 206 Partial Content\r\n folded: header\r\ncontent-length: 3\r\n\r\nabc',
      'HTTP/1.1 206 Partial Content\r\nx-etag: caf\u00e9\r\ncontent-length: 3\r\n\r\nabc',
      `HTTP/1.1 206 Partial Content\r\nx-big: ${'a'.repeat(20_000)}\r\ncontent-length: 3\r\n\r\nabc`,
      'HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 206 Partial Content\r\ncontent-length: 3\r\n\r\nabc',
      'ICY 206 OK\r\ncontent-length: 3\r\n\r\nabc',
    ];
    for (const raw of answers) {
      const server = await rawServer(t, (r) => r.socket.write(raw, 'latin1'));
      const s = sockets(t);
      const c = collector();
      assert.equal(s.serves(server.url), true);
      assert.equal(await s.get(server.url, { range: 'bytes=0-2' }, signal(), c.handler(0)), false, raw);
      assert.equal(c.state.status, 0, raw);
      assert.equal(c.state.at, 0, raw);
      assert.equal(s.serves(server.url), false, 'that origin now goes to undici');
    }
  });

  test('https, and header values it does not send plainly, are not for this path', async (t) => {
    const s = sockets(t);
    assert.equal(s.serves(new URL('https://127.0.0.1:1/f')), false);
    const server = await rawServer(t, honest);
    const c = collector();
    const odd = { range: 'bytes=0-9', 'x-name': 'caf\u00e9' };
    assert.equal(await s.get(server.url, odd, signal(), c.handler(0)), false);
    assert.equal(server.seen.length, 0, 'nothing was sent');
  });

  test('a kept-alive connection the server closed meanwhile is replaced once, unseen by the caller', async (t) => {
    // Each connection answers its first request only; the next one finds it closed, not a byte said.
    const answered = new Set<number>();
    const server = await rawServer(t, (r) => {
      if (answered.has(r.connection)) return r.socket.destroy();
      answered.add(r.connection);
      honest(r);
    });
    const s = sockets(t);
    const c = collector();
    await s.get(server.url, { range: 'bytes=0-999' }, signal(), c.handler(0));
    assert.equal(await s.get(server.url, { range: 'bytes=1000-1999' }, signal(), c.handler(1000)), true);
    assert.ok(c.got.subarray(0, 2000).equals(data.subarray(0, 2000)));
    assert.equal(server.connections(), 2);
  });

  test('a body cut short: the handler gets the bytes that came and says what is missing; a silent server times out', async (t) => {
    const short = await rawServer(t, (r) => {
      r.socket.write(partialHead(0, 9999));
      r.socket.end(data.subarray(0, 4000));
    });
    const c = collector();
    const handler: AnswerHandler = {
      ...c.handler(0),
      onEnd: () => {
        throw Object.assign(new Error(`got ${c.state.at}`), { code: 'ECONNRESET' });
      },
    };
    await assert.rejects(sockets(t).get(short.url, { range: 'bytes=0-9999' }, signal(), handler), {
      code: 'ERR_XFER_CLOSED',
      message: /got 4000/,
    });
    const silent = await rawServer(t, (r) => r.socket.write(partialHead(0, 9999)));
    const started = Date.now();
    await assert.rejects(
      sockets(t, 4, 200).get(silent.url, { range: 'bytes=0-9999' }, signal(), collector().handler(0)),
      { code: 'ERR_XFER_TIMEOUT' },
    );
    assert.ok(Date.now() - started < 5000);
  });

  test('bytes past the Content-Length end the answer there, and that connection is not used again', async (t) => {
    const server = await rawServer(t, (r) => {
      const { start, end } = rangeOf(r.head);
      r.socket.write(
        Buffer.concat([
          Buffer.from(partialHead(start, end)),
          data.subarray(start, end + 1),
          Buffer.from('junk'),
        ]),
      );
    });
    const s = sockets(t);
    const c = collector();
    await s.get(server.url, { range: 'bytes=0-999' }, signal(), c.handler(0));
    assert.equal(c.state.at, 1000);
    await s.get(server.url, { range: 'bytes=1000-1999' }, signal(), c.handler(1000));
    assert.ok(c.got.subarray(0, 2000).equals(data.subarray(0, 2000)));
    assert.equal(server.connections(), 2);
  });

  test('a rate wait pauses reading, and the answer ends only after it; an abort ends the request at once', async (t) => {
    const server = await rawServer(t, honest);
    const s = sockets(t);
    const c = collector();
    const plain = c.handler(0);
    const waited: AnswerHandler = {
      ...plain,
      onBody: (chunk) => {
        plain.onBody(chunk);
        return 200;
      },
    };
    const started = Date.now();
    await s.get(server.url, { range: 'bytes=0-999' }, signal(), waited);
    assert.ok(c.got.subarray(0, 1000).equals(data.subarray(0, 1000)));
    assert.ok(Date.now() - started >= 190, `ended after ${Date.now() - started} ms`);
    const stalled = await rawServer(t, (r) => r.socket.write(partialHead(0, 9999)));
    const abort = new AbortController();
    const pending = s.get(stalled.url, { range: 'bytes=0-9999' }, abort.signal, collector().handler(0));
    setTimeout(() => abort.abort(new Error('stop')), 50);
    await assert.rejects(pending);
  });
});
