/**
 * `npm run bench`: xfer against aria2c, axel, curl (all against nginx) and cp,
 * on this machine, with the page cache warm. Prints a Markdown table with
 * ratios and writes the same numbers as JSON. Not part of `npm test`.
 *
 *   npm run bench                 # the full run (about 8 minutes on 2 cores)
 *   npm run bench -- --quick      # smaller files, for a first look
 *   npm run bench -- --out FILE   # where the JSON goes (default: bench-results.json)
 *   npm run bench -- --only small,clients   # some workloads: big, small, clients, limited
 */
import { execFileSync, spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { randomFillSync } from 'node:crypto';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { open } from 'node:fs/promises';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { sha256Range } from '../src/file-hash.js';
import { Relay } from '../test/helpers/relay.js';

const CLI = fileURLToPath(new URL('../bin/main.js', import.meta.url));
const MiB = 1024 * 1024;
const CLK_TCK = 100;

const { values: args } = parseArgs({
  options: {
    quick: { type: 'boolean', default: false },
    out: { type: 'string', default: 'bench-results.json' },
    only: { type: 'string', default: 'big,small,clients,limited' },
  },
});
const quick = args.quick;
const workloads = new Set(args.only.split(','));
for (const w of workloads) {
  if (!['big', 'small', 'clients', 'limited'].includes(w)) {
    process.stderr.write(`bench: unknown workload "${w}" in --only (big, small, clients, limited)\n`);
    process.exit(2);
  }
}
const sizes = {
  big: quick ? 256 * MiB : 1024 * MiB,
  smallCount: quick ? 500 : 2000,
  smallSize: 16 * 1024,
  clients: quick ? 8 : 20,
  clientFile: quick ? 32 * MiB : 64 * MiB,
  limited: quick ? 128 * MiB : 1024 * MiB,
  linkRate: 25 * MiB,
  runs: 3,
};

interface Sample {
  seconds: number;
  rssMiB?: number;
  cpuSeconds?: number;
}
interface Row {
  workload: string;
  tool: string;
  runs: Sample[];
}
const rows: Row[] = [];

function log(line: string): void {
  process.stderr.write(`bench: ${line}\n`);
}

// ---------------------------------------------------------------- peers

function has(cmd: string): boolean {
  return spawnSync('sh', ['-c', `command -v ${cmd}`]).status === 0;
}

function ensurePeers(): Record<string, boolean> {
  const wanted = { aria2c: 'aria2', axel: 'axel', nginx: 'nginx-light', curl: 'curl' };
  const missing = Object.entries(wanted).filter(([cmd]) => !has(cmd) && !has(`/usr/sbin/${cmd}`));
  if (missing.length > 0) {
    if (process.getuid?.() === 0) {
      log(`installing ${missing.map(([, pkg]) => pkg).join(', ')}`);
      spawnSync('apt-get', ['update', '-qq'], { stdio: 'ignore' });
      spawnSync('apt-get', ['install', '-y', '-qq', ...missing.map(([, pkg]) => pkg)], {
        stdio: 'ignore',
        env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' },
      });
    } else {
      log(
        `not root: install ${missing.map(([, pkg]) => pkg).join(' ')} to compare against them; skipping them`,
      );
    }
  }
  return Object.fromEntries(Object.keys(wanted).map((cmd) => [cmd, has(cmd) || has(`/usr/sbin/${cmd}`)]));
}

function version(cmd: string, args: string[]): string {
  const r = spawnSync(cmd, args, { encoding: 'utf8' });
  return `${r.stdout}${r.stderr}`.split('\n')[0]?.trim() ?? '?';
}

// ---------------------------------------------------------------- processes

interface Watched {
  child: ChildProcess;
  done: Promise<Sample>;
}

/**
 * Runs a command, sampling its peak RSS (VmHWM) and CPU time from /proc while
 * it runs. `sample: false` skips the sampling, whose /proc reads would compete
 * for the CPU where 20 processes already share 2 cores.
 */
function watch(cmd: string, argv: string[], { sample: sampled = true } = {}): Watched {
  const started = performance.now();
  const child = spawn(cmd, argv, { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr?.on('data', (d: Buffer) => (stderr += d.toString()));
  let rssKiB = 0;
  let cpuTicks = 0;
  const sample = async () => {
    try {
      const status = await readFile(`/proc/${child.pid}/status`, 'utf8');
      rssKiB = Math.max(rssKiB, Number(/VmHWM:\s+(\d+)/.exec(status)?.[1] ?? 0));
      const stat = (await readFile(`/proc/${child.pid}/stat`, 'utf8')).split(') ')[1]?.split(' ') ?? [];
      cpuTicks = Number(stat[11] ?? 0) + Number(stat[12] ?? 0);
    } catch {
      // exited between samples
    }
  };
  const timer = sampled ? setInterval(() => void sample(), 20) : undefined;
  const done = new Promise<Sample>((resolve, reject) => {
    child.on('close', (code) => {
      clearInterval(timer);
      const seconds = (performance.now() - started) / 1000;
      if (code !== 0) reject(new Error(`${cmd} ${argv.join(' ')} exited ${code}: ${stderr.slice(-500)}`));
      else resolve({ seconds, rssMiB: rssKiB / 1024, cpuSeconds: cpuTicks / CLK_TCK });
    });
  });
  return { child, done };
}

async function cpuOf(pid: number): Promise<number> {
  const stat = (await readFile(`/proc/${pid}/stat`, 'utf8')).split(') ')[1]?.split(' ') ?? [];
  return (Number(stat[11] ?? 0) + Number(stat[12] ?? 0)) / CLK_TCK;
}

async function peakRssOf(pid: number): Promise<number> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8');
  return Number(/VmHWM:\s+(\d+)/.exec(status)?.[1] ?? 0) / 1024;
}

async function startXferServer(root: string): Promise<{ child: ChildProcess; port: number }> {
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
  return { child, port };
}

async function startNginx(work: string, docroot: string): Promise<{ port: number; stop(): void }> {
  const port = 20000 + Math.floor(Math.random() * 20000);
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
  const nginx = has('nginx') ? 'nginx' : '/usr/sbin/nginx';
  const child = spawn(nginx, ['-c', conf], { stdio: 'ignore' });
  for (let i = 0; i < 50; i++) {
    if (spawnSync('curl', ['-sf', '-o', '/dev/null', `http://127.0.0.1:${port}/`]).status !== 22) break;
    await new Promise((r) => setTimeout(r, 100));
  }
  return { port, stop: () => child.kill('SIGQUIT') };
}

// ---------------------------------------------------------------- data

async function writeRandomFile(path: string, size: number): Promise<void> {
  const fh = await open(path, 'w');
  const chunk = Buffer.allocUnsafe(Math.min(size, 64 * MiB));
  for (let pos = 0; pos < size; pos += chunk.length) {
    randomFillSync(chunk);
    await fh.write(chunk, 0, Math.min(chunk.length, size - pos), pos);
  }
  await fh.close();
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 ? (s[mid] ?? 0) : ((s[mid - 1] ?? 0) + (s[mid] ?? 0)) / 2;
}

/**
 * Reads the workload's source files just before a timed run. A warm page cache
 * cannot be taken for granted: this VM runs DAMON proactive reclaim (a kdamond
 * with the `pageout` action), which pages out file data unused for a few
 * seconds, so a file warmed a minute earlier is partly back on disk, and the
 * first tool of each round paid for reading it while the next found it warm.
 */
function warm(paths: string): void {
  execFileSync('sh', ['-c', `cat ${paths} > /dev/null`]);
}

/**
 * Runs each tool `runs` times, alternating tools between runs so drift hits
 * them all alike; `sources` (a shell glob) is read into the page cache first.
 */
async function compare(
  workload: string,
  sources: string,
  tools: [string, () => Promise<Sample>][],
  runs = sizes.runs,
): Promise<void> {
  const byTool = new Map(tools.map(([name]) => [name, [] as Sample[]]));
  for (let run = 0; run < runs; run++) {
    for (const [name, fn] of tools) {
      warm(sources);
      const sample = await fn();
      byTool.get(name)?.push(sample);
      log(`${workload} · ${name} · run ${run + 1}: ${sample.seconds.toFixed(2)} s`);
    }
  }
  for (const [name, samples] of byTool) rows.push({ workload, tool: name, runs: samples });
}

// ---------------------------------------------------------------- main

const peers = ensurePeers();
const work = await mkdtemp(join(tmpdir(), 'xfer-bench-'));
const root = join(work, 'server');
const resources = join(root, 'resources');
const out = join(work, 'out');
await mkdir(join(resources, 'small'), { recursive: true });
await mkdir(out);
log(`work folder ${work}; generating data`);
const clientFiles = workloads.has('clients')
  ? Array.from({ length: sizes.clients }, (_, i) => `client-${i}.bin`)
  : [];
const bigFiles = [
  ...(workloads.has('big') ? ['big.bin'] : []),
  ...(workloads.has('limited') ? ['limited.bin'] : []),
  ...clientFiles,
];
for (const name of bigFiles) {
  const size = name === 'big.bin' ? sizes.big : name === 'limited.bin' ? sizes.limited : sizes.clientFile;
  await writeRandomFile(join(resources, name), size);
}
const small = Buffer.allocUnsafe(sizes.smallSize);
const smallNames: string[] = [];
for (let i = 0; i < sizes.smallCount; i++) {
  randomFillSync(small);
  const name = `small/s${String(i).padStart(5, '0')}.bin`;
  smallNames.push(name);
  await writeFile(join(resources, name), small);
}
execFileSync('sync');

const server = await startXferServer(root);
const xferAddr = `127.0.0.1:${server.port}`;
const nginx = peers['nginx'] ? await startNginx(work, resources) : undefined;
const url = (name: string) => `http://127.0.0.1:${nginx?.port ?? 0}/${name}`;
/** SHA-256 of a served file, for aria2c's --checksum. */
const sha256Of = async (name: string): Promise<string> => {
  const fh = await open(join(resources, name));
  try {
    return (await sha256Range(fh, 0, (await fh.stat()).size)).toString('hex');
  } finally {
    await fh.close();
  }
};
/**
 * aria2c fetching one file over 4 connections, as its users would run it; with
 * `checksum` it also verifies the SHA-256, as xfer always does.
 */
const aria2One = (name: string, { sample = true, checksum = '' } = {}) =>
  watch(
    'aria2c',
    [
      ...(checksum ? [`--checksum=sha-256=${checksum}`] : []),
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
      url(name),
    ],
    { sample },
  );
const ARIA2_VERIFIED = '--checksum=sha-256';
/**
 * Before each timed run: an empty output folder, and no dirty pages left from
 * the previous run, so one tool's writeback is not charged to the next tool.
 */
const clean = async () => {
  await rm(out, { recursive: true, force: true });
  await mkdir(out);
  execFileSync('sync');
};
const xferGet =
  (names: string[], extra: string[] = [], addr = xferAddr) =>
  async () => {
    await clean();
    return watch(process.execPath, [CLI, 'get', addr, ...names, '--out', out, ...extra]).done;
  };

// Warm-up: the server hashes every file once (cached per version), and the page cache fills.
log('warm-up: hashing on the server and filling the page cache');
if (bigFiles.length > 0) await xferGet(bigFiles)();
execFileSync('sh', ['-c', `cat ${resources}/*.bin ${resources}/small/* > /dev/null 2>&1; true`]);

// 1. One big file, 4 connections.
let serverCpuPerGiB = Number.NaN;
if (workloads.has('big')) {
  const serverCpuBefore = await cpuOf(server.child.pid ?? 0);
  const bigTools: [string, () => Promise<Sample>][] = [['xfer', xferGet(['big.bin'])]];
  if (peers['aria2c'] && nginx) {
    bigTools.push([
      'aria2c -x4 -s4',
      async () => {
        await clean();
        return aria2One('big.bin').done;
      },
    ]);
    const checksum = await sha256Of('big.bin');
    bigTools.push([
      `aria2c -x4 -s4 ${ARIA2_VERIFIED}`,
      async () => {
        await clean();
        return aria2One('big.bin', { checksum }).done;
      },
    ]);
  }
  if (peers['axel'] && nginx) {
    bigTools.push([
      'axel -n 4',
      async () => {
        await clean();
        return watch('axel', ['-q', '-n', '4', '-o', join(out, 'big.bin'), url('big.bin')]).done;
      },
    ]);
  }
  if (peers['curl'] && nginx) {
    bigTools.push([
      'curl',
      async () => {
        await clean();
        return watch('curl', ['-s', '-o', join(out, 'big.bin'), url('big.bin')]).done;
      },
    ]);
  }
  bigTools.push([
    'cp',
    async () => {
      await clean();
      return watch('cp', [join(resources, 'big.bin'), join(out, 'big.bin')]).done;
    },
  ]);
  await compare(`one ${sizes.big / MiB} MiB file`, join(resources, 'big.bin'), bigTools);
  serverCpuPerGiB =
    ((await cpuOf(server.child.pid ?? 0)) - serverCpuBefore) / (sizes.runs * (sizes.big / (1024 * MiB)));
}

// 2. Many small files, over input.txt vs aria2c -i.
// Each run writes into a folder of its own and none is deleted until the end: on
// a file system without a journal, ext4 skips inodes freed in the last minute
// when it allocates (recently_deleted), so creating 2000 files right after
// deleting 2000 costs up to 1 ms a file, a charge that depends on which tool ran
// before rather than on the tool measured.
let smallRun = 0;
const freshSmallOut = async () => {
  const dir = join(work, 'small-runs', String(smallRun++));
  await mkdir(dir, { recursive: true });
  execFileSync('sync');
  return dir;
};
if (workloads.has('small')) {
  const smallTools: [string, () => Promise<Sample>][] = [
    [
      'xfer client --once',
      async () => {
        const dir = await freshSmallOut();
        await writeFile(join(dir, 'input.txt'), `${smallNames.join('\n')}\n`);
        return watch(process.execPath, [CLI, 'client', xferAddr, '--dir', dir, '--once']).done;
      },
    ],
  ];
  if (peers['aria2c'] && nginx) {
    smallTools.push([
      'aria2c -i -j16',
      async () => {
        const dir = await freshSmallOut();
        const list = smallNames.map((n) => `${url(n)}\n  out=${n}`).join('\n');
        await writeFile(join(work, 'urls.txt'), `${list}\n`);
        return watch('aria2c', [
          '-q',
          '-i',
          join(work, 'urls.txt'),
          '-j',
          '16',
          '-x',
          '1',
          '--file-allocation=none',
          '-d',
          dir,
        ]).done;
      },
    ]);
  }
  await compare(
    `${sizes.smallCount} files of ${sizes.smallSize / 1024} KiB`,
    join(resources, 'small', '*'),
    smallTools,
  );
}

// 3. Many clients at once, each its own file: aggregate throughput.
if (workloads.has('clients')) {
  const manyClients = async (start: (i: number) => Watched): Promise<Sample> => {
    await clean();
    const t0 = performance.now();
    await Promise.all(Array.from({ length: sizes.clients }, (_, i) => start(i).done));
    return { seconds: (performance.now() - t0) / 1000 };
  };
  const manyTools: [string, () => Promise<Sample>][] = [
    [
      'xfer server + xfer get',
      () =>
        manyClients((i) =>
          watch(process.execPath, [CLI, 'get', xferAddr, `client-${i}.bin`, '--out', out], { sample: false }),
        ),
    ],
  ];
  if (peers['aria2c'] && nginx) {
    manyTools.push([
      'nginx + aria2c -x4',
      () => manyClients((i) => aria2One(`client-${i}.bin`, { sample: false })),
    ]);
    const checksums = await Promise.all(clientFiles.map(sha256Of));
    manyTools.push([
      `nginx + aria2c -x4 ${ARIA2_VERIFIED}`,
      () => manyClients((i) => aria2One(`client-${i}.bin`, { sample: false, checksum: checksums[i] ?? '' })),
    ]);
  }
  await compare(
    `${sizes.clients} clients x ${sizes.clientFile / MiB} MiB`,
    join(resources, 'client-*.bin'),
    manyTools,
  );
}
const serverPeakRss = await peakRssOf(server.child.pid ?? 0);

// 4. A rate-limited link: 4 connections of 25 MiB/s each vs 1.
if (workloads.has('limited')) {
  const relay = await Relay.start(server.port, () => ({ rateBytesPerSec: sizes.linkRate }));
  const relayAddr = `127.0.0.1:${relay.port}`;
  await compare(
    `${sizes.limited / MiB} MiB over ${sizes.linkRate / MiB} MiB/s links`,
    join(resources, 'limited.bin'),
    [
      ['xfer 4 connections', xferGet(['limited.bin'], ['--connections', '4'], relayAddr)],
      ['xfer 1 connection', xferGet(['limited.bin'], ['--connections', '1'], relayAddr)],
    ],
  );
  await relay.close();
}

server.child.kill('SIGTERM');
nginx?.stop();

// ---------------------------------------------------------------- report

const bytesOf: Record<string, number> = {};
for (const r of rows) {
  if (r.workload.startsWith('one ')) bytesOf[r.workload] = sizes.big;
  else if (r.workload.includes('KiB')) bytesOf[r.workload] = sizes.smallCount * sizes.smallSize;
  else if (r.workload.includes('clients')) bytesOf[r.workload] = sizes.clients * sizes.clientFile;
  else bytesOf[r.workload] = sizes.limited;
}
const medianOf = (workload: string, tool: string) =>
  median(rows.find((r) => r.workload === workload && r.tool === tool)?.runs.map((s) => s.seconds) ?? []);
const lines = [
  `xfer benchmark — ${cpus().length} cores, Node ${process.version}, ${quick ? 'quick' : 'full'} run, ${sizes.runs} runs each (median [min–max])`,
  '',
  '| workload | tool | wall time (s) | MiB/s | vs xfer | peak RSS (MiB) | CPU s |',
  '|---|---|---|---|---|---|---|',
];
for (const r of rows) {
  const secs = r.runs.map((s) => s.seconds);
  const m = median(secs);
  const xferTool = rows.find((x) => x.workload === r.workload && x.tool.startsWith('xfer'))?.tool ?? '';
  const ratio = m / medianOf(r.workload, xferTool);
  const rss = r.runs.map((s) => s.rssMiB ?? 0).filter((x) => x > 0);
  const cpu = r.runs.map((s) => s.cpuSeconds ?? 0).filter((x) => x > 0);
  lines.push(
    `| ${r.workload} | ${r.tool} | ${m.toFixed(2)} [${Math.min(...secs).toFixed(2)}–${Math.max(...secs).toFixed(2)}] | ${((bytesOf[r.workload] ?? 0) / MiB / m).toFixed(0)} | ${r.tool === xferTool ? '1.00' : `${ratio.toFixed(2)}x`} | ${rss.length ? Math.max(...rss).toFixed(0) : '–'} | ${cpu.length ? median(cpu).toFixed(2) : '–'} |`,
  );
}
const big = `one ${sizes.big / MiB} MiB file`;
const limited = rows.find((r) => r.workload.includes('links'))?.workload ?? '';
const smallW = rows.find((r) => r.workload.includes('KiB'))?.workload ?? '';
const manyW = rows.find((r) => r.workload.includes('clients'))?.workload ?? '';
const clientRss = Math.max(
  ...(rows.find((r) => r.workload === big && r.tool === 'xfer')?.runs.map((s) => s.rssMiB ?? 0) ?? [
    Number.NaN,
  ]),
);
const clientCpu =
  median(
    rows.find((r) => r.workload === big && r.tool === 'xfer')?.runs.map((s) => s.cpuSeconds ?? 0) ?? [
      Number.NaN,
    ],
  ) /
  (sizes.big / (1024 * MiB));
const summary = {
  'xfer / aria2c, one big file': medianOf(big, 'xfer') / medianOf(big, 'aria2c -x4 -s4'),
  'xfer / aria2c verifying SHA-256, one big file':
    medianOf(big, 'xfer') / medianOf(big, `aria2c -x4 -s4 ${ARIA2_VERIFIED}`),
  'xfer / cp, one big file': medianOf(big, 'xfer') / medianOf(big, 'cp'),
  'aria2c / xfer, small files': medianOf(smallW, 'aria2c -i -j16') / medianOf(smallW, 'xfer client --once'),
  'xfer / nginx+aria2c throughput, many clients':
    medianOf(manyW, 'nginx + aria2c -x4') / medianOf(manyW, 'xfer server + xfer get'),
  'xfer / nginx+aria2c verifying SHA-256 throughput, many clients':
    medianOf(manyW, `nginx + aria2c -x4 ${ARIA2_VERIFIED}`) / medianOf(manyW, 'xfer server + xfer get'),
  '4 connections / 1 connection speed-up, limited link':
    medianOf(limited, 'xfer 1 connection') / medianOf(limited, 'xfer 4 connections'),
  'client peak RSS (MiB), one big file': clientRss,
  'server peak RSS (MiB), whole bench': serverPeakRss,
  'client CPU s per GiB': clientCpu,
  'server CPU s per GiB': serverCpuPerGiB,
};
lines.push('', '| summary | value |', '|---|---|');
for (const [k, v] of Object.entries(summary))
  lines.push(`| ${k} | ${Number.isFinite(v) ? v.toFixed(2) : 'n/a'} |`);
const versions = {
  node: process.version,
  cores: cpus().length,
  aria2c: peers['aria2c'] ? version('aria2c', ['--version']) : 'not installed',
  axel: peers['axel'] ? version('axel', ['--version']) : 'not installed',
  nginx: peers['nginx'] ? version(has('nginx') ? 'nginx' : '/usr/sbin/nginx', ['-v']) : 'not installed',
  curl: peers['curl'] ? version('curl', ['--version']) : 'not installed',
};
lines.push(
  '',
  `Peers: ${Object.entries(versions)
    .map(([k, v]) => `${k}: ${v}`)
    .join('; ')}`,
);
process.stdout.write(`${lines.join('\n')}\n`);
await writeFile(
  args.out,
  `${JSON.stringify({ date: new Date().toISOString(), quick, sizes, versions, summary, rows }, null, 2)}\n`,
);
log(`results written to ${args.out}`);
await rm(work, { recursive: true, force: true });
