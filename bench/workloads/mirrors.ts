/**
 * One file from several sources (`xfer get --mirror`): relays in front of the
 * bench's server stand for separate servers, each with its own uplink cap for
 * all its connections together. Two sources vs one (the second an xfer server,
 * or a web mirror: the server's HTTP face, which sends Repr-Digest); four
 * sources with one of them flipping a byte on every connection vs four good ones.
 */
import { join } from 'node:path';
import { Relay, type ConnectionFaults } from '../../test/helpers/relay.js';
import { MiB, type BenchContext, type Sizes } from '../context.js';
import type { Workload } from './workload.js';

const FILE = 'mirrors.bin';
const twoLabel = (sizes: Sizes) =>
  `${sizes.mirrors / MiB} MiB, sources of ${sizes.mirrorRate / MiB} MiB/s each`;
const fourLabel = (sizes: Sizes) =>
  `${sizes.mirrors / MiB} MiB from 4 sources of ${sizes.mirrorRate / MiB} MiB/s`;

/** Every connection through a corrupt source has one byte flipped, 3 MiB in (inside file data). */
const CORRUPT: ConnectionFaults = { corruptAtByte: 3 * MiB };

async function sources(ctx: BenchContext, faults: ConnectionFaults[]): Promise<Relay[]> {
  return Promise.all(
    faults.map((f) => Relay.start(ctx.xfer.port, () => f, { totalRateBytesPerSec: ctx.sizes.mirrorRate })),
  );
}

function get(ctx: BenchContext, relays: Relay[], webMirrors: Relay[] = []) {
  const [primary, ...mirrors] = relays.map((r) => `127.0.0.1:${r.port}`);
  const web = webMirrors.map((r) => `http://127.0.0.1:${r.port}/`);
  return ctx.xferGet(
    [FILE],
    [...mirrors, ...web].flatMap((m) => ['--mirror', m]),
    primary,
  );
}

export const mirrors: Workload = {
  name: 'mirrors',
  prefetch: true,
  files: (sizes) => [{ name: FILE, size: sizes.mirrors }],

  async run(ctx) {
    const file = join(ctx.resources, FILE);
    const { sizes } = ctx;
    const [a, b, c, d, bad] = await sources(ctx, [{}, {}, {}, {}, CORRUPT]);
    const all = [a, b, c, d, bad].filter((r): r is Relay => r !== undefined);
    try {
      if (!a || !b || !c || !d || !bad) throw new Error('relays did not start');
      await ctx.compare(twoLabel(sizes), sizes.mirrors, file, [
        ['xfer 2 sources', get(ctx, [a, b])],
        ['xfer 1 source', get(ctx, [a])],
        ['xfer 1 source + web mirror', get(ctx, [a], [b])],
      ]);
      await ctx.compare(fourLabel(sizes), sizes.mirrors, file, [
        ['xfer 4 good sources', get(ctx, [a, b, c, d])],
        ['xfer 4 sources, one corrupt', get(ctx, [a, b, c, bad])],
      ]);
    } finally {
      await Promise.all(all.map((r) => r.close()));
    }
  },

  summary(sizes, medianOf) {
    return [
      [
        '2 sources / 1 source speed-up (want >= 1.8)',
        medianOf(twoLabel(sizes), 'xfer 1 source') / medianOf(twoLabel(sizes), 'xfer 2 sources'),
      ],
      [
        'xfer server + web mirror / 1 source speed-up',
        medianOf(twoLabel(sizes), 'xfer 1 source') / medianOf(twoLabel(sizes), 'xfer 1 source + web mirror'),
      ],
      [
        '4 sources, one corrupt / all good time (want <= 1.5)',
        medianOf(fourLabel(sizes), 'xfer 4 sources, one corrupt') /
          medianOf(fourLabel(sizes), 'xfer 4 good sources'),
      ],
    ];
  },
};
