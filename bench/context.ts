/**
 * What every workload gets: the sizes of this run, the peers, the running
 * servers, and the helpers that time tools the same way for all of them.
 */
import { execFileSync } from 'node:child_process';
import { mkdir, open, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { sha256Range } from '../src/file-hash.js';
import { warm } from './data.js';
import { log } from './log.js';
import type { Peers } from './peers.js';
import { watch, type Sample, type Watched } from './proc.js';
import { CLI, type Nginx, type XferServer } from './servers.js';

export const MiB = 1024 * 1024;

export function sizesFor(quick: boolean) {
  return {
    big: quick ? 256 * MiB : 1024 * MiB,
    smallCount: quick ? 500 : 2000,
    smallSize: 16 * 1024,
    clients: quick ? 8 : 20,
    clientFile: quick ? 32 * MiB : 64 * MiB,
    limited: quick ? 128 * MiB : 1024 * MiB,
    linkRate: 25 * MiB,
    runs: 3,
  };
}
export type Sizes = ReturnType<typeof sizesFor>;

/** One tool's timed runs in one workload: a row of the report. */
export interface Row {
  workload: string;
  tool: string;
  runs: Sample[];
}

/** A tool under test: its name in the report and one timed run of it. */
export type Tool = [name: string, run: () => Promise<Sample>];

/** What the runs measured; the report is made from this alone. */
export interface Results {
  rows: Row[];
  /** Bytes moved by one run of each workload, for MiB/s. */
  bytes: Map<string, number>;
  /** The xfer client's footprint on one big file, per GiB of it. */
  clientPeakRssMiB: number;
  clientCpuPerGiB: number;
  serverCpuPerGiB: number;
  serverPeakRssMiB: number;
}

export interface BenchContext {
  sizes: Sizes;
  peers: Peers;
  /** The run's temporary folder, removed at the end. */
  work: string;
  /** The folder the servers serve (xfer's resources/, nginx's docroot). */
  resources: string;
  /** Where whole-file tools write; emptied by `clean()`. */
  out: string;
  xfer: XferServer;
  /** Undefined when nginx is not installed: skip the rows that need it. */
  nginx: Nginx | undefined;
  results: Results;
  /** Empties `out` and flushes dirty pages, so one tool's writeback is not charged to the next. */
  clean(): Promise<void>;
  /** `xfer get` of `names` from `addr` (the server by default) into a clean `out`. */
  xferGet(names: string[], extra?: string[], addr?: string): () => Promise<Sample>;
  /**
   * aria2c fetching one file from nginx (or from `url`) over 4 connections, as
   * its users would run it; with `checksum` it also verifies the SHA-256, as
   * xfer always does.
   */
  aria2One(name: string, options?: { sample?: boolean; checksum?: string; url?: string }): Watched;
  /** SHA-256 (hex) of a served file. */
  sha256Of(name: string): Promise<string>;
  /**
   * Runs each tool `sizes.runs` times, alternating tools between runs so drift
   * hits them all alike; `sources` (a shell glob) is read into the page cache
   * before every run. `bytes` is what one run moves.
   */
  compare(workload: string, bytes: number, sources: string, tools: Tool[]): Promise<void>;
}

/** aria2c's flag for checking the whole file's SHA-256, in row names. */
export const ARIA2_VERIFIED = '--checksum=sha-256';

export function createContext(
  base: Pick<BenchContext, 'sizes' | 'peers' | 'work' | 'resources' | 'out' | 'xfer' | 'nginx'>,
): BenchContext {
  const { sizes, resources, out, xfer, nginx } = base;
  const results: Results = {
    rows: [],
    bytes: new Map(),
    clientPeakRssMiB: Number.NaN,
    clientCpuPerGiB: Number.NaN,
    serverCpuPerGiB: Number.NaN,
    serverPeakRssMiB: Number.NaN,
  };
  const clean = async () => {
    await rm(out, { recursive: true, force: true });
    await mkdir(out);
    execFileSync('sync');
  };
  return {
    ...base,
    results,
    clean,
    xferGet:
      (names, extra = [], addr = xfer.addr) =>
      async () => {
        await clean();
        return watch(process.execPath, [CLI, 'get', addr, ...names, '--out', out, ...extra]).done;
      },
    aria2One: (name, { sample = true, checksum = '', url = nginx?.url(name) ?? '' } = {}) =>
      watch(
        'aria2c',
        [
          ...(checksum ? [`${ARIA2_VERIFIED}=${checksum}`] : []),
          '-q',
          '-x4',
          '-s4',
          '-k1M',
          '--file-allocation=none',
          '--allow-overwrite=true',
          '-d',
          out,
          '-o',
          name,
          url,
        ],
        { sample },
      ),
    sha256Of: async (name) => {
      const fh = await open(join(resources, name));
      try {
        return (await sha256Range(fh, 0, (await fh.stat()).size)).toString('hex');
      } finally {
        await fh.close();
      }
    },
    compare: async (workload, bytes, sources, tools) => {
      const byTool = new Map(tools.map(([name]) => [name, [] as Sample[]]));
      for (let run = 0; run < sizes.runs; run++) {
        for (const [name, fn] of tools) {
          warm(sources);
          const sample = await fn();
          byTool.get(name)?.push(sample);
          log(`${workload} · ${name} · run ${run + 1}: ${sample.seconds.toFixed(2)} s`);
        }
      }
      results.bytes.set(workload, bytes);
      for (const [name, samples] of byTool) results.rows.push({ workload, tool: name, runs: samples });
    },
  };
}
