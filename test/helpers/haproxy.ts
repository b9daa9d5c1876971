import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import { connect } from 'node:net';
import { join } from 'node:path';
import { startCli, waitForStderr } from './cli.js';
import { freePort } from './ports.js';

/**
 * HAProxy in front of several `xfer serve` backends, for the load-balancer
 * tests and `npm run scale`. The config is generated here, and docs/scaling.md
 * shows exactly what `haproxyConfig` writes (a test checks that).
 */

export interface Backend {
  name: string;
  /** 127.0.0.1 unless given. */
  host?: string;
  port: number;
}

export interface HaproxyLayout {
  /** The address HAProxy listens on: 127.0.0.1 unless given (an empty string is every address). */
  bind?: string;
  /** Where clients connect: the xfer protocol, balanced per connection. */
  port: number;
  backends: Backend[];
  /** The runtime API socket (`show stat`), or none. */
  statsSocket?: string;
  /** A second frontend for the HTTP face, balanced per request. */
  httpPort?: number;
}

/** The preamble xfer clients send: "XFER", version 1, no feature bits. */
const CLIENT_PREAMBLE_HEX = '58464552' + '0001' + '00000000';
/** A HELLO frame (type 1, 48-byte payload) with a zero session id and nonce: enough for a WELCOME. */
const HELLO_HEX = '01' + '00000030' + '00'.repeat(48);
/** The server's preamble ("XFER", version 1, any feature bits), then a WELCOME frame header (type 2, 33 bytes). */
const WELCOME_REGEX = '^584645520001[0-9A-F]{8}0200000021';

/** The HAProxy configuration docs/scaling.md describes, for these ports. */
export function haproxyConfig(layout: HaproxyLayout): string {
  const servers = (check: (b: Backend) => string) =>
    layout.backends
      .map((b) => `    server ${b.name} ${b.host ?? '127.0.0.1'}:${b.port} ${check(b)}\n`)
      .join('');
  const bind = layout.bind ?? '127.0.0.1';
  const stats = layout.statsSocket ? `    stats socket ${layout.statsSocket} mode 600 level admin\n` : '';
  const http =
    layout.httpPort === undefined
      ? ''
      : `
# The HTTP face answers on the same backend ports; HTTP mode balances each request.
frontend xfer_http
    mode http
    bind ${bind}:${layout.httpPort}
    default_backend xfer_http_servers

backend xfer_http_servers
    mode http
    balance leastconn
    option redispatch 1
${servers((b) => `send-proxy-v2 track xfer_servers/${b.name}`)}`;
  return `global
    maxconn 4000
${stats}
defaults
    mode tcp
    timeout connect 2s
    # Longer than the server's 60 s idle limit: the xfer ends decide when a connection is idle.
    timeout client 2m
    timeout server 2m
    # A connection refused by a dead backend is tried again on another one.
    retries 3
    option redispatch 1

frontend xfer
    bind ${bind}:${layout.port}
    # Each client's connections are capped here too, before they reach a backend.
    stick-table type ip size 100k expire 1m store conn_cur
    tcp-request connection track-sc0 src
    tcp-request connection reject if { sc0_conn_cur gt 256 }
    default_backend xfer_servers

backend xfer_servers
    # Each xfer connection carries many GETs: balance by open connections.
    balance leastconn
    # Health check: the xfer handshake up to WELCOME, which the server does not log,
    # after the PROXY header the backends expect on every connection.
    option tcp-check
    tcp-check connect send-proxy
    tcp-check send-binary ${CLIENT_PREAMBLE_HEX}${HELLO_HEX}
    tcp-check expect min-recv 15 rbinary ${WELCOME_REGEX}
    default-server inter 1s fall 2 rise 2
    # The backends run with --proxy-protocol: each connection starts with a PROXY v2
    # header naming the client, so their per-address limits and logs see clients.
${servers(() => 'send-proxy-v2 check')}${http}`;
}

/** The haproxy binary, or undefined when it is not installed. */
export function haproxyBinary(): string | undefined {
  for (const path of ['haproxy', '/usr/sbin/haproxy']) {
    if (spawnSync(path, ['-v'], { stdio: 'ignore' }).status === 0) return path;
  }
  return undefined;
}

export interface ServerStats {
  /** UP, DOWN, or a transition such as "UP 1/2". */
  status: string;
  /** Connections handed to this backend in all. */
  connections: number;
  /** The last health check's result, e.g. L7OK (it answered WELCOME) or L7RSP, L4CON. */
  check: string;
}

export interface RunningHaproxy {
  port: number;
  httpPort: number | undefined;
  /** Per backend server, from the runtime API. */
  stats(): Promise<Map<string, ServerStats>>;
  stop(): Promise<void>;
}

/**
 * Starts HAProxy on free loopback ports in front of `backends`; resolves once
 * its frontend accepts connections. Bounded: a few tries, each a few seconds.
 */
