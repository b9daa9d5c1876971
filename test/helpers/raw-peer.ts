import { randomBytes } from 'node:crypto';
import { connect, type Socket } from 'node:net';
import { FrameDecoder, encode, encodePreamble, type Message } from '../../src/protocol/index.js';

/**
 * A hand-driven client socket: sends whatever bytes a test wants and records
 * the frames the server answers with. For hostile-client tests.
 */
export class RawPeer {
  readonly messages: Message[] = [];
  dataBytes = 0;
  closed = false;
  private readonly decoder = new FrameDecoder(
    { peer: 'server' },
    {
      preamble: () => undefined,
      message: (m) => this.messages.push(m),
      data: (c) => (this.dataBytes += c.length),
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
  hello(): void {
    this.socket.write(
      Buffer.concat([
        encodePreamble(0),
        encode({ type: 'hello', sessionId: randomBytes(16), clientNonce: randomBytes(32) }),
      ]),
    );
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
