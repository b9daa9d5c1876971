/**
 * `npm run scale`: several `xfer serve` backends behind HAProxy, with the
 * config docs/scaling.md shows, and 20 real `xfer get` clients through it.
 *
 *   1. Failover: 3 backends over one folder; one is killed (SIGKILL) once every
 *      client is under way and a quarter is sent. Every client must exit 0 with the right
 *      bytes; prints what each backend carried.
 *   2. Scaling: backends capped with --limit-rate-total; 20 clients through 1
 *      backend, then through 3. The aggregate must be at least 2.5 × one.
 *
 *   npm run scale                 # 20 clients × 24 MiB, backends capped at 12 MiB/s (about 2 minutes)
 *   npm run scale -- --quick      # 20 clients × 8 MiB, capped at 6 MiB/s
 *
 * Installs haproxy from Debian when run as root and it is missing. Exits 1 if
 * a check fails.
 */
import { randomFillSync } from 'node:crypto';
import { mkdir, mkdtemp, open, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { parseArgs } from 'node:util';
import { sha256Range } from '../src/file-hash.js';
import { finished, startCli } from '../test/helpers/cli.js';
import { aptInstall } from './peers.js';
import { haproxyBinary, startHaproxy, startServe, type ServeProcess } from '../test/helpers/haproxy.js';

const MiB = 1024 * 1024;
const { values: args } = parseArgs({ options: { quick: { type: 'boolean', default: false } } });
const sizes = {
  clients: 20,
  fileBytes: (args.quick ? 8 : 24) * MiB,
  cap: (args.quick ? 6 : 12) * MiB,
  backends: 3,
  /** The 3-backend aggregate must reach this multiple of one backend's. */
  targetRatio: 2.5,
};
const failures: string[] = [];

function log(line: string): void {
  process.stderr.write(`scale: ${line}\n`);
}

function ensureHaproxy(): string {
  const found = haproxyBinary();
  if (found) return found;
  if (process.getuid?.() === 0) {
    log('installing haproxy');
    aptInstall(['haproxy']);
  }
  const installed = haproxyBinary();
  if (!installed) {
    log('haproxy is not installed and cannot be installed without root: apt-get install haproxy');
    process.exit(1);
  }
  return installed;
}

function table(header: string[], rows: string[][]): string {
  const line = (cells: string[]) => `| ${cells.join(' | ')} |`;
  return [line(header), line(header.map(() => '---')), ...rows.map(line)].join('\n');
}

const mib = (bytes: number) => (bytes / MiB).toFixed(1);

const binary = ensureHaproxy();
const work = await mkdtemp(join(tmpdir(), 'xfer-scale-'));
const root = join(work, 'share');
await mkdir(join(root, 'resources'), { recursive: true });
const file = join(root, 'resources', 'file.bin');
const bytes = Buffer.allocUnsafe(sizes.fileBytes);
randomFillSync(bytes);
await writeFile(file, bytes);
const fh = await open(file);
const expected = (await sha256Range(fh, 0, sizes.fileBytes)).toString('hex');
await fh.close();
log(`work folder ${work}; ${sizes.clients} clients × ${mib(sizes.fileBytes)} MiB`);

/** N backends over the one folder, HAProxy in front; `run` gets the frontend port. */
async function withCluster<T>(
  count: number,
  serveArgs: string[],
  run: (port: number, backends: ServeProcess[]) => Promise<T>,
): Promise<T> {
  // Behind HAProxy's send-proxy-v2, as docs/scaling.md configures it.
  const args = ['--proxy-protocol', ...serveArgs];
  const backends = await Promise.all(Array.from({ length: count }, () => startServe(root, args)));
  const haproxy = await startHaproxy(
    binary,
    work,
    backends.map((b, i) => ({ name: `xfer${i + 1}`, port: b.port })),
  );
  try {
    return await run(haproxy.port, backends);
  } finally {
    await haproxy.stop();
    await Promise.all(backends.map((b) => b.stop()));
  }
}

interface ClientsRun {
  /** From spawning the first client to the last one's exit. */
  seconds: number;
  /** From the first file transfer starting to the last one done (their --json events), in seconds. */
  transferSeconds: number;
}

/**
 * 20 `xfer get --json` processes at once, their files checked afterwards.
 * The transfer window comes from their events, as they arrive: starting 20
 * node processes takes seconds of CPU on a small machine, and counting that
 * would measure the machine, not the backends.
 */
/** Clients of the current run that have started their transfer (so have reached a backend once). */
let clientsStarted = 0;

async function clients(port: number, phase: string): Promise<ClientsRun> {
  const out = join(work, 'out');
  clientsStarted = 0;
  await rm(out, { recursive: true, force: true });
  const started = performance.now();
  let firstStart = Infinity;
  let lastDone = 0;
  const results = await Promise.all(
    Array.from({ length: sizes.clients }, (_, i) => {
      const child = startCli([
        'get',
        `127.0.0.1:${port}`,
        'file.bin',
        '--out',
        join(out, String(i)),
        '--json',
      ]);
      if (child.stdout) {
        createInterface({ input: child.stdout }).on('line', (line) => {
          if (line.startsWith('{"type":"start"')) {
            firstStart = Math.min(firstStart, performance.now());
            clientsStarted++;
          }
          if (line.startsWith('{"type":"done"')) lastDone = Math.max(lastDone, performance.now());
        });
      }
      return finished(child, 600_000);
    }),
  );
  const seconds = (performance.now() - started) / 1000;
  for (const [i, r] of results.entries()) {
    if (r.code !== 0) {
      const error = r.stdout.split('\n').find((l) => l.startsWith('{"type":"error"')) ?? r.stderr.trim();
      failures.push(`${phase}: client ${i} exited ${r.code}: ${error}`);
      continue;
    }
    const got = await open(join(out, String(i), 'file.bin'));
    const sha = (await sha256Range(got, 0, (await got.stat()).size)).toString('hex');
    await got.close();
    if (sha !== expected) failures.push(`${phase}: client ${i} has the wrong bytes`);
  }
  await rm(out, { recursive: true, force: true });
  return { seconds, transferSeconds: Math.max(0, lastDone - firstStart) / 1000 };
}

// ---------------------------------------------------------------- 1. failover

const total = sizes.clients * sizes.fileBytes;
await withCluster(sizes.backends, ['--verbose'], async (port, backends) => {
  const run = clients(port, 'failover');
  const carried = () => backends.reduce((n, b) => n + b.bytesSent(), 0);
  const deadline = Date.now() + 120_000;
  // Once every client is under way: a client whose very first handshake is cut fails by design
  // (a server never reached is not retried), and starting 20 processes can outlast a quarter.
  while ((carried() < total / 4 || clientsStarted < sizes.clients) && Date.now() < deadline)
    await new Promise((r) => setTimeout(r, 20));
  const victim = 1;
  const killedAt = new Date();
  backends[victim]?.child.kill('SIGKILL');
  log(`killed backend xfer${victim + 1} with ${mib(carried())} of ${mib(total)} MiB sent`);
  const { seconds } = await run;
  const rows = backends.map((b, i) => [
    `xfer${i + 1}`,
    i === victim ? 'killed' : 'survived',
    mib(b.bytesSent()),
    i === victim ? '–' : mib(b.bytesSent(killedAt)),
  ]);
  const sum = backends.reduce((n, b) => n + b.bytesSent(), 0);
  rows.push(['all', `${seconds.toFixed(1)} s`, mib(sum), '']);
  process.stdout.write(
    `\nFailover: ${sizes.clients} clients × ${mib(sizes.fileBytes)} MiB through HAProxy, xfer${victim + 1} killed once every client was under way (at least a quarter of the way)\n\n`,
  );
  process.stdout.write(`${table(['backend', 'fate', 'MiB carried', 'MiB after the kill'], rows)}\n`);
  process.stdout.write(
    `\n(MiB carried: whole GETs each backend finished sending, from its --verbose log. A GET cut by the kill is not counted: the client kept what had arrived and fetched the rest from the survivors.)\n`,
  );
  const failoverFailures = failures.filter((f) => f.startsWith('failover')).length;
  process.stdout.write(
    `every client exit 0 with the right bytes: ${failoverFailures === 0 ? 'yes' : `NO (${failoverFailures} failed)`}\n`,
  );
});

// ---------------------------------------------------------------- 2. scaling

const capArgs = ['--limit-rate-total', String(sizes.cap)];
const aggregate: Record<number, number> = {};
for (const count of [1, sizes.backends]) {
  const run = await withCluster(count, capArgs, (port) => clients(port, `${count} backend(s)`));
  aggregate[count] = total / MiB / run.transferSeconds;
  log(
    `${count} backend(s): ${run.seconds.toFixed(1)} s in all, ${run.transferSeconds.toFixed(1)} s transferring: ${aggregate[count].toFixed(1)} MiB/s`,
  );
}
const one = aggregate[1] ?? 0;
const many = aggregate[sizes.backends] ?? 0;
const ratio = many / one;
process.stdout.write(
  `\nScaling: backends capped at ${mib(sizes.cap)} MiB/s each (--limit-rate-total), ${sizes.clients} clients × ${mib(sizes.fileBytes)} MiB\n\n`,
);
process.stdout.write(
  `${table(
    ['backends', 'aggregate MiB/s', '× one backend'],
    [
      ['1', one.toFixed(1), '1.00'],
      [String(sizes.backends), many.toFixed(1), ratio.toFixed(2)],
    ],
  )}\n`,
);
process.stdout.write(
  `target ≥ ${sizes.targetRatio} × one backend: ${ratio >= sizes.targetRatio ? 'met' : 'NOT met'}\n`,
);
if (ratio < sizes.targetRatio) failures.push(`scaling: ${ratio.toFixed(2)} × one backend`);

await rm(work, { recursive: true, force: true });
if (failures.length > 0) {
  log(`FAILED:\n  ${failures.join('\n  ')}`);
  process.exit(1);
}
