/** A rate-limited link (a relay capping each connection): xfer over 4 connections vs 1. */
import { join } from 'node:path';
import { Relay } from '../../test/helpers/relay.js';
import { MAX_CONNECTIONS_PER_FILE } from '../../src/protocol/index.js';
import { MiB, type Sizes } from '../context.js';
import type { Workload } from './workload.js';

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
  },

  summary(sizes, medianOf) {
    const w = label(sizes);
    return [
      [
        '4 connections / 1 connection speed-up, limited link',
        medianOf(w, 'xfer 1 connection') / medianOf(w, `xfer ${MAX_CONNECTIONS_PER_FILE} connections`),
      ],
    ];
  },
};
