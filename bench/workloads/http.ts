/**
 * The HTTP face of `xfer serve` against nginx (sendfile) with the same HTTP
 * clients: aria2c -x4 and curl on one big file, and many aria2c clients at
 * once. The xfer-protocol rows of the `big` and `clients` workloads sit beside
 * these in the report.
 *
 * aria2c sends `Want-Digest` and, given a `Digest` (which xfer sends and nginx
 * does not), hashes the whole download to check it: from xfer it always does
 * the work of `--checksum=sha-256`, so that row from nginx is the like-for-like one.
 */
import { join } from 'node:path';
import { ARIA2_VERIFIED, MiB, type BenchContext, type Sizes, type Tool } from '../context.js';
import { watch } from '../proc.js';
import { allAtOnce, fileOf } from './clients.js';
import type { Workload } from './workload.js';

const BIG = 'big.bin';
const ariaLabel = (sizes: Sizes) => `HTTP aria2c -x4 -s4, one ${sizes.big / MiB} MiB file`;
const curlLabel = (sizes: Sizes) => `HTTP curl, one ${sizes.big / MiB} MiB file`;
const clientsLabel = (sizes: Sizes) => `HTTP, ${sizes.clients} aria2c -x4 x ${sizes.clientFile / MiB} MiB`;
const XFER_ARIA = 'xfer HTTP + aria2c (checks Digest)';
const XFER_CURL = 'xfer HTTP + curl';
const XFER_CLIENTS = 'xfer HTTP + aria2c clients (check Digest)';

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
    const source = join(ctx.resources, BIG);
    if (peers.aria2c) {
      const tools: Tool[] = [[XFER_ARIA, clean(ctx, () => ctx.aria2One(BIG, { url: xferUrl(BIG) }).done)]];
      if (nginx) {
        const checksum = await ctx.sha256Of(BIG);
        tools.push(
          ['nginx + aria2c', clean(ctx, () => ctx.aria2One(BIG).done)],
          [`nginx + aria2c ${ARIA2_VERIFIED}`, clean(ctx, () => ctx.aria2One(BIG, { checksum }).done)],
        );
      }
      await ctx.compare(ariaLabel(sizes), sizes.big, source, tools);
    }
    if (peers.curl) {
      const curl = (url: string) => clean(ctx, () => watch('curl', ['-s', '-o', join(out, BIG), url]).done);
      const tools: Tool[] = [[XFER_CURL, curl(xferUrl(BIG))]];
      if (nginx) tools.push(['nginx + curl', curl(nginx.url(BIG))]);
      await ctx.compare(curlLabel(sizes), sizes.big, source, tools);
    }
    if (peers.aria2c) {
      // No /proc sampling: its reads would compete for the CPU the clients share.
      const many: Tool[] = [
        [
          XFER_CLIENTS,
          () => allAtOnce(ctx, (i) => ctx.aria2One(fileOf(i), { sample: false, url: xferUrl(fileOf(i)) })),
        ],
      ];
      if (nginx) {
        many.push([
          'nginx + aria2c clients',
          () => allAtOnce(ctx, (i) => ctx.aria2One(fileOf(i), { sample: false })),
        ]);
      }
      const bytes = sizes.clients * sizes.clientFile;
      await ctx.compare(clientsLabel(sizes), bytes, join(ctx.resources, 'client-*.bin'), many);
    }
  },

  summary(sizes, medianOf) {
    const aria = ariaLabel(sizes);
    const curl = curlLabel(sizes);
    const many = clientsLabel(sizes);
    return [
      [
        'HTTP: xfer / nginx time, aria2c -x4, both checking SHA-256 (target <= 1.3)',
        medianOf(aria, XFER_ARIA) / medianOf(aria, `nginx + aria2c ${ARIA2_VERIFIED}`),
      ],
      [
        'HTTP: xfer (aria2c checks Digest) / nginx (no check) time, aria2c -x4',
        medianOf(aria, XFER_ARIA) / medianOf(aria, 'nginx + aria2c'),
      ],
      [
        'HTTP: xfer / nginx time, curl (target <= 1.3)',
        medianOf(curl, XFER_CURL) / medianOf(curl, 'nginx + curl'),
      ],
      [
        'HTTP: xfer / nginx throughput, many aria2c clients (target >= 0.5)',
        medianOf(many, 'nginx + aria2c clients') / medianOf(many, XFER_CLIENTS),
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
