import type { Socket } from 'node:net';
import { decodeProxyHeader } from '../protocol/index.js';
import { readHead } from './read-head.js';

/** The client a load balancer names; either part may be missing (its own health check, a UNIX socket). */
export interface ProxiedClient {
  address?: string;
  port?: number;
}

/**
 * Reads a connection's PROXY v2 header within `deadlineMs` and puts back the
 * bytes after it; undefined when the peer closed or stayed silent (the socket
 * is destroyed), and rejects (socket destroyed) when the bytes are not one.
 */
export function readProxyHeader(socket: Socket, deadlineMs: number): Promise<ProxiedClient | undefined> {
  return readHead(socket, deadlineMs, (head) => {
    const header = decodeProxyHeader(head);
    return header && { value: header.source ?? {}, consumed: header.length };
  });
}

/**
 * Where a load balancer's connections wait for their PROXY header before
 * admission: at most `capacity` at once (as many as the server takes at all),
 * each for the handshake deadline at most, all cut at shutdown.
 */
export class ProxyIntake {
  private readonly waiting = new Set<Socket>();
  private closed = false;

  constructor(
    private readonly capacity: number,
    private readonly deadlineMs: number,
  ) {}

  /**
   * Calls `admit` with the client the header names (the socket's own peer
   * where it names none), or `reject` with why the bytes were not a header.
   */
  take(
    socket: Socket,
    admit: (address: string | undefined, port: number | undefined) => void,
    reject: (balancer: string, err: Error) => void,
  ): void {
    if (this.closed || this.waiting.size >= this.capacity) return void socket.destroy();
    this.waiting.add(socket);
    const balancer = socket.remoteAddress ?? '?'; // gone from the socket once it is destroyed
    readProxyHeader(socket, this.deadlineMs).then(
      (client) => {
        this.waiting.delete(socket);
        if (client === undefined || this.closed) return void socket.destroy();
        admit(client.address ?? socket.remoteAddress, client.port ?? socket.remotePort);
      },
      (err: Error) => {
        this.waiting.delete(socket);
        reject(balancer, err);
      },
    );
  }

  close(): void {
    this.closed = true;
    for (const socket of this.waiting) socket.destroy();
  }
}
