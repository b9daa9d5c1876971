import { connect, type Socket } from 'node:net';
import { ConnectError, ConnectionClosedError, TimeoutError, toXferError } from '../../errors.js';
import { integerHeader } from './headers.js';
import { fromHttpFailure } from './http-errors.js';
import { HEAD_END, MAX_HEAD_BYTES, parseHead, requestText } from './http1-head.js';
import type { AnswerHandler } from './web-dispatch.js';
import { shownUrl } from './web-client.js';

/** Each connection reads into one buffer of this size: up to 1 MiB per read, no allocation per read. */
const READ_BUFFER_BYTES = 1024 * 1024;
const IDLE_KEEP_MS = 4000;

/** A kept-alive connection that the server had closed before it answered: the request is sent again once. */
class StaleConnection extends Error {}

/** What one connection's reads go to while it carries a request. */
interface Exchange {
  bytes(data: Buffer): void;
  gone(err: Error | undefined): void;
  timeout(): void;
}

/** One plain TCP connection to an origin; its bytes go to the exchange it carries, or close it when it carries none. */
class RangeConnection {
  readonly socket: Socket;
  /** It carried a request before (so the server may have closed it meanwhile). */
  reused = false;
  private exchange: Exchange | undefined;

  constructor(url: URL, readBufferBytes: number, onGone: (c: RangeConnection) => void) {
    const buffer = Buffer.allocUnsafeSlow(readBufferBytes);
    this.socket = connect({
      host: url.hostname.replace(/^\[(.*)\]$/, '$1'),
      port: Number(url.port || 80),
      onread: {
        buffer,
        callback: (n) => {
          if (this.exchange) this.exchange.bytes(buffer.subarray(0, n));
          else this.socket.destroy(); // bytes nobody asked for: the connection cannot be trusted with another request
          return true;
        },
      },
    });
    this.socket.setNoDelay(true);
    this.socket.on('error', (err) => this.exchange?.gone(err));
    this.socket.on('end', () => this.socket.destroy());
    this.socket.on('close', () => {
      this.exchange?.gone(undefined);
      onGone(this);
    });
    this.socket.on('timeout', () => (this.exchange ? this.exchange.timeout() : this.socket.destroy()));
  }

  /** Carries `exchange` (its stall timeout `timeoutMs`), or nothing: then it closes after `timeoutMs` idle (0: never). */
  carry(exchange: Exchange | undefined, timeoutMs: number): void {
    this.exchange = exchange;
    this.socket.setTimeout(timeoutMs);
    if (exchange) this.socket.ref();
    else this.socket.unref(); // an idle connection never keeps the process alive
  }
}

export interface RangeSocketsOptions {
  /** Connections per origin; a request waits for a free one. */
  maxPerOrigin: number;
  stallTimeoutMs: number;
  /** An idle connection is closed after this long (default: undici's keep-alive, 4 s), with its buffer. */
  idleMs?: number;
  /** Each connection's read buffer (default 1 MiB: a range body in few, large reads). */
  readBufferBytes?: number;
  /** The statuses whose answers this path reads (default: 206 only); others are "not mine". */
  takes?: (status: number) => boolean;
}

/**
 * GETs over plain HTTP/1.1 keep-alive connections of our own, beside undici:
 * each connection reads into one reused buffer (Node's `onread`), and the
 * body goes from it to the handler with no stream, parser copy or per-chunk
 * event between (undici alone cost 0.6 CPU-seconds per 256 MiB here, this
 * path 0.2; and about 0.15 ms more per small file). It takes only the plain case:
 * `http:`, no proxy, and an answer with a status it `takes` (range bodies: a
 * 206), a Content-Length and no Transfer-Encoding. Anything else (a redirect,
 * another status, a chunked or odd head) is "not mine": nothing of it reached
 * the handler, the connection is closed, and that origin goes through undici
 * from then on, which judges the same answer with the usual rules. At most
 * `maxPerOrigin` connections per origin; a request waits for a free one.
 */
export class RangeSockets {
  private readonly idle = new Map<string, RangeConnection[]>();
  private readonly live = new Map<string, number>();
  private readonly waiters = new Map<string, (() => void)[]>();
  private readonly undiciOnly = new Set<string>();
  private closed = false;

