/**
 * `npm run bench`: xfer against aria2c, axel, curl (all against nginx) and cp,
 * on this machine, with the page cache warm. Prints a Markdown table with
 * ratios and writes the same numbers as JSON. Not part of `npm test`.
 *
 *   npm run bench                 # the full run (about 8 minutes on 2 cores)
 *   npm run bench -- --quick      # smaller files, for a first look
 *   npm run bench -- --out FILE   # where the JSON goes (default: bench-results.json)
 *   npm run bench -- --only small,clients   # some workloads: big, small, clients, limited, http
 *
 * The workloads are in bench/workloads/ (one module each, listed in its
 * index.ts); this runner makes the data, starts the servers, runs the chosen
 * workloads, stops every server it started, and reports.
 */
import { execFileSync } from 'node:child_process';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { cpus, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { parseArgs } from 'node:util';
import { createContext, sizesFor } from './context.js';
import { writeRandomFile } from './data.js';
import { log } from './log.js';
import { ensurePeers, peerVersions } from './peers.js';
import { peakRssOf } from './proc.js';
import { writeReport } from './report.js';
import { startNginx, startXferServer, type Nginx, type XferServer } from './servers.js';
import { WORKLOADS } from './workloads/index.js';

const names = WORKLOADS.map((w) => w.name);
const { values: args } = parseArgs({
  options: {
    quick: { type: 'boolean', default: false },
    out: { type: 'string', default: 'bench-results.json' },
    only: { type: 'string', default: names.join(',') },
  },
});
const only = new Set(args.only.split(','));
for (const name of only) {
  if (!names.includes(name)) {
    process.stderr.write(`bench: unknown workload "${name}" in --only (${names.join(', ')})\n`);
    process.exit(2);
  }
}
const chosen = WORKLOADS.filter((w) => only.has(w.name));
const quick = args.quick;
const sizes = sizesFor(quick);

const peers = ensurePeers();
const work = await mkdtemp(join(tmpdir(), 'xfer-bench-'));
let xfer: XferServer | undefined;
let nginx: Nginx | undefined;
try {
  const root = join(work, 'server');
  const resources = join(root, 'resources');
  const out = join(work, 'out');
  await mkdir(resources, { recursive: true });
  await mkdir(out);
  log(`work folder ${work}; generating data`);
  // Workloads may share files (http fetches big's and clients'): each is written once.
  const files = new Map(chosen.flatMap((w) => w.files(sizes)).map((f) => [f.name, f]));
  for (const file of files.values()) {
    await mkdir(dirname(join(resources, file.name)), { recursive: true });
    await writeRandomFile(join(resources, file.name), file.size);
  }
  execFileSync('sync');

  xfer = await startXferServer(root);
  nginx = peers.nginx ? await startNginx(work, resources) : undefined;
  const ctx = createContext({ sizes, peers, work, resources, out, xfer, nginx });

  // Warm-up: the server hashes every file once (cached per version), and the page cache fills.
  log('warm-up: hashing on the server and filling the page cache');
  const prefetched = [
    ...new Set(chosen.filter((w) => w.prefetch).flatMap((w) => w.files(sizes).map((f) => f.name))),
  ];
  if (prefetched.length > 0) await ctx.xferGet(prefetched)();
  execFileSync('sh', ['-c', `cat ${resources}/*.bin ${resources}/small/* > /dev/null 2>&1; true`]);

  for (const workload of chosen) await workload.run(ctx);
  ctx.results.serverPeakRssMiB = await peakRssOf(xfer.child.pid ?? 0);

  const versions = { node: process.version, cores: cpus().length, ...peerVersions(peers) };
  await writeReport(
    { quick, cores: cpus().length, sizes, versions, results: ctx.results, workloads: WORKLOADS },
    args.out,
  );
  log(`results written to ${args.out}`);
} finally {
  xfer?.child.kill('SIGTERM');
  nginx?.stop();
  await rm(work, { recursive: true, force: true });
}
