import { MAX_CONNECTIONS_PER_FILE } from '../protocol/index.js';

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
  /** Failed authentications per IP per minute before that IP is refused for a minute. */
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