  private readonly o: Required<RangeSocketsOptions>;

  constructor(options: RangeSocketsOptions) {
    this.o = {
      idleMs: IDLE_KEEP_MS,
      readBufferBytes: READ_BUFFER_BYTES,
      takes: (status) => status === 206,
      ...options,
    };
  }

  /** Whether a request to `url` may take this path. */
  serves(url: URL): boolean {
    return !this.closed && url.protocol === 'http:' && !this.undiciOnly.has(url.origin);
  }

  /**
   * One GET of `url`: true once `handler` took the answer to its end, false
   * when the answer is not one for this path (then the handler saw nothing).
   * Failures are XferErrors.
   */
  async get(
    url: URL,
    headers: Record<string, string>,
    signal: AbortSignal,
    handler: AnswerHandler,
  ): Promise<boolean> {
    const request = requestText(url, headers);
    if (request === undefined) return false;
    for (let attempt = 0; ; attempt++) {
      try {
        const conn = await this.take(url, signal);
        return await this.exchange(conn, url, request, signal, handler);
      } catch (err) {
        if (!(err instanceof StaleConnection)) throw fromHttpFailure(err, shownUrl(url));
        if (attempt > 0) {
          throw new ConnectionClosedError(`${shownUrl(url)} closed the connection without an answer.`);
        }
      }
    }
  }

  /** Closes every idle connection; requests in flight end with their signals. */
  close(): void {
    this.closed = true;
    for (const conns of this.idle.values()) for (const c of conns) c.socket.destroy();
    this.idle.clear();
  }

  private async take(url: URL, signal: AbortSignal): Promise<RangeConnection> {
    const key = url.origin;
    for (;;) {
      signal.throwIfAborted();
      const idle = this.idle.get(key)?.pop();
      if (idle) return idle;
      if ((this.live.get(key) ?? 0) < this.o.maxPerOrigin) return this.open(url, signal);
      await this.waitForRoom(key, signal);
    }
  }

  private waitForRoom(key: string, signal: AbortSignal): Promise<void> {
    return new Promise((resolve, reject) => {
      const queue = this.waiters.get(key) ?? [];
      this.waiters.set(key, queue);
      const wake = () => {
        signal.removeEventListener('abort', onAbort);
        resolve();
      };
      const onAbort = () => {
        queue.splice(queue.indexOf(wake), 1);
        reject(signal.reason as Error);
      };
      queue.push(wake);
      signal.addEventListener('abort', onAbort, { once: true });
    });
  }

  private wakeOne(key: string): void {
    this.waiters.get(key)?.shift()?.();
  }

  private open(url: URL, signal: AbortSignal): Promise<RangeConnection> {
    const key = url.origin;
    this.live.set(key, (this.live.get(key) ?? 0) + 1);
    const conn = new RangeConnection(url, this.o.readBufferBytes, (c) => this.forget(key, c));
    return new Promise((resolve, reject) => {
      const fail = (err: Error) => {
        done();
        conn.socket.destroy();
        reject(err);
      };
      const onError = (err: Error) => fail(err);
      const onAbort = () => fail(signal.reason as Error);
      const timer = setTimeout(
        () => fail(new ConnectError(`Connecting to ${shownUrl(url)} timed out.`)),
        this.o.stallTimeoutMs,
      );
      const done = () => {
        clearTimeout(timer);
        signal.removeEventListener('abort', onAbort);
        conn.socket.off('error', onError);
      };
      conn.socket.once('error', onError);
      signal.addEventListener('abort', onAbort, { once: true });
      conn.socket.once('connect', () => {
        done();
        resolve(conn);
      });
    });
  }

  /** A connection closed: it no longer counts, and a waiting request may open another. */
  private forget(key: string, conn: RangeConnection): void {
    const idle = this.idle.get(key);
    const i = idle?.indexOf(conn) ?? -1;
    if (idle && i >= 0) idle.splice(i, 1);
    this.live.set(key, (this.live.get(key) ?? 1) - 1);
    this.wakeOne(key);
  }

  private release(key: string, conn: RangeConnection): void {
    conn.carry(undefined, this.o.idleMs);
    if (this.closed || conn.socket.destroyed) {
      conn.socket.destroy();
      return;
    }
    conn.reused = true;
    const idle = this.idle.get(key) ?? [];
    this.idle.set(key, idle);
    idle.push(conn);
    this.wakeOne(key);
  }

