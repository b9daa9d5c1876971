/**
 * The HTTP face of `xfer serve` against nginx (sendfile) with the same HTTP
 * clients: aria2c -x4 and curl on one big file, and many aria2c clients at
 * once. The xfer-protocol rows of the `big` and `clients` workloads sit beside
 * these in the report.
 */
import { join } from 'node:path';
import { MiB, type BenchContext, type Sizes, type Tool } from '../context.js';
import { watch } from '../proc.js';
import { allAtOnce, fileOf } from './clients.js';
import type { Workload } from './workload.js';

const BIG = 'big.bin';
const bigLabel = (sizes: Sizes) => `HTTP, one ${sizes.big / MiB} MiB file`;
const clientsLabel = (sizes: Sizes) => `HTTP, ${sizes.clients} aria2c x ${sizes.clientFile / MiB} MiB`;

export const http: Workload = {
  name: 'http',
  // Fetched once with xfer first, so the server has hashed them and answers with digests.
  prefetch: true,
  files: (sizes) => [
    { name: BIG, size: sizes.big },
    ...Array.from({ length: sizes.clients }, (_, i) => ({ name: fileOf(i), size: sizes.clientFile })),
  ],

  async run(ctx) {
    const { sizes, nginx, peers, out } = ctx;
    const xferUrl = (name: string) => `http://${ctx.xfer.addr}/${encodeURIComponent(name)}`;
    const sources = [
      { name: 'xfer', url: xferUrl },
      ...(nginx ? [{ name: 'nginx', url: (name: string) => nginx.url(name) }] : []),
    ];
    const tools: Tool[] = [];
    for (const source of sources) {
      if (peers.aria2c) {
        tools.push([
          `aria2c -x4 -s4 from ${source.name}`,
          clean(ctx, () => ctx.aria2One(BIG, { url: source.url(BIG) }).done),
        ]);
      }
      if (peers.curl) {
        tools.push([
          `curl from ${source.name}`,
          clean(ctx, () => watch('curl', ['-s', '-o', join(out, BIG), source.url(BIG)]).done),
        ]);
      }
    }
    await ctx.compare(bigLabel(sizes), sizes.big, join(ctx.resources, BIG), tools);

    if (!peers.aria2c) return;
    // No /proc sampling: its reads would compete for the CPU the clients share.
    const many: Tool[] = sources.map((source) => [
      `aria2c -x4 clients from ${source.name}`,
      () => allAtOnce(ctx, (i) => ctx.aria2One(fileOf(i), { sample: false, url: source.url(fileOf(i)) })),
    ]);
    await ctx.compare(
      clientsLabel(sizes),
      sizes.clients * sizes.clientFile,
      join(ctx.resources, 'client-*.bin'),
      many,
    );
  },

  summary(sizes, medianOf) {
    const big = bigLabel(sizes);
    const many = clientsLabel(sizes);
    return [
      [
        'HTTP: xfer / nginx time, aria2c -x4 one big file (target <= 1.3)',
        medianOf(big, 'aria2c -x4 -s4 from xfer') / medianOf(big, 'aria2c -x4 -s4 from nginx'),
      ],
      [
        'HTTP: xfer / nginx time, curl one big file (target <= 1.3)',
        medianOf(big, 'curl from xfer') / medianOf(big, 'curl from nginx'),
      ],
      [
        'HTTP: xfer / nginx throughput, many aria2c clients (target >= 0.5)',
        medianOf(many, 'aria2c -x4 clients from nginx') / medianOf(many, 'aria2c -x4 clients from xfer'),
      ],
    ];
  },
};

/** A run into a clean `out`. */
function clean(ctx: BenchContext, run: () => ReturnType<Tool[1]>): Tool[1] {
  return async () => {
    await ctx.clean();
    return run();
  };
}