export async function startHaproxy(
  binary: string,
  dir: string,
  backends: Backend[],
  options: { http?: boolean } = {},
): Promise<RunningHaproxy> {
  for (let attempt = 1; ; attempt++) {
    const layout: HaproxyLayout = {
      port: await freePort(),
      backends,
      statsSocket: join(dir, 'haproxy.sock'),
      ...(options.http ? { httpPort: await freePort() } : {}),
    };
    const cfg = join(dir, 'haproxy.cfg');
    await writeFile(cfg, haproxyConfig(layout));
    const child = killOnExit(
      spawn(binary, ['-q', '-db', '-f', cfg], { stdio: ['ignore', 'ignore', 'pipe'] }),
    );
    let stderr = '';
    child.stderr?.on('data', (d: Buffer) => (stderr += d.toString()));
    if (await accepting(layout.port, child, 5000)) {
      return {
        port: layout.port,
        httpPort: layout.httpPort,
        stats: () => readStats(layout.statsSocket ?? ''),
        stop: () => stopChild(child),
      };
    }
    await stopChild(child);
    // Another process may have taken a port between freePort() and the bind.
    if (attempt >= 3) throw new Error(`haproxy did not start: ${stderr}`);
  }
}

async function accepting(port: number, child: ChildProcess, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline && child.exitCode === null) {
    const ok = await new Promise<boolean>((resolve) => {
      const socket = connect(port, '127.0.0.1', () => {
        socket.destroy();
        resolve(true);
      });
      socket.on('error', () => resolve(false));
    });
    if (ok) return true;
    await new Promise((r) => setTimeout(r, 50));
  }
  return false;
}

/** `show stat` over the runtime API socket, as one row per backend server. */
async function readStats(socketPath: string): Promise<Map<string, ServerStats>> {
  const csv = await new Promise<string>((resolve, reject) => {
    let text = '';
    const socket = connect(socketPath, () => socket.end('show stat\n'));
    socket.setTimeout(5000, () => socket.destroy(new Error('haproxy stats socket timed out')));
    socket.on('data', (d: Buffer) => (text += d.toString()));
    socket.on('end', () => resolve(text));
    socket.on('error', reject);
  });
  const [header = '', ...rows] = csv.trim().split('\n');
  const columns = header.replace(/^# /, '').split(',');
  const at = (row: string[], name: string) => row[columns.indexOf(name)] ?? '';
  const stats = new Map<string, ServerStats>();
  for (const line of rows) {
    const row = line.split(',');
    if (at(row, 'pxname') !== 'xfer_servers' || ['FRONTEND', 'BACKEND'].includes(at(row, 'svname'))) continue;
    stats.set(at(row, 'svname'), {
      status: at(row, 'status'),
      connections: Number(at(row, 'stot')),
      check: at(row, 'check_status'),
    });
  }
  return stats;
}

export interface ServeProcess {
  child: ChildProcess;
  port: number;
  /** Everything the server wrote to stderr so far (its log). */
  log(): string;
  /** Bytes of the GETs it finished sending since `since` (logged with --verbose): what it carried. */
  bytesSent(since?: Date): number;
  stop(): Promise<void>;
}

/** A real `xfer serve` process on a free loopback port. */
export async function startServe(root: string, extraArgs: string[] = []): Promise<ServeProcess> {
  const child = killOnExit(
    startCli(['serve', '--root', root, '--host', '127.0.0.1', '--port', '0', ...extraArgs]),
  );
  let log = '';
  child.stderr?.on('data', (d: Buffer) => (log += d.toString()));
  const banner = await waitForStderr(child, /on 127\.0\.0\.1:(\d+)/);
  const port = Number(/on 127\.0\.0\.1:(\d+)/.exec(banner)?.[1]);
  return {
    child,
    port,
    log: () => log,
    bytesSent: (since = new Date(0)) => sendsIn(log).reduce((n, s) => (s.at >= since ? n + s.bytes : n), 0),
    stop: () => stopChild(child),
  };
}

/** The `sent "NAME" OFFSET+LENGTH` lines of a --verbose server log. */
function sendsIn(log: string): { at: Date; bytes: number }[] {
  return [...log.matchAll(/^(\S+) debug .* sent ".*" \d+\+(\d+)$/gm)].map((m) => ({
    at: new Date(m[1] ?? ''),
    bytes: Number(m[2]),
  }));
}

/** A child that outlives a crashed test or script would hold its port: it is killed on exit too. */
function killOnExit(child: ChildProcess): ChildProcess {
  const kill = () => child.kill('SIGKILL');
  process.once('exit', kill);
  child.once('exit', () => process.off('exit', kill));
  return child;
}

/** SIGTERM, then SIGKILL if it has not exited within 3 s; resolves once it has exited. */
export async function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((resolve) => child.once('exit', resolve));
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), 3000);
  await exited;
  clearTimeout(timer);
}
