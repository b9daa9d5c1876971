import { createServer, type AddressInfo } from 'node:net';

/**
 * A loopback port nobody listens on right now (bound, then closed): for peers
 * that need a fixed port to bind (nginx, HAProxy), or as an address that refuses.
 */
export async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}
