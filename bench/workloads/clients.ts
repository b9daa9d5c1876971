/** Many clients at once, each fetching its own file: aggregate throughput of xfer vs nginx + aria2c. */
import { join } from 'node:path';
import { ARIA2_VERIFIED, MiB, type BenchContext, type Sizes, type Tool } from '../context.js';
import { watch, type Sample, type Watched } from '../proc.js';
import { CLI } from '../servers.js';
import type { Workload } from './workload.js';

const label = (sizes: Sizes) => `${sizes.clients} clients x ${sizes.clientFile / MiB} MiB`;
/** The file client `i` fetches (the `http` workload fetches the same ones). */
export const fileOf = (i: number) => `client-${i}.bin`;

export const clients: Workload = {
  name: 'clients',
  prefetch: true,
  files: (sizes) =>
    Array.from({ length: sizes.clients }, (_, i) => ({ name: fileOf(i), size: sizes.clientFile })),

  async run(ctx) {
    const { sizes, nginx, peers } = ctx;
    // No /proc sampling: its reads would compete for the CPU the clients share.
    const tools: Tool[] = [
      [
        'xfer server + xfer get',
        () =>
          allAtOnce(ctx, (i) =>
            watch(process.execPath, [CLI, 'get', ctx.xfer.addr, fileOf(i), '--out', ctx.out], {
              sample: false,
            }),
          ),
      ],
    ];
    if (peers.aria2c && nginx) {
      tools.push([
        'nginx + aria2c -x4',
        () => allAtOnce(ctx, (i) => ctx.aria2One(fileOf(i), { sample: false })),
      ]);
      const checksums = await Promise.all(
        Array.from({ length: sizes.clients }, (_, i) => ctx.sha256Of(fileOf(i))),
      );
      tools.push([
        `nginx + aria2c -x4 ${ARIA2_VERIFIED}`,
        () => allAtOnce(ctx, (i) => ctx.aria2One(fileOf(i), { sample: false, checksum: checksums[i] ?? '' })),
      ]);
    }
    const bytes = sizes.clients * sizes.clientFile;
    await ctx.compare(label(sizes), bytes, join(ctx.resources, 'client-*.bin'), tools);
  },

  summary(sizes, medianOf) {
    const w = label(sizes);
    const xfer = medianOf(w, 'xfer server + xfer get');
    return [
      ['xfer / nginx+aria2c throughput, many clients', medianOf(w, 'nginx + aria2c -x4') / xfer],
      [
        'xfer / nginx+aria2c verifying SHA-256 throughput, many clients',
        medianOf(w, `nginx + aria2c -x4 ${ARIA2_VERIFIED}`) / xfer,
      ],
    ];
  },
};

/** Starts every client at once into a clean `out`; the sample is the time until the last one ends. */
export async function allAtOnce(ctx: BenchContext, start: (i: number) => Watched): Promise<Sample> {
  await ctx.clean();
  const t0 = performance.now();
  await Promise.all(Array.from({ length: ctx.sizes.clients }, (_, i) => start(i).done));
  return { seconds: (performance.now() - t0) / 1000 };
}
