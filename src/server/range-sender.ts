import type { Socket } from 'node:net';
import type { FileHandle } from 'node:fs/promises';
import { NetworkError, RemoteError } from '../errors.js';

/** Big reads keep syscalls and event-loop turns per GiB low; 1 MiB is where gains level off. */
const READ_SIZE = 1024 * 1024;

/**
 * Streams bytes [offset, offset + length) of an open file to the socket,
 * waiting for 'drain' whenever the socket's buffer is full, so a slow reader
 * never makes the server hold more than about one read in memory.
 */
export async function sendRange(
  socket: Socket,
  fh: FileHandle,
  offset: number,
  length: number,
  pace?: Pacer,
): Promise<void> {
  const end = offset + length;
  for (let pos = offset; pos < end;) {
    const want = Math.min(pace ? pace.chunkSize : READ_SIZE, end - pos);
    if (pace) await pace.wait(want);
    const buf = Buffer.allocUnsafe(want);
    const { bytesRead } = await fh.read(buf, 0, want, pos);
    if (bytesRead === 0) {
      throw new RemoteError('ERR_XFER_CHANGED', `The file shrank while being sent (at byte ${pos}).`);
    }
    pos += bytesRead;
    if (socket.destroyed || socket.writableEnded) {
      throw new NetworkError('ERR_XFER_CLOSED', 'The client closed the connection.');
    }
    if (!socket.write(bytesRead === want ? buf : buf.subarray(0, bytesRead))) await drained(socket);
  }
}

/**
 * Caps a connection's send rate (`--limit-rate`): each chunk waits until the
 * bytes already sent fit the budget. Chunks of 1/20 s keep the pace smooth.
 */
export class Pacer {
  readonly chunkSize: number;
  private readonly started = Date.now();
  private sent = 0;

  constructor(private readonly bytesPerSecond: number) {
    this.chunkSize = Math.max(16 * 1024, Math.min(READ_SIZE, Math.floor(bytesPerSecond / 20)));
  }

  async wait(bytes: number): Promise<void> {
    const due = this.started + (this.sent / this.bytesPerSecond) * 1000;
    this.sent += bytes;
    const delay = due - Date.now();
    if (delay > 0) await new Promise((resolve) => setTimeout(resolve, delay));
  }
}

export function drained(socket: Socket): Promise<void> {
  return new Promise((resolve, reject) => {
    const finish = (err?: Error) => {
      socket.off('drain', onDrain);
      socket.off('close', onClose);
      if (err) reject(err);
      else resolve();
    };
    const onDrain = () => finish();
    const onClose = () => finish(new NetworkError('ERR_XFER_CLOSED', 'The client closed the connection.'));
    socket.on('drain', onDrain);
    socket.on('close', onClose);
  });
}
