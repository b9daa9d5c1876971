import assert from 'node:assert/strict';
import { createServer, type IncomingMessage } from 'node:http';
import { connect, type Socket } from 'node:net';
import { describe, test } from 'node:test';
import {
  WebClient,
  parseHeaderOption,
  shownUrl,
  splitCredentials,
} from '../../../src/client/http/web-client.js';
import { MAX_REDIRECTS, webRequest } from '../../../src/client/http/web-request.js';
import { HAVE_OPENSSL, makePki } from '../../helpers/tls.js';
import { startWebServer } from '../../helpers/web-server.js';

function client(
  t: { after(fn: () => unknown): void },
  extra: Partial<ConstructorParameters<typeof WebClient>[0]> = {},
): WebClient {
  const c = new WebClient({ connections: 4, stallTimeoutMs: 5000, ...extra });
  t.after(() => c.close());
  return c;
}

const GET = { method: 'GET' as const, headers: {}, signal: AbortSignal.timeout(20_000) };

describe('web requests', () => {
  test('follows up to 10 redirects, relative ones included, and says where the answer came from', async (t) => {
    const web = await startWebServer(t, (req, res) => {
      const n = Number(/^\/r(\d+)$/.exec(req.url ?? '')?.[1] ?? -1);
      if (n > 0) res.writeHead(302, { location: `r${n - 1}` }).end();
      else res.writeHead(200).end('done');
    });
    const answer = await webRequest(
      client(t),
      { url: new URL(`${web.origin}/r${MAX_REDIRECTS}`), authorization: undefined },
      GET,
    );
    assert.equal(answer.status, 200);
    assert.equal(await answer.body.text(), 'done');
    assert.equal(answer.url.pathname, '/r0');
  });

  test('a redirect loop ends with ERR_XFER_REDIRECT after 10 hops', async (t) => {
    const web = await startWebServer(t, (_req, res) => res.writeHead(301, { location: '/loop' }).end());
    await assert.rejects(
      webRequest(client(t), { url: new URL(`${web.origin}/loop`), authorization: undefined }, GET),
      {
        code: 'ERR_XFER_REDIRECT',
      },
    );
    assert.equal(web.requests.length, MAX_REDIRECTS + 1);
  });

  test('a redirect to another scheme is refused', async (t) => {
    const web = await startWebServer(t, (_req, res) =>
      res.writeHead(302, { location: 'file:///etc/passwd' }).end(),
    );
    await assert.rejects(
      webRequest(client(t), { url: new URL(`${web.origin}/x`), authorization: undefined }, GET),
      {
        code: 'ERR_XFER_REDIRECT',
      },
    );
  });

  test(
    'https to http is refused; the extra CA is trusted for https',
    { skip: !HAVE_OPENSSL && 'openssl is missing' },
    async (t) => {
      const plain = await startWebServer(t, (_req, res) => res.writeHead(200).end('plain'));
      const pki = await makePki(t);
      const secure = await startWebServer(
        t,
        (req, res) =>
          req.url === '/ok'
            ? res.writeHead(200).end('secure')
            : res.writeHead(302, { location: `${plain.origin}/x` }).end(),
        { cert: pki.cert, key: pki.key },
      );
      const c = client(t, { ca: pki.caCert.toString() });
      const ok = await webRequest(c, { url: new URL(`${secure.origin}/ok`), authorization: undefined }, GET);
      assert.equal(await ok.body.text(), 'secure');
      await assert.rejects(
        webRequest(c, { url: new URL(`${secure.origin}/down`), authorization: undefined }, GET),
        {
          code: 'ERR_XFER_REDIRECT',
          message: /https to plain http/,
        },
      );
      assert.equal(plain.requests.length, 0);
      // Without the CA the same server is a TLS failure.
      await assert.rejects(
        webRequest(client(t), { url: new URL(`${secure.origin}/ok`), authorization: undefined }, GET),
        {
          code: 'ERR_XFER_TLS',
        },
      );
    },
  );

  test('user:pass@ becomes Authorization, sent only to its origin; user headers go along', async (t) => {
    const other = await startWebServer(t, (_req, res) => res.writeHead(200).end('other'));
    const web = await startWebServer(t, (_req, res) =>
      res.writeHead(302, { location: `${other.origin}/y` }).end(),
    );
    const { url, authorization } = splitCredentials(
      new URL(web.origin.replace('//', '//al%40ice:s%3Acret@') + '/x'),
    );
    assert.equal(url.username, '');
    assert.ok(!shownUrl(new URL(web.origin.replace('//', '//al:pw@'))).includes('pw'));
    const c = client(t, { headers: [parseHeaderOption('X-Trace: abc'), parseHeaderOption('Cookie: s=1')] });
    await (await webRequest(c, { url, authorization }, GET)).body.dump();
    assert.equal(
      web.requests[0]?.headers.authorization,
      `Basic ${Buffer.from('al@ice:s:cret').toString('base64')}`,
    );
    assert.equal(web.requests[0]?.headers['x-trace'], 'abc');
    assert.equal(web.requests[0]?.headers.cookie, 's=1');
    assert.equal(other.requests[0]?.headers.authorization, undefined);
    assert.equal(other.requests[0]?.headers.cookie, undefined);
    assert.equal(other.requests[0]?.headers['x-trace'], 'abc');
  });

  test('--header values are checked: no injection, no headers xfer sets itself', () => {
    assert.deepEqual(parseHeaderOption('Accept:  text/plain '), ['Accept', 'text/plain']);
    for (const bad of ['NoColon', 'Bad Name: x', 'X: a\r\nInjected: 1', 'Range: bytes=0-', 'Host: evil']) {
      assert.throws(() => parseHeaderOption(bad), { code: 'ERR_XFER_USAGE' }, bad);
    }
  });

  test('HTTP_PROXY carries requests through the proxy (a CONNECT tunnel), NO_PROXY exempts hosts', async (t) => {
    const target = await startWebServer(t, (_req, res) => res.writeHead(200).end('hello'));
    const tunnels: string[] = [];
    const proxy = createServer();
    proxy.on('connect', (req: IncomingMessage, client: Socket, head: Buffer) => {
      tunnels.push(req.url ?? '');
      const [host, port] = (req.url ?? '').split(':');
      const upstream = connect(Number(port), host, () => {
        client.write('HTTP/1.1 200 Connection Established\r\n\r\n');
        upstream.write(head);
        upstream.pipe(client).pipe(upstream);
      });
      upstream.on('error', () => client.destroy());
      client.on('error', () => upstream.destroy());
    });
    await new Promise<void>((resolve) => proxy.listen(0, '127.0.0.1', resolve));
    t.after(() => {
      proxy.closeAllConnections();
      return new Promise<void>((resolve) => proxy.close(() => resolve()));
    });
    const saved = { HTTP_PROXY: process.env['HTTP_PROXY'], NO_PROXY: process.env['NO_PROXY'] };
    t.after(() => {
      for (const [k, v] of Object.entries(saved)) {
        if (v === undefined) delete process.env[k];
        else process.env[k] = v;
      }
    });
    process.env['HTTP_PROXY'] = `http://127.0.0.1:${(proxy.address() as { port: number }).port}`;
    process.env['NO_PROXY'] = '';
    const via = await webRequest(
      client(t),
      { url: new URL(`${target.origin}/f`), authorization: undefined },
      GET,
    );
    assert.equal(await via.body.text(), 'hello');
    assert.deepEqual(tunnels, [target.origin.replace('http://', '')]);
    process.env['NO_PROXY'] = '127.0.0.1';
    const direct = await webRequest(
      client(t),
      { url: new URL(`${target.origin}/f`), authorization: undefined },
      GET,
    );
    assert.equal(await direct.body.text(), 'hello');
    assert.equal(tunnels.length, 1);
  });
});
