import { createServer, type Server, type Socket } from 'node:net';
import type { TestContext } from 'node:test';
import {
  FrameDecoder,
  FrameType,
  encode,
  encodePreamble,
  type CatalogEntry,
  type Message,
} from '../../src/protocol/index.js';

/** How the fake server answers; each handler writes raw bytes, so it can lie in any way. */
export interface FakeBehaviour {
  list(requestId: number): Buffer;
  stat?(requestId: number, name: string): Buffer;
  get?(req: Extract<Message, { type: 'get' }>, socket: Socket): void;
}

/**
 * A scripted, possibly malicious xfer server: it speaks the handshake
 * properly, then answers with whatever bytes the test hands it.
 */
export async function startFakeServer(
  t: TestContext,
  behaviour: FakeBehaviour,
): Promise<{ port: number; server: Server }> {
  const sockets = new Set<Socket>();
  const server = createServer((socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => undefined);
    socket.write(encodePreamble(0));
    const decoder = new FrameDecoder(
      { peer: 'client' },
      {
        preamble: () => undefined,
        message: (m) => {
          if (m.type === 'hello') {
            socket.write(
              encode({
                type: 'welcome',
                serverNonce: Buffer.alloc(32),
                authRequired: false,
              }),
            );
          } else if (m.type === 'list') socket.write(behaviour.list(m.requestId));
          else if (m.type === 'stat' && behaviour.stat) socket.write(behaviour.stat(m.requestId, m.name));
          else if (m.type === 'get' && behaviour.get) behaviour.get(m, socket);
        },
        data: () => undefined,
        dataEnd: () => undefined,
        error: () => socket.destroy(),
      },
    );
    socket.on('data', (c: Buffer) => decoder.push(c));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.after(() => {
    sockets.forEach((s) => s.destroy());
    return new Promise<void>((resolve) => server.close(() => resolve()));
  });
  const address = server.address();
  return { port: typeof address === 'object' && address ? address.port : 0, server };
}

/** A one-frame catalog, for fake servers that answer LIST honestly. */
export function catalogFrame(requestId: number, entries: CatalogEntry[]): Buffer {
  return encode({ type: 'catalog', requestId, more: false, entries });
}

/** A CATALOG frame built by hand, so names the encoder would refuse can be sent. */
export function rawCatalog(
  requestId: number,
  entries: { name: Buffer | string; size: number; sha256: Buffer }[],
): Buffer {
  const parts: Buffer[] = [];
  const head = Buffer.alloc(9);
  head.writeUInt32BE(requestId, 0);
  head.writeUInt8(0, 4);
  head.writeUInt32BE(entries.length, 5);
  parts.push(head);
  for (const e of entries) {
    const name = Buffer.isBuffer(e.name) ? e.name : Buffer.from(e.name);
    const fixed = Buffer.alloc(1 + 2);
    fixed.writeUInt8(1, 0);
    fixed.writeUInt16BE(name.length, 1);
    const nums = Buffer.alloc(8 + 8 + 4);
    nums.writeBigUInt64BE(BigInt(e.size), 0);
    nums.writeBigUInt64BE(1n, 8);
    nums.writeUInt32BE(1024 * 1024, 16);
    parts.push(fixed, name, nums, e.sha256);
  }
  const payload = Buffer.concat(parts);
  const header = Buffer.alloc(5);
  header.writeUInt8(FrameType.CATALOG, 0);
  header.writeUInt32BE(payload.length, 1);
  return Buffer.concat([header, payload]);
}
