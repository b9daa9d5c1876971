import { createHash, randomBytes } from 'node:crypto';
import { createServer, type Server, type Socket } from 'node:net';
import type { TestContext } from 'node:test';
import {
  FrameDecoder,
  FrameType,
  encode,
  encodePreamble,
  pieceCount,
  pieceSizeFor,
  type CatalogEntry,
  type Message,
} from '../../src/protocol/index.js';

/** How the fake server answers; each handler writes raw bytes, so it can lie in any way. */
export interface FakeBehaviour {
  /** Bytes for a LIST; none at all (the request is swallowed: a stalled LIST) when it returns undefined. */
  list(requestId: number, socket: Socket): Buffer | undefined;
  /** Bytes for a STAT; none (a stalled STAT) when it returns undefined. */
  stat?(requestId: number, name: string): Buffer | undefined;
  get?(req: Extract<Message, { type: 'get' }>, socket: Socket): void;
  /**
   * How a connection starts: `xfer` (the default) speaks the handshake;
   * `silent` accepts and never sends a byte; `reset` accepts and resets.
   */
  greeting?: 'xfer' | 'silent' | 'reset';
  /** WELCOME's authRequired flag (default false). */
  authRequired?: boolean;
  /** The AUTH_OK proof sent after any AUTH (default: random bytes, a server that does not know the token). */
  serverProof?: Buffer;
}

/** What the scripted server saw, for tests that wait for a state instead of sleeping. */
export interface FakeServerStats {
  connections: number;
  lists: number;
  stats: number;
  gets: number;
}

/**
 * A scripted, possibly malicious xfer server: it speaks the handshake
 * properly (or, scripted, not at all), then answers with whatever bytes the
 * test hands it.
 */
export async function startFakeServer(
  t: TestContext,
  behaviour: FakeBehaviour,
): Promise<{ port: number; server: Server; stats: FakeServerStats }> {
  const sockets = new Set<Socket>();
  const stats: FakeServerStats = { connections: 0, lists: 0, stats: 0, gets: 0 };
  const server = createServer((socket) => {
    stats.connections++;
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => undefined);
    if (behaviour.greeting === 'silent') return;
    if (behaviour.greeting === 'reset') return void socket.resetAndDestroy();
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
                serverNonce: randomBytes(32),
                authRequired: behaviour.authRequired ?? false,
              }),
            );
          } else if (m.type === 'auth') {
            socket.write(encode({ type: 'auth-ok', serverProof: behaviour.serverProof ?? randomBytes(32) }));
          } else if (m.type === 'list') {
            stats.lists++;
            const answer = behaviour.list(m.requestId, socket);
            if (answer) socket.write(answer);
          } else if (m.type === 'stat') {
            stats.stats++;
            const answer = behaviour.stat?.(m.requestId, m.name);
            if (answer) socket.write(answer);
          } else if (m.type === 'get') {
            stats.gets++;
            behaviour.get?.(m, socket);
          }
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
  return { port: typeof address === 'object' && address ? address.port : 0, server, stats };
}

/**
 * Answers LIST, STAT and GET honestly for `files`, whatever their names (the
 * real server would never list a `.part` or a dotfile; this one lists anything).
 */
export function servesFiles(files: Record<string, Buffer>): Pick<FakeBehaviour, 'list' | 'stat' | 'get'> {
  const entries = new Map(
    Object.entries(files).map(([name, content]) => {
      const pieceSize = pieceSizeFor(content.length);
      const hashes = Array.from({ length: pieceCount(content.length, pieceSize) }, (_, p) =>
        createHash('sha256')
          .update(content.subarray(p * pieceSize, (p + 1) * pieceSize))
          .digest(),
      );
      const sha256 = createHash('sha256').update(content).digest();
      return [
        name,
        { entry: { name, size: content.length, mtimeUs: 1, pieceSize, sha256 }, hashes, content },
      ];
    }),
  );
  return {
    list: (requestId) =>
      catalogFrame(
        requestId,
        [...entries.values()].map((e) => e.entry),
      ),
    stat: (requestId, name) => {
      const f = entries.get(name);
      if (!f)
        return encode({ type: 'error', requestId, code: 'ERR_XFER_NOT_FOUND', message: 'no such file' });
      const { size, mtimeUs, sha256, pieceSize } = f.entry;
      return encode({
        type: 'pieces',
        requestId,
        identity: { size, mtimeUs, sha256 },
        pieceSize,
        hashes: f.hashes,
      });
    },
    get: (req, socket) => {
      const f = entries.get(req.name);
      if (!f) {
        socket.write(
          encode({ type: 'error', requestId: req.requestId, code: 'ERR_XFER_NOT_FOUND', message: 'no' }),
        );
        return;
      }
      socket.write(
        encode({ type: 'data', requestId: req.requestId, offset: req.offset, length: req.length }),
      );
      socket.write(f.content.subarray(req.offset, req.offset + req.length));
    },
  };
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
