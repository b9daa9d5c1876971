/** A rate-limited link (a relay capping each connection): xfer over 4 connections vs 1, from xfer and from nginx. */
import { join } from 'node:path';
import { Relay } from '../../test/helpers/relay.js';
import { MAX_CONNECTIONS_PER_FILE } from '../../src/protocol/index.js';
import { MiB, type BenchContext, type Sizes } from '../context.js';
import type { Workload } from './workload.js';

const WEB_FOUR = `xfer get URL, ${MAX_CONNECTIONS_PER_FILE} connections`;
const WEB_ONE = 'xfer get URL, 1 connection';
const webLabel = (sizes: Sizes) =>
  `${sizes.limited / MiB} MiB from nginx over ${sizes.linkRate / MiB} MiB/s links`;
const label = (sizes: Sizes) => `${sizes.limited / MiB} MiB over ${sizes.linkRate / MiB} MiB/s links`;

export const limited: Workload = {
  name: 'limited',
  prefetch: true,
  files: (sizes) => [{ name: 'limited.bin', size: sizes.limited }],

  async run(ctx) {
    const { sizes } = ctx;
    const relay = await Relay.start(ctx.xfer.port, () => ({ rateBytesPerSec: sizes.linkRate }));
    try {
      const relayAddr = `127.0.0.1:${relay.port}`;
      await ctx.compare(label(sizes), sizes.limited, join(ctx.resources, 'limited.bin'), [
        [
          `xfer ${MAX_CONNECTIONS_PER_FILE} connections`,
          ctx.xferGet(['limited.bin'], ['--connections', String(MAX_CONNECTIONS_PER_FILE)], relayAddr),
        ],
        ['xfer 1 connection', ctx.xferGet(['limited.bin'], ['--connections', '1'], relayAddr)],
      ]);
    } finally {
      await relay.close();
    }
    if (ctx.nginx) await webOverRelay(ctx, ctx.nginx.port);
  },

  summary(sizes, medianOf) {
    const w = label(sizes);
    return [
      [
        '4 connections / 1 connection speed-up, limited link',
        medianOf(w, 'xfer 1 connection') / medianOf(w, `xfer ${MAX_CONNECTIONS_PER_FILE} connections`),
      ],
      [
        '4 connections / 1 connection speed-up, limited link, HTTP from nginx (target >= 3.5)',
        medianOf(webLabel(sizes), WEB_ONE) / medianOf(webLabel(sizes), WEB_FOUR),
      ],
    ];
  },
};

/** The same file from nginx as a URL, through a relay with the same cap per connection. */
async function webOverRelay(ctx: BenchContext, nginxPort: number): Promise<void> {
  const { sizes } = ctx;
  const relay = await Relay.start(nginxPort, () => ({ rateBytesPerSec: sizes.linkRate }));
  try {
    const url = `http://127.0.0.1:${relay.port}/limited.bin`;
    await ctx.compare(webLabel(sizes), sizes.limited, join(ctx.resources, 'limited.bin'), [
      [WEB_FOUR, ctx.xferGet([], ['--connections', String(MAX_CONNECTIONS_PER_FILE)], url)],
      [WEB_ONE, ctx.xferGet([], ['--connections', '1'], url)],
    ]);
  } finally {
    await relay.close();
  }
}
