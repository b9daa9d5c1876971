import { InternalError } from '../errors.js';
import { ClientConnection, type ConnectOptions } from './connection.js';

/**
 * Up to N connections to one server, one per download slot, reused from file
 * to file (the small-file case lives on connection reuse). A slot whose
 * connection failed gets a fresh one on its next request.
 */
export class ConnectionPool {
  private readonly slots = new Map<number, Promise<ClientConnection>>();
  private closed = false;
  /** Some connection completed its handshake: the server exists, so a failure may be worth a retry. */
  everConnected = false;

  constructor(
    readonly options: ConnectOptions,
    readonly size: number,
  ) {}

  connection(slot: number): Promise<ClientConnection> {
    if (this.closed) return Promise.reject(new InternalError('The connection pool is closed.'));
    let conn = this.slots.get(slot);
    if (conn) return conn;
    conn = ClientConnection.open(this.options);
    this.slots.set(slot, conn);
    conn.then(
      (c) => {
        this.everConnected = true;
        c.onClose(() => this.forget(slot, conn));
      },
      () => this.forget(slot, conn),
    );
    return conn;
  }

  /** Closes a slot's connection (after a failure or stall); the next request reconnects. */
  drop(slot: number): void {
    const conn = this.slots.get(slot);
    this.slots.delete(slot);
    conn?.then((c) => c.close()).catch(() => undefined);
  }

  /** Closes every connection (to stop work in flight); later requests reconnect. */
  dropAll(): void {
    for (const slot of [...this.slots.keys()]) this.drop(slot);
  }

  /** Closes everything for good. */
  shutdown(): void {
    this.closed = true;
    this.dropAll();
  }

  private forget(slot: number, conn: Promise<ClientConnection> | undefined): void {
    if (this.slots.get(slot) === conn) this.slots.delete(slot);
  }
}
