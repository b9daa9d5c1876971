import { connect, createServer, type Server, type Socket } from 'node:net';

/** Faults applied to the server→client direction of one relayed connection. */
export interface ConnectionFaults {
  /** Forward at most this many bytes per second. */
  rateBytesPerSec?: number;
  /** Close both sides once this many bytes have been forwarded. */
  cutAfterBytes?: number;
  /** Stop forwarding (keeping the sockets open) once this many bytes have been forwarded. */
  stallAfterBytes?: number;
  /** Flip the byte at this stream offset. */
  corruptAtByte?: number;
}

/**
 * A TCP relay on 127.0.0.1:0 in front of a real server, for fault injection and
 * for counting connections. `faultsFor(i)` picks the faults of the i-th connection.
 */
export class Relay {
  active = 0;
  maxActive = 0;
  accepted = 0;
  bytesToClient = 0;
  /** Everything relayed each way, when started with `record`: a packet capture for the tests. */
  readonly toServer: Buffer[] = [];
  readonly toClient: Buffer[] = [];
  private readonly sockets = new Set<Socket>();
  /** For `totalRateBytesPerSec`: when the bytes forwarded so far by all connections are paid for (no burst saved up). */
  private sharedDue = 0;

  private constructor(
    private readonly server: Server,
    public faultsFor: (index: number) => ConnectionFaults,
    private readonly record: boolean,
    private readonly totalRateBytesPerSec: number | undefined,
  ) {}

  /**
   * `totalRateBytesPerSec` caps all connections together (a server's uplink),
   * on top of any per-connection `rateBytesPerSec`.
   */
  static async start(
    targetPort: number,
    faultsFor: (index: number) => ConnectionFaults = () => ({}),
    options: { record?: boolean; totalRateBytesPerSec?: number } = {},
  ): Promise<Relay> {
    const server = createServer();
    const relay = new Relay(server, faultsFor, options.record ?? false, options.totalRateBytesPerSec);
    server.on('connection', (client) => relay.pipe(client, targetPort));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    return relay;
  }

  get port(): number {
    const address = this.server.address();
    return typeof address === 'object' && address ? address.port : 0;
  }

  /** Cuts every relayed connection now. */
  cutAll(): void {
    for (const s of this.sockets) s.destroy();
  }

  async close(): Promise<void> {
    this.cutAll();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private pipe(client: Socket, targetPort: number): void {
    const index = this.accepted++;
    const faults = this.faultsFor(index);
    const upstream = connect({ host: '127.0.0.1', port: targetPort });
    this.active++;
    this.maxActive = Math.max(this.maxActive, this.active);
    for (const s of [client, upstream]) {
      this.sockets.add(s);
      s.on('error', () => undefined);
    }
    let closed = false;
    const closeBoth = () => {
      if (closed) return;
      closed = true;
      this.active--;
      client.destroy();
      upstream.destroy();
      this.sockets.delete(client);
      this.sockets.delete(upstream);
    };
    client.on('close', closeBoth);
    upstream.on('close', closeBoth);
    client.pipe(upstream);
    if (this.record) client.on('data', (c: Buffer) => this.toServer.push(Buffer.from(c)));

    let forwarded = 0;
    const started = Date.now();
    upstream.on('data', (chunk: Buffer) => {
      let out = chunk;
      if (faults.stallAfterBytes !== undefined && forwarded + out.length > faults.stallAfterBytes) {
        out = out.subarray(0, Math.max(0, faults.stallAfterBytes - forwarded));
        upstream.pause(); // never resumed: the connection stays open and silent
      }
      if (faults.cutAfterBytes !== undefined && forwarded + out.length >= faults.cutAfterBytes) {
        client.write(out.subarray(0, faults.cutAfterBytes - forwarded), () => closeBoth());
        forwarded = faults.cutAfterBytes;
        return;
      }
      const at = faults.corruptAtByte;
      if (at !== undefined && at >= forwarded && at < forwarded + out.length) {
        out = Buffer.from(out);
        out[at - forwarded] = (out[at - forwarded] ?? 0) ^ 0xff;
      }
      forwarded += out.length;
      this.bytesToClient += out.length;
      if (this.record) this.toClient.push(Buffer.from(out));
      if (out.length > 0 && !client.write(out)) {
        upstream.pause();
        client.once('drain', () => upstream.resume());
      }
      const perConnection =
        faults.rateBytesPerSec === undefined ? 0 : started + (forwarded / faults.rateBytesPerSec) * 1000;
      let shared = 0;
      if (this.totalRateBytesPerSec !== undefined) {
        this.sharedDue =
          Math.max(this.sharedDue, Date.now()) + (out.length / this.totalRateBytesPerSec) * 1000;
        shared = this.sharedDue;
      }
      if (perConnection > 0 || shared > 0) {
        const due = Math.max(perConnection, shared);
        const wait = due - Date.now();
        if (wait > 0) {
          upstream.pause();
          setTimeout(() => {
            if (faults.stallAfterBytes === undefined || forwarded < faults.stallAfterBytes) upstream.resume();
          }, wait);
        }
      }
    });
  }
}
