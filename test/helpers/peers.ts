import { execFile } from 'node:child_process';
import { spawnSync } from 'node:child_process';
import type { TestContext } from 'node:test';

/** Debian packages that provide each interop peer, for the skip message and .ci/run. */
const PACKAGES: Record<string, string> = {
  curl: 'curl',
  wget: 'wget',
  axel: 'axel',
  aria2c: 'aria2',
  nginx: 'nginx-light',
  chromium: 'chromium',
};

/**
 * True when `command` is installed. Outside CI a missing peer skips the test
 * with its reason; under CI=true (where .ci/run installs the peers) it fails it,
 * so no interop test is ever silently skipped there.
 */
export function havePeer(t: TestContext, command: string): boolean {
  if (spawnSync('sh', ['-c', `command -v ${command}`]).status === 0) return true;
  const reason = `${command} is not installed (Debian package ${PACKAGES[command] ?? command})`;
  if (process.env['CI'] === 'true') throw new Error(`${reason}; CI must install it (.ci/run does when root)`);
  t.diagnostic(reason);
  t.skip(reason);
  return false;
}

export interface PeerRun {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs a peer to completion (bounded by `timeoutMs`), never throwing on a non-zero exit. */
export function runPeer(
  command: string,
  args: string[],
  options: { cwd?: string; timeoutMs?: number } = {},
): Promise<PeerRun> {
  return new Promise((resolve) => {
    execFile(
      command,
      args,
      {
        cwd: options.cwd,
        timeout: options.timeoutMs ?? 60_000,
        maxBuffer: 16 * 1024 * 1024,
        encoding: 'utf8',
      },
      (err, stdout, stderr) => {
        const code = err ? (typeof err.code === 'number' ? err.code : -1) : 0;
        resolve({ code, stdout, stderr });
      },
    );
  });
}
