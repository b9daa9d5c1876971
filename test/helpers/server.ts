import { randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import type { TestContext } from 'node:test';
import { ClientConnection, type ConnectOptions } from '../../src/client/connection.js';
import type { HttpLimits } from '../../src/server/http/face.js';
import type { ServerLimits } from '../../src/server/limits.js';
import { XferServer } from '../../src/server/server.js';

export interface TempServer {
  server: XferServer;
  root: string;
  resources: string;
  port: number;
  connect(extra?: Partial<ConnectOptions>): Promise<ClientConnection>;
}

/** A real xfer server on 127.0.0.1:0 over a temp root holding `files`. */
export async function startServer(
  t: TestContext,
  files: Record<string, Buffer | string> = {},
  options: {
    limits?: Partial<ServerLimits>;
    token?: string;
    tls?: { cert: Buffer; key: Buffer };
    rescanIntervalMs?: number;
    http?: boolean;
    httpLimits?: Partial<HttpLimits>;
    proxyProtocol?: boolean;
  } = {},
): Promise<TempServer> {
  const root = await mkdtemp(join(tmpdir(), 'xfer-server-'));
  const resources = join(root, 'resources');
  for (const [name, content] of Object.entries(files)) {
    await mkdir(dirname(join(resources, name)), { recursive: true });
    await writeFile(join(resources, name), content);
  }
  const server = await XferServer.start({
    root,
    host: '127.0.0.1',
    port: 0,
    rescanIntervalMs: 200,
    ...options,
  });
  const port = server.address.port;
  const opened: ClientConnection[] = [];
  // One hook, in this order: a failed rm must never leave the server running.
  t.after(async () => {
    opened.forEach((c) => c.close());
    await server.close();
    await rm(root, { recursive: true, force: true, maxRetries: 5, retryDelay: 50 });
  });
  return {
    server,
    root,
    resources,
    port,
    async connect(extra = {}) {
      const conn = await ClientConnection.open({
        host: '127.0.0.1',
        port,
        sessionId: randomBytes(16),
        ...extra,
      });
      opened.push(conn);
      return conn;
    },
  };
}
