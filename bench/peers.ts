/**
 * The tools xfer is compared with: found on PATH (or /usr/sbin), installed
 * from Debian when the bench runs as root, and their versions for the report.
 */
import { spawnSync } from 'node:child_process';
import { log } from './log.js';

/** Each peer's command and the Debian package it comes in. */
const PACKAGES = { aria2c: 'aria2', axel: 'axel', nginx: 'nginx-light', curl: 'curl' } as const;

export type Peer = keyof typeof PACKAGES;
export type Peers = Record<Peer, boolean>;

function has(cmd: string): boolean {
  return spawnSync('sh', ['-c', `command -v ${cmd}`]).status === 0;
}

/** The command to run a peer by: its name on PATH, else its /usr/sbin path (nginx for a non-root user). */
export function peerCommand(cmd: Peer): string {
  return has(cmd) ? cmd : `/usr/sbin/${cmd}`;
}

/** Which peers can run; as root, missing ones are installed first. */
export function ensurePeers(): Peers {
  const installed = (cmd: string) => has(cmd) || has(`/usr/sbin/${cmd}`);
  const missing = Object.entries(PACKAGES).filter(([cmd]) => !installed(cmd));
  const packages = missing.map(([, pkg]) => pkg);
  if (missing.length > 0) {
    if (process.getuid?.() === 0) {
      log(`installing ${packages.join(', ')}`);
      spawnSync('apt-get', ['update', '-qq'], { stdio: 'ignore' });
      spawnSync('apt-get', ['install', '-y', '-qq', ...packages], {
        stdio: 'ignore',
        env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' },
      });
    } else {
      log(`not root: install ${packages.join(' ')} to compare against them; skipping them`);
    }
  }
  const peers = {} as Peers;
  for (const cmd of Object.keys(PACKAGES) as Peer[]) peers[cmd] = installed(cmd);
  return peers;
}

function version(cmd: string, args: string[]): string {
  const r = spawnSync(cmd, args, { encoding: 'utf8' });
  return `${r.stdout}${r.stderr}`.split('\n')[0]?.trim() ?? '?';
}

/** Each peer's version line, or "not installed". */
export function peerVersions(peers: Peers): Record<Peer, string> {
  const of = (cmd: Peer, args: string[]) => (peers[cmd] ? version(peerCommand(cmd), args) : 'not installed');
  return {
    aria2c: of('aria2c', ['--version']),
    axel: of('axel', ['--version']),
    nginx: of('nginx', ['-v']),
    curl: of('curl', ['--version']),
  };
}
