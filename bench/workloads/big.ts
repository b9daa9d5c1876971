/** One big file over 4 connections: xfer against aria2c, axel and curl from nginx, and cp. */
import { join } from 'node:path';
import { ARIA2_VERIFIED, MiB, type Sizes, type Tool } from '../context.js';
import { cpuOf, watch, type Sample } from '../proc.js';
import { median } from '../report.js';
import type { Workload } from './workload.js';

const GiB = 1024 * MiB;
/** xfer fetching the big file from nginx (an HTTP source) with --checksum. */
const WEB_ROW = 'xfer get URL --checksum';
const label = (sizes: Sizes) => `one ${sizes.big / MiB} MiB file`;

export const big: Workload = {
  name: 'big',
  prefetch: true,
  files: (sizes) => [{ name: 'big.bin', size: sizes.big }],

  async run(ctx) {
    const { sizes, out, resources, nginx, peers, results } = ctx;
    const serverPid = ctx.xfer.child.pid ?? 0;
    const serverCpuBefore = await cpuOf(serverPid);
    const tools: Tool[] = [['xfer', ctx.xferGet(['big.bin'])]];
    const cleanThen = (run: () => Promise<Sample>) => async () => {
      await ctx.clean();
      return run();
    };
    if (nginx) {
      // The same file from nginx as an HTTP source, its SHA-256 given as aria2c's is.
      const sha = await ctx.sha256Of('big.bin');
      tools.push([WEB_ROW, ctx.xferGet([], ['--checksum', `sha256=${sha}`], nginx.url('big.bin'))]);
    }
    if (peers.aria2c && nginx) {
      tools.push(['aria2c -x4 -s4', cleanThen(() => ctx.aria2One('big.bin').done)]);
      const checksum = await ctx.sha256Of('big.bin');
      tools.push([
        `aria2c -x4 -s4 ${ARIA2_VERIFIED}`,
        cleanThen(() => ctx.aria2One('big.bin', { checksum }).done),
      ]);
    }
    if (peers.axel && nginx) {
      tools.push([
        'axel -n 4',
        cleanThen(
          () => watch('axel', ['-q', '-n', '4', '-o', join(out, 'big.bin'), nginx.url('big.bin')]).done,
        ),
      ]);
    }
    if (peers.curl && nginx) {
      tools.push([
        'curl',
        cleanThen(() => watch('curl', ['-s', '-o', join(out, 'big.bin'), nginx.url('big.bin')]).done),
      ]);
    }
    tools.push(['cp', cleanThen(() => watch('cp', [join(resources, 'big.bin'), join(out, 'big.bin')]).done)]);
    await ctx.compare(label(sizes), sizes.big, join(resources, 'big.bin'), tools);

    const gib = sizes.big / GiB;
    results.serverCpuPerGiB = ((await cpuOf(serverPid)) - serverCpuBefore) / (sizes.runs * gib);
    const xferRuns = results.rows.find((r) => r.workload === label(sizes) && r.tool === 'xfer')?.runs ?? [];
    results.clientPeakRssMiB = Math.max(...xferRuns.map((s) => s.rssMiB ?? 0));
    results.clientCpuPerGiB = median(xferRuns.map((s) => s.cpuSeconds ?? 0)) / gib;
  },

  summary(sizes, medianOf) {
    const w = label(sizes);
    return [
      ['xfer / aria2c, one big file', medianOf(w, 'xfer') / medianOf(w, 'aria2c -x4 -s4')],
      [
        'xfer / aria2c verifying SHA-256, one big file',
        medianOf(w, 'xfer') / medianOf(w, `aria2c -x4 -s4 ${ARIA2_VERIFIED}`),
      ],
      ['xfer / cp, one big file', medianOf(w, 'xfer') / medianOf(w, 'cp')],
      ['xfer from nginx / aria2c, one big file', medianOf(w, WEB_ROW) / medianOf(w, 'aria2c -x4 -s4')],
      [
        'xfer from nginx / aria2c verifying SHA-256, one big file',
        medianOf(w, WEB_ROW) / medianOf(w, `aria2c -x4 -s4 ${ARIA2_VERIFIED}`),
      ],
    ];
  },
};
