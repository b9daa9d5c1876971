import { randomBytes } from 'node:crypto';
import { connect, type Socket } from 'node:net';
import {
  FrameDecoder,
  encode,
  encodePreamble,
  type FileIdentity,
  type Message,
} from '../../src/protocol/index.js';

/**
 * A hand-driven client socket: sends whatever bytes a test wants and records
 * the frames the server answers with. For hostile-client tests.
 */
export class RawPeer {
  readonly messages: Message[] = [];
  dataBytes = 0;
  closed = false;
  /** Set to stop reading the socket on the next raw data byte (a client that cannot keep up). */
  pauseOnData = false;
  private readonly decoder = new FrameDecoder(
    { peer: 'server' },
    {
      preamble: () => undefined,
      message: (m) => this.messages.push(m),
      data: (c) => {
        this.dataBytes += c.length;
        if (!this.pauseOnData) return;
        this.pauseOnData = false;
        this.socket.pause();
      },
      dataEnd: () => undefined,
      error: () => undefined,
    },
  );

  private constructor(readonly socket: Socket) {
    socket.on('data', (c: Buffer) => this.decoder.push(c));
    socket.on('error', () => undefined);
    socket.on('close', () => (this.closed = true));
  }

  /** `from` picks the source address: 127.0.0.0/8 is all loopback, so tests can act as several hosts. */
  static open(port: number, from = '127.0.0.1'): Promise<RawPeer> {
    return new Promise((resolve, reject) => {
      const socket = connect({ host: '127.0.0.1', port, localAddress: from }, () =>
        resolve(new RawPeer(socket)),
      );
      socket.once('error', reject);
    });
  }

  /** Preamble + HELLO, as a real client starts. */
  hello(sessionId: Buffer = randomBytes(16)): void {
    this.socket.write(
      Buffer.concat([encodePreamble(0), encode({ type: 'hello', sessionId, clientNonce: randomBytes(32) })]),
    );
  }

  /** Opened, greeted and welcomed (a server without a token): ready for requests. */
  static async ready(port: number, sessionId?: Buffer): Promise<RawPeer> {
    const peer = await RawPeer.open(port);
    peer.hello(sessionId);
    const deadline = Date.now() + 5000;
    while (!peer.messages.some((m) => m.type === 'welcome')) {
      if (peer.closed || Date.now() > deadline) throw new Error('no WELCOME from the server');
      await new Promise((r) => setTimeout(r, 10));
    }
    return peer;
  }

  /** A GET whose raw bytes are only counted, so a test controls when (or whether) they are read. */
  get(requestId: number, name: string, length: number, expect: FileIdentity): void {
    this.send(encode({ type: 'get', requestId, name, offset: 0, length, expect }));
  }

  send(bytes: Buffer): void {
    this.socket.write(bytes);
  }

  errors(): string[] {
    return this.messages.flatMap((m) => (m.type === 'error' ? [m.code] : []));
  }

  close(): void {
    this.socket.destroy();
  }
}

/** A frame with an arbitrary type and payload, bypassing the encoder's checks. */
export function rawFrame(type: number, payload: Buffer): Buffer {
  const header = Buffer.alloc(5);
  header.writeUInt8(type, 0);
  header.writeUInt32BE(payload.length, 1);
  return Buffer.concat([header, payload]);
}
