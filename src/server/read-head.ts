import type { Socket } from 'node:net';
import { toXferError } from '../errors.js';

/** What a look at a connection's first bytes found, and how many of them it used up. */
export interface HeadFound<T> {
  readonly value: T;
  readonly consumed: number;
}

/**
 * Reads a connection's first bytes until `decide` finds what it looks for,
 * within `deadlineMs` (absolute: dripping bytes does not extend it), and puts
 * back with unshift() whatever `decide` did not consume. Resolves undefined
 * when the peer closed or stayed silent too long, and rejects with what
 * `decide` threw; in both cases the socket is destroyed. The socket is left
 * paused for its next owner.
 */
export function readHead<T>(
  socket: Socket,
  deadlineMs: number,
  decide: (head: Buffer) => HeadFound<T> | undefined,
): Promise<T | undefined> {
  return new Promise((resolve, reject) => {
    let head: Buffer = Buffer.alloc(0);
    const stop = () => {
      clearTimeout(timer);
      socket.off('data', onData);
      socket.off('close', onClose);
      socket.pause();
    };
    const giveUp = () => {
      stop();
      socket.destroy();
      resolve(undefined);
    };
    const onData = (chunk: Buffer) => {
      head = head.length === 0 ? chunk : Buffer.concat([head, chunk]);
      let found: HeadFound<T> | undefined;
      try {
        found = decide(head);
      } catch (err) {
        stop();
        socket.destroy();
        reject(toXferError(err));
        return;
      }
      if (!found) return;
      stop();
      if (found.consumed < head.length) socket.unshift(head.subarray(found.consumed));
      resolve(found.value);
    };
    const onClose = giveUp;
    const timer = setTimeout(giveUp, deadlineMs);
    socket.on('data', onData);
    socket.on('close', onClose);
    socket.on('error', () => undefined);
    socket.resume(); // a socket an earlier look left paused (its bytes put back) flows again
  });
}
