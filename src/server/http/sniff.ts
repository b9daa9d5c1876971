import type { Socket } from 'node:net';
import { readHead } from '../read-head.js';

export type Protocol = 'xfer' | 'http';

/**
 * The request methods that send a connection to the HTTP face, each with the
 * space that ends it (`PRI ` is the HTTP/2 preface, which node:http refuses
 * with a status). Matching the whole token, not one capital letter, keeps a
 * random or mistyped byte stream on the xfer side, which names the fault
 * (`ERR_XFER_MAGIC`).
 */
const METHODS = [
  'GET ',
  'HEAD ',
  'POST ',
  'PUT ',
  'DELETE ',
  'OPTIONS ',
  'PATCH ',
  'TRACE ',
  'CONNECT ',
  'PRI ',
].map((m) => Buffer.from(m, 'latin1'));
const LONGEST = Math.max(...METHODS.map((m) => m.length));

/** 'http' once `head` starts with a method, 'xfer' once it cannot, undefined while it still might. */
export function protocolOf(head: Buffer): Protocol | undefined {
  let undecided = false;
  for (const method of METHODS) {
    const n = Math.min(head.length, method.length);
    if (!head.subarray(0, n).equals(method.subarray(0, n))) continue;
    if (n === method.length) return 'http';
    undecided = true;
  }
  return undecided ? undefined : 'xfer';
}

/**
 * Reads a connection's first bytes (at most the longest method token, within
 * `deadlineMs`), puts them back, and says which protocol the peer speaks;
 * undefined when the peer closed or stayed silent too long (the socket is
 * then destroyed). The socket is left paused for the new owner.
 */
export function sniffProtocol(socket: Socket, deadlineMs: number): Promise<Protocol | undefined> {
  return readHead(socket, deadlineMs, (head) => {
    const protocol = protocolOf(head.subarray(0, LONGEST));
    return protocol && { value: protocol, consumed: 0 };
  });
}
