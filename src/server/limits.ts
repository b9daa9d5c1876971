import { readFileSync } from 'node:fs';
import { MAX_CONNECTIONS_PER_FILE } from '../protocol/index.js';

export const MS_PER_SECOND = 1000;

/**
 * Every limit the server enforces, with its default, in one place.
 * docs/protocol.md lists them; `xfer serve --help` shows the flags that set them.
 */
export interface ServerLimits {
  /** A connection must finish preamble + HELLO (+ AUTH) within this, however slowly it drips bytes. */
  handshakeTimeoutMs: number;
  /** A ready connection with no traffic either way for this long is closed. */
  idleTimeoutMs: number;
  /** Largest frame a client may send; real client frames are under 4.2 KiB. */
  maxClientFrameBytes: number;
  maxConnections: number;
  maxConnectionsPerIp: number;
  /** The course project's rule: one client fetches one file over at most 4 connections at once. */
  maxDataConnectionsPerClientFile: number;
  /** Requests a connection may make per second (sustained) and in a burst before it is cut off. */
  requestsPerSecond: number;
  requestBurst: number;
  /** Requests decoded but not yet answered before the server stops reading that socket. */
  maxQueuedRequests: number;
  /** Failed proofs per address (IPv6: per /64) per minute before all its connections are closed and it is refused for the rest of the minute. */
  authFailuresPerMinute: number;
  /** On SIGINT/SIGTERM, ranges in flight get this long to finish before being cut. */
  shutdownGraceMs: number;
  /** Bytes per second each connection may send; 0 for no cap (`xfer serve --limit-rate`). */
  bytesPerSecondPerConnection: number;
}

export const DEFAULT_LIMITS: ServerLimits = {
  handshakeTimeoutMs: 5_000,
  idleTimeoutMs: 60_000,
  maxClientFrameBytes: 16 * 1024,
  maxConnections: 1024,
  maxConnectionsPerIp: 256,
  maxDataConnectionsPerClientFile: MAX_CONNECTIONS_PER_FILE,
  requestsPerSecond: 5_000,
  requestBurst: 20_000,
  maxQueuedRequests: 64,
  authFailuresPerMinute: 10,
  shutdownGraceMs: 5_000,
  bytesPerSecondPerConnection: 0,
};

/**
 * Descriptors kept back from connections: stdio, the listening socket, the
 * event loop's own, the resources/ watcher, the log file, files being hashed.
 */
export const RESERVED_DESCRIPTORS = 64;
/** However low the descriptor limit, the server keeps this many connections. */
const MIN_CONNECTIONS = 16;

/**
 * The total connection cap, lowered when the process may not open that many
 * descriptors (a common `ulimit -n` is 1024, the default cap too): a cap the
 * process cannot reach would turn a full server into EMFILE for everyone,
 * instead of the fair eviction that a reached cap starts.
 */
export function fitToDescriptorLimit(maxConnections: number, openFileLimit: number | undefined): number {
  if (openFileLimit === undefined) return maxConnections;
  return Math.min(maxConnections, Math.max(MIN_CONNECTIONS, openFileLimit - RESERVED_DESCRIPTORS));
}

/** The soft limit on open files of this process (Linux /proc), or undefined where it cannot be read. */
export function openFileLimit(): number | undefined {
  try {
    const limits = readFileSync('/proc/self/limits', 'utf8');
    const soft = /^Max open files\s+(\d+)/m.exec(limits)?.[1];
    return soft === undefined ? undefined : Number(soft);
  } catch {
    return undefined;
  }
}
