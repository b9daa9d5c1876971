import assert from 'node:assert/strict';
import { connect, createServer, type Server, type Socket } from 'node:net';
import { connect as tlsConnect } from 'node:tls';
import { Duplex } from 'node:stream';
import { describe, test, type TestContext } from 'node:test';
import type { ServerLog } from '../../src/server/server.js';
import { proxyV2Header } from '../helpers/proxy-header.js';
import { startServer, type TempServer } from '../helpers/server.js';
import { HAVE_OPENSSL, makePki } from '../helpers/tls.js';
import { waitFor } from '../helpers/tmp.js';

/** `xfer serve --proxy-protocol`, with HAProxy's send-proxy-v2 headers written by the test. */

function logOf(s: TempServer): ServerLog[] {
  const lines: ServerLog[] = [];
  s.server.on('log', (line) => lines.push(line));
  return lines;
}

/** Opens a connection, writes `bytes` in one write, and collects what comes back until `done` or close. */
async function exchange(
  port: number,
  bytes: Buffer,
  done: (text: string) => boolean,
): Promise<{ text: string; socket: Socket; closed: Promise<void> }> {
  const socket = connect(port, '127.0.0.1');
  socket.on('error', () => undefined);
  const closed = new Promise<void>((resolve) => socket.on('close', () => resolve()));
  let text = '';
  socket.on('data', (d: Buffer) => (text += d.toString('latin1')));
  socket.write(bytes);
  await Promise.race([closed, waitFor(() => done(text), 10_000, 'an answer')]);
  return { text, socket, closed };
}

const httpGet = (name: string) => Buffer.from(`GET /${name} HTTP/1.1\r\nHost: x\r\n\r\n`);

/** A TCP relay that starts every connection it carries with `header`: a stand-in balancer. */
async function prepending(t: TestContext, port: number, header: Buffer): Promise<number> {
  const sockets = new Set<Socket>();
  const relay: Server = createServer((client) => {
    const upstream = connect(port, '127.0.0.1');
    for (const s of [client, upstream]) sockets.add(s.on('error', () => undefined));
    upstream.write(header);
    client.pipe(upstream).pipe(client);
  });
  await new Promise<void>((resolve) => relay.listen(0, '127.0.0.1', resolve));
  t.after(() => {
    relay.close();
    sockets.forEach((s) => s.destroy());
  });
  return (relay.address() as { port: number }).port;
}

