/**
 * Processes measured through /proc: wall time, peak RSS (VmHWM) and CPU time
 * (user + system) of a tool while it runs.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { readFile } from 'node:fs/promises';

/** Clock ticks per second of /proc/PID/stat's utime and stime (USER_HZ, 100 on Linux). */
const CLK_TCK = 100;
/** How often a watched process is sampled. */
const SAMPLE_INTERVAL_MS = 20;

export interface Sample {
  seconds: number;
  rssMiB?: number;
  cpuSeconds?: number;
}

export interface Watched {
  child: ChildProcess;
  done: Promise<Sample>;
}

/** CPU seconds (user + system) a process has used so far. */
export async function cpuOf(pid: number): Promise<number> {
  const stat = (await readFile(`/proc/${pid}/stat`, 'utf8')).split(') ')[1]?.split(' ') ?? [];
  return (Number(stat[11] ?? 0) + Number(stat[12] ?? 0)) / CLK_TCK;
}

/** A process's peak resident set so far, in MiB. */
export async function peakRssOf(pid: number): Promise<number> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8');
  return Number(/VmHWM:\s+(\d+)/.exec(status)?.[1] ?? 0) / 1024;
}

/**
 * Runs a command, sampling its peak RSS (VmHWM) and CPU time from /proc while
 * it runs. `sample: false` skips the sampling, whose /proc reads would compete
 * for the CPU where 20 processes already share 2 cores.
 */
export function watch(cmd: string, argv: string[], { sample: sampled = true } = {}): Watched {
  const started = performance.now();
  const child = spawn(cmd, argv, { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr?.on('data', (d: Buffer) => (stderr += d.toString()));
  let rssMiB = 0;
  let cpuSeconds = 0;
  const sample = async () => {
    try {
      const pid = child.pid ?? 0;
      rssMiB = Math.max(rssMiB, await peakRssOf(pid));
      cpuSeconds = await cpuOf(pid);
    } catch {
      // exited between samples
    }
  };
  const timer = sampled ? setInterval(() => void sample(), SAMPLE_INTERVAL_MS) : undefined;
  const done = new Promise<Sample>((resolve, reject) => {
    child.on('close', (code) => {
      clearInterval(timer);
      const seconds = (performance.now() - started) / 1000;
      if (code !== 0) reject(new Error(`${cmd} ${argv.join(' ')} exited ${code}: ${stderr.slice(-500)}`));
      else resolve({ seconds, rssMiB, cpuSeconds });
    });
  });
  return { child, done };
}
