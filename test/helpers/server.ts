import { randomBytes } from 'node:crypto';
import { mkdir, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import type { TestContext } from 'node:test';
import { ClientConnection, type ConnectOptions } from '../../src/client/connection.js';
import type { ServerLimits } from '../../src/server/limits.js';
import { XferServer } from '../../src/server/server.js';
import { tempDir } from './tmp.js';

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
  } = {},
): Promise<TempServer> {
  const root = await tempDir(t, 'xfer-server-');
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
  t.after(() => server.close());
  const port = server.address.port;
  const opened: ClientConnection[] = [];
  t.after(() => opened.forEach((c) => c.close()));
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
