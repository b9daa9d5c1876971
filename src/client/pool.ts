import { InternalError } from '../errors.js';
import { ClientConnection, type ConnectOptions } from './connection.js';
import { MAX_VERSION_REFUSALS } from './retry.js';

/** Refused connections a slot keeps open at most: one per version refusal a part may meet. */
const MAX_PARKED_PER_SLOT = MAX_VERSION_REFUSALS;

function close(conn: Promise<ClientConnection> | undefined): void {
  conn?.then((c) => c.close()).catch(() => undefined);
}

/**
 * Up to N connections to one server, one per download slot, reused from file
 * to file (the small-file case lives on connection reuse). A slot whose
 * connection failed gets a fresh one on its next request.
 */
export class ConnectionPool {
  private readonly slots = new Map<number, Promise<ClientConnection>>();
  /** Per slot, the connections replaced after a refusal, kept open for a while (see replace). */
  private readonly parked = new Map<number, Promise<ClientConnection>[]>();
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
    for (const c of [conn, ...(this.parked.get(slot) ?? [])]) close(c);
    this.parked.delete(slot);
  }

  /**
   * Opens a fresh connection for a slot whose backend refused a request
   * (another version of the file), and keeps the refused one open until the
   * slot is next dropped (at most MAX_PARKED_PER_SLOT of them, idle; the
   * server's idle limit closes them too): behind a `leastconn` balancer they
   * keep counting against their backend, so fresh connections go elsewhere
   * rather than back to the backend that just refused.
   */
  replace(slot: number): void {
    const refused = this.slots.get(slot);
    this.slots.delete(slot);
    void this.connection(slot).catch(() => undefined);
    if (!refused) return;
    const parked = [...(this.parked.get(slot) ?? []), refused];
    while (parked.length > MAX_PARKED_PER_SLOT) close(parked.shift());
    this.parked.set(slot, parked);
  }

  /** Closes every connection (to stop work in flight); later requests reconnect. */
  dropAll(): void {
    for (const slot of new Set([...this.slots.keys(), ...this.parked.keys()])) this.drop(slot);
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