  /** Sends `request` on `conn` and feeds the answer to `handler`. */
  private exchange(
    conn: RangeConnection,
    url: URL,
    request: string,
    signal: AbortSignal,
    handler: AnswerHandler,
  ): Promise<boolean> {
    const shown = shownUrl(url);
    return new Promise((resolve, reject) => {
      let head: Buffer | undefined; // the start of a head split across reads
      let remaining = -1; // body bytes still due; -1 while the head is read
      let seen = 0;
      let keepAlive = false;
      let paused: NodeJS.Timeout | undefined;
      let settled = false;
      const finish = (err: unknown, value = false, reuse = false): void => {
        if (settled) return;
        settled = true;
        clearTimeout(paused);
        signal.removeEventListener('abort', onAbort);
        if (reuse) this.release(url.origin, conn);
        else {
          conn.carry(undefined, 0);
          conn.socket.destroy();
        }
        if (err === undefined) resolve(value);
        else reject(err instanceof Error ? err : toXferError(err));
      };
      const onAbort = () => finish(signal.reason);
      const answer = (data: Buffer): Buffer | undefined => {
        const joined = head ? Buffer.concat([head, data.subarray(0, MAX_HEAD_BYTES)]) : data;
        const end = joined.indexOf(HEAD_END);
        if (end < 0 || end > MAX_HEAD_BYTES) {
          if (joined.length > MAX_HEAD_BYTES) notMine();
          else head = Buffer.from(joined);
          return undefined;
        }
        const parsed = parseHead(joined.toString('latin1', 0, end));
        const length = parsed && integerHeader(parsed.headers, 'content-length');
        if (
          !parsed ||
          !this.o.takes(parsed.status) ||
          length === undefined ||
          'transfer-encoding' in parsed.headers
        ) {
          notMine();
          return undefined;
        }
        handler.onAnswer(parsed.status, parsed.headers, url);
        keepAlive = parsed.keepAlive;
        remaining = length;
        return data.subarray(end + HEAD_END.length - (head?.length ?? 0));
      };
      const notMine = () => {
        this.undiciOnly.add(url.origin);
        finish(undefined, false);
      };
      const end = () => {
        try {
          handler.onEnd(url);
          finish(undefined, true, keepAlive);
        } catch (err) {
          finish(err);
        }
      };
      // After a rate cap's wait: the next read, or the end if the body is all here (the cap holds across requests too).
      const resume = () => {
        if (remaining === 0) return end();
        conn.socket.setTimeout(this.o.stallTimeoutMs);
        conn.socket.resume();
      };
      conn.carry(
        {
          bytes: (data) => {
            seen += data.length;
            try {
              let body: Buffer | undefined = data;
              if (remaining < 0) body = answer(data);
              if (body === undefined || settled) return;
              // Bytes past the promised length belong to no request: this connection is not used again.
              if (body.length > remaining) keepAlive = false;
              if (body.length > 0) {
                const taken = body.subarray(0, remaining);
                remaining -= taken.length;
                const wait = handler.onBody(taken);
                if (wait > 0) {
                  conn.socket.setTimeout(0);
                  conn.socket.pause();
                  paused = setTimeout(resume, wait);
                  return;
                }
              }
              if (remaining === 0) end();
            } catch (err) {
              finish(err);
            }
          },
          gone: (err) => {
            if (seen === 0 && conn.reused) finish(new StaleConnection());
            else if (err) finish(err);
            else if (remaining === 0)
              end(); // closed during a rate cap's wait, with the body all here
            else if (remaining < 0)
              finish(new ConnectionClosedError(`${shown} closed the connection without an answer.`));
            else {
              try {
                handler.onEnd(url); // it knows how many bytes it got, and says what is missing
                finish(new ConnectionClosedError(`${shown} closed the connection early.`));
              } catch (e) {
                finish(e);
              }
            }
          },
          timeout: () => finish(new TimeoutError(`${shown} sent nothing for too long.`)),
        },
        this.o.stallTimeoutMs,
      );
      if (signal.aborted) return onAbort();
      signal.addEventListener('abort', onAbort, { once: true });
      conn.socket.write(request);
    });
  }
}
