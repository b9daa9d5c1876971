import { spawn, spawnSync } from 'node:child_process';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { TestContext } from 'node:test';
import { freePort } from './ports.js';
import { tempDir, waitFor } from './tmp.js';

export interface TestNginx {
  /** `http://127.0.0.1:PORT/` serving `root`. */
  base: string;
  root: string;
  /** The access log, one `RequestLog` a request. */
  requests(): Promise<RequestLog[]>;
}

export interface RequestLog {
  /** nginx's connection serial number: distinct numbers are distinct TCP connections. */
  connection: number;
  request: string;
  status: number;
  bytesSent: number;
  range: string;
  /** When the request started and ended (ms since the epoch, from $msec and $request_time). */
  startMs: number;
  endMs: number;
}

const NGINX = ['/usr/sbin/nginx', '/usr/bin/nginx'].find((p) => spawnSync(p, ['-v']).status === 0);

/**
 * A real nginx (Debian nginx-light) on a free loopback port serving a temp
 * folder, stopped when the test ends. Missing nginx skips the test with the
 * reason, except under CI=true, where .ci/run installs it and a skip would
 * hide a gap: there it fails.
 */
export async function startNginx(
  t: TestContext,
  options: { config?: string } = {},
): Promise<TestNginx | undefined> {
  if (!NGINX) {
    if (process.env['CI'] === 'true')
      throw new Error('nginx is missing under CI=true (.ci/run installs nginx-light)');
    t.skip('nginx is not installed (Debian: apt-get install nginx-light)');
    return undefined;
  }
  const dir = await tempDir(t, 'xfer-nginx-');
  const root = join(dir, 'root');
  await mkdir(root);
  await mkdir(join(dir, 'tmp'));
  for (let attempt = 1; ; attempt++) {
    const port = await freePort();
    const conf = join(dir, 'nginx.conf');
    await writeFile(conf, config(dir, root, port, options.config ?? ''));
    const child = spawn(NGINX, ['-p', dir, '-c', conf, '-g', 'daemon off;'], {
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    let dead = false;
    void exited.then(() => (dead = true));
    t.after(async () => {
      if (!dead) child.kill('SIGTERM');
      await exited;
    });
    await waitFor(async () => dead || (await reachable(port)), 10_000, 'nginx to listen');
    if (!dead) {
      return {
        base: `http://127.0.0.1:${port}/`,
        root,
        requests: async () => parseLog(await readFile(join(dir, 'access.log'), 'utf8').catch(() => '')),
      };
    }
    // Another process took the port between our check and nginx's bind: try another.
    if (attempt >= 3 || !stderr.includes('Address already in use'))
      throw new Error(`nginx failed: ${stderr}`);
  }
}

function config(dir: string, root: string, port: number, extra: string): string {
  // As root, workers would run as nobody and could not read the 0700 temp folders.
  const user = process.getuid?.() === 0 ? 'user root root;' : '';
  return `${user}
worker_processes 1;
error_log ${dir}/error.log warn;
pid ${dir}/nginx.pid;
events { worker_connections 256; }
http {
  log_format xfer '$connection $msec $request_time $status $body_bytes_sent "$http_range" "$request"';
  access_log ${dir}/access.log xfer;
  client_body_temp_path ${dir}/tmp/body;
  proxy_temp_path ${dir}/tmp/proxy;
  fastcgi_temp_path ${dir}/tmp/fastcgi;
  uwsgi_temp_path ${dir}/tmp/uwsgi;
  scgi_temp_path ${dir}/tmp/scgi;
  types { application/octet-stream bin; }
  server {
    listen 127.0.0.1:${port};
    root ${root};
    ${extra}
  }
}
`;
}

function parseLog(text: string): RequestLog[] {
  const out: RequestLog[] = [];
  for (const line of text.split('\n')) {
    const m = /^(\d+) ([\d.]+) ([\d.]+) (\d+) (\d+) "([^"]*)" "(.*)"$/.exec(line);
    if (!m) continue;
    const endMs = Number(m[2]) * 1000;
    out.push({
      connection: Number(m[1]),
      endMs,
      startMs: endMs - Number(m[3]) * 1000,
      status: Number(m[4]),
      bytesSent: Number(m[5]),
      range: m[6] ?? '',
      request: m[7] ?? '',
    });
  }
  return out;
}

/** The most distinct connections that had a request in progress at the same moment. */
export function peakConcurrentConnections(log: RequestLog[]): number {
  let peak = 0;
  for (const r of log) {
    const at = r.startMs + (r.endMs - r.startMs) / 2;
    const active = new Set(log.filter((o) => o.startMs <= at && at <= o.endMs).map((o) => o.connection));
    peak = Math.max(peak, active.size);
  }
  return peak;
}

function reachable(port: number): Promise<boolean> {
  return fetch(`http://127.0.0.1:${port}/`).then(
    (r) => (void r.body?.cancel(), true),
    () => false,
  );
}
