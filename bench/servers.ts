/**
 * The servers a bench run measures: `xfer serve` (the built CLI) and nginx,
 * each on a free loopback port. The runner stops both in its `finally`.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { freePort } from '../test/helpers/ports.js';
import { peerCommand } from './peers.js';

/** The bundled CLI, as `npm run build` leaves it. */
export const CLI = fileURLToPath(new URL('../bin/main.js', import.meta.url));

/** How long nginx may take to answer its first request. */
const NGINX_START_POLLS = 50;
const NGINX_START_POLL_MS = 100;
const CURL_COULD_NOT_CONNECT = 7;

export interface XferServer {
  child: ChildProcess;
  port: number;
  /** HOST:PORT, as `xfer get` and `xfer client` take it. */
  addr: string;
}

export interface Nginx {
  port: number;
  /** The URL of a file under the docroot. */
  url(name: string): string;
  stop(): void;
}

export async function startXferServer(root: string): Promise<XferServer> {
  const child = spawn(
    process.execPath,
    [CLI, 'serve', '--root', root, '--host', '127.0.0.1', '--port', '0'],
    {
      stdio: ['ignore', 'ignore', 'pipe'],
    },
  );
  const port = await new Promise<number>((resolve, reject) => {
    let seen = '';
    child.stderr?.on('data', (d: Buffer) => {
      seen += d.toString();
      const m = /on 127\.0\.0\.1:(\d+)/.exec(seen);
      if (m) resolve(Number(m[1]));
    });
    child.on('exit', () => reject(new Error(`xfer serve exited: ${seen}`)));
  });
  return { child, port, addr: `127.0.0.1:${port}` };
}

/** nginx serving `docroot` with sendfile, its config, pid and logs inside `work`. */
export async function startNginx(work: string, docroot: string): Promise<Nginx> {
  const port = await freePort();
  const conf = join(work, 'nginx.conf');
  await mkdir(join(work, 'nginx-tmp'), { recursive: true });
  await writeFile(
    conf,
    `user root;
worker_processes auto;
daemon off;
pid ${work}/nginx.pid;
error_log ${work}/nginx-error.log;
events { worker_connections 4096; }
http {
  access_log off;
  sendfile on;
  tcp_nopush on;
  keepalive_requests 100000;
  client_body_temp_path ${work}/nginx-tmp/body;
  proxy_temp_path ${work}/nginx-tmp/proxy;
  fastcgi_temp_path ${work}/nginx-tmp/fastcgi;
  uwsgi_temp_path ${work}/nginx-tmp/uwsgi;
  scgi_temp_path ${work}/nginx-tmp/scgi;
  server { listen 127.0.0.1:${port}; root ${docroot}; }
}
`,
  );
  const child = spawn(peerCommand('nginx'), ['-c', conf], { stdio: 'ignore' });
  for (let i = 0; i < NGINX_START_POLLS; i++) {
    // Any answer, even 403 for the docroot's listing, means it is up; 7 is curl's "could not connect".
    if (
      spawnSync('curl', ['-s', '-o', '/dev/null', `http://127.0.0.1:${port}/`]).status !==
      CURL_COULD_NOT_CONNECT
    ) {
      break;
    }
    await new Promise((r) => setTimeout(r, NGINX_START_POLL_MS));
  }
  return {
    port,
    url: (name) => `http://127.0.0.1:${port}/${name}`,
    stop: () => child.kill('SIGQUIT'),
  };
}
