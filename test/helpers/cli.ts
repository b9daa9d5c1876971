import { spawn, type ChildProcess } from 'node:child_process';
import { chmodSync, cpSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const CLI = fileURLToPath(new URL('../../bin/main.js', import.meta.url));

let cliForOthers: string | undefined;
/**
 * The bundle copied once into a folder every user may read: the checkout itself may
 * sit in a folder only its owner can enter (a CI clone in a 0700 temp folder).
 */
function cliAnyUserCanRun(): string {
  if (!cliForOthers) {
    const dir = mkdtempSync(join(tmpdir(), 'xfer-cli-'));
    cpSync(dirname(CLI), dir, { recursive: true });
    chmodSync(dir, 0o755);
    process.once('exit', () => rmSync(dir, { recursive: true, force: true }));
    cliForOthers = join(dir, basename(CLI));
  }
  return cliForOthers;
}

export interface CliResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

/** Runs the real `xfer` binary with no terminal on stdin. */
export function runCli(
  args: string[],
  options: { env?: Record<string, string>; timeoutMs?: number; cwd?: string; uid?: number } = {},
): Promise<CliResult> {
  return finished(startCli(args, options), options.timeoutMs ?? 60_000);
}

export function startCli(
  args: string[],
  options: { env?: Record<string, string>; cwd?: string; uid?: number } = {},
): ChildProcess {
  const cli = options.uid === undefined ? CLI : cliAnyUserCanRun();
  return spawn(process.execPath, [cli, ...args], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, NO_COLOR: '1', ...options.env },
    ...(options.cwd ? { cwd: options.cwd } : {}),
    // As another (unprivileged) user: what a permission check sees when the tests run as root.
    ...(options.uid !== undefined ? { uid: options.uid, gid: options.uid } : {}),
  });
}

export function finished(child: ChildProcess, timeoutMs = 60_000): Promise<CliResult> {
  let stdout = '';
  let stderr = '';
  child.stdout?.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr?.on('data', (d: Buffer) => (stderr += d.toString()));
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`xfer did not exit within ${timeoutMs} ms\nstdout: ${stdout}\nstderr: ${stderr}`));
    }, timeoutMs);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stdout, stderr });
    });
  });
}

/** Resolves with the output so far once `pattern` appears on the child's stderr. */
export function waitForStderr(child: ChildProcess, pattern: RegExp, timeoutMs = 20_000): Promise<string> {
  let seen = '';
  return new Promise((resolve, reject) => {
    const timer = setTimeout(
      () => reject(new Error(`no ${pattern} on stderr within ${timeoutMs} ms: ${seen}`)),
      timeoutMs,
    );
    const onData = (d: Buffer) => {
      seen += d.toString();
      if (pattern.test(seen)) {
        clearTimeout(timer);
        child.stderr?.off('data', onData);
        resolve(seen);
      }
    };
    child.stderr?.on('data', onData);
  });
}