describe('xfer serve --proxy-protocol', () => {
  test('admission and the log count the client the header names, not the balancer', async (t) => {
    const s = await startServer(
      t,
      { 'f.txt': 'hello' },
      { proxyProtocol: true, limits: { maxConnectionsPerIp: 1 } },
    );
    const log = logOf(s);
    const client = (address: string) =>
      exchange(s.port, Buffer.concat([proxyV2Header({ address, port: 50_000 }), httpGet('f.txt')]), (x) =>
        /hello$|ERR_XFER/.test(x),
      );
    const first = await client('203.0.113.7');
    t.after(() => first.socket.destroy());
    assert.match(first.text, /^HTTP\/1\.1 200 OK[\s\S]*hello$/);
    // Same proxied address: over its cap of 1, although every connection comes from 127.0.0.1.
    const second = await client('203.0.113.7');
    assert.match(second.text, /ERR_XFER_LIMIT/);
    assert.match(second.text, /Too many connections from 203\.0\.113\.7/);
    // Another proxied address from the same balancer is admitted.
    const third = await client('2001:db8:0:0:0:0:0:9');
    t.after(() => third.socket.destroy());
    assert.match(third.text, /^HTTP\/1\.1 200 OK[\s\S]*hello$/);
    const messages = log.map((l) => l.message);
    assert.ok(
      messages.some((m) => m.startsWith('203.0.113.7 "GET /f.txt HTTP/1.1" 200 5 ')),
      messages.join('\n'),
    );
    assert.ok(messages.some((m) => m.startsWith('refused 203.0.113.7: Too many connections')));
    assert.ok(messages.some((m) => m.startsWith('2001:db8:0:0:0:0:0:9 "GET /f.txt')));
    assert.ok(!messages.some((m) => m.includes('127.0.0.1')), 'the balancer address shows nowhere');
  });

  test('the xfer protocol follows the header, and a LOCAL header (a health check) is the balancer itself', async (t) => {
    const s = await startServer(t, { 'a.bin': 'abc' }, { proxyProtocol: true });
    const log = logOf(s);
    for (const header of [proxyV2Header({ address: '198.51.100.20', port: 7 }), proxyV2Header()]) {
      const conn = await s.connect({ port: await prepending(t, s.port, header) });
      assert.deepEqual(
        (await conn.list()).map((e) => e.name),
        ['a.bin'],
      );
      conn.close();
    }
    assert.ok(!log.some((l) => l.level === 'warn'), log.map((l) => l.message).join('\n'));
  });

  test('a connection without a valid header is closed before anything is read, with one warning; a silent one at the deadline', async (t) => {
    const s = await startServer(
      t,
      { 'f.txt': 'hello' },
      { proxyProtocol: true, limits: { handshakeTimeoutMs: 300 } },
    );
    const log = logOf(s);
    for (const bytes of [httpGet('f.txt'), Buffer.from('XFER\x00\x01\x00\x00\x00\x00')]) {
      const { text, closed } = await exchange(s.port, bytes, () => false);
      await closed;
      assert.equal(text, '', 'nothing is answered to a client that skipped the balancer');
    }
    const warnings = log.filter((l) => l.level === 'warn').map((l) => l.message);
    // Two bad connections, one line: repeats within the log window are counted, not printed.
    assert.equal(warnings.length, 1, warnings.join('\n'));
    assert.match(
      warnings[0] ?? '',
      /^127\.0\.0\.1 sent no valid PROXY header: The connection did not start with a PROXY protocol v2 header\.$/,
    );
    const silent = connect(s.port, '127.0.0.1').on('error', () => undefined);
    const started = Date.now();
    await new Promise((resolve) => silent.on('close', resolve));
    assert.ok(Date.now() - started < 5_000, 'closed at the 300 ms deadline, not left open');
  });

  test(
    'TLS after the header, even with the ClientHello in the same packet',
    { skip: !HAVE_OPENSSL && 'openssl is not installed' },
    async (t) => {
      const pki = await makePki(t);
      const s = await startServer(
        t,
        { 'f.txt': 'over tls' },
        { proxyProtocol: true, tls: { cert: pki.cert, key: pki.key } },
      );
      const log = logOf(s);
      const raw = connect(s.port, '127.0.0.1');
      await new Promise((resolve) => raw.once('connect', resolve));
      // The balancer's header and the client's first TLS bytes leave in one write.
      let header: Buffer | undefined = proxyV2Header({ address: '192.0.2.55', port: 1234 });
      const wire = new Duplex({
        read() {},
        write(chunk: Buffer, _encoding, callback) {
          raw.write(header ? Buffer.concat([header, chunk]) : chunk, callback);
          header = undefined;
        },
      });
      raw.on('data', (d: Buffer) => wire.push(d));
      raw.on('close', () => wire.push(null));
      const secure = tlsConnect({ socket: wire, ca: pki.caCert, servername: 'localhost' });
      t.after(() => raw.destroy());
      await new Promise((resolve, reject) => secure.once('secureConnect', resolve).once('error', reject));
      let text = '';
      secure.on('data', (d: Buffer) => (text += d.toString()));
      secure.write(httpGet('f.txt'));
      await waitFor(() => text.endsWith('over tls'), 10_000, 'the HTTPS answer');
      assert.match(text, /^HTTP\/1\.1 200 OK/);
      await waitFor(
        () => log.some((l) => l.message.startsWith('192.0.2.55 "GET /f.txt')),
        5_000,
        'the access line',
      );
    },
  );
});
