/** Many small files: `xfer client --once` over input.txt against `aria2c -i` from nginx. */
import { execFileSync } from 'node:child_process';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { BenchContext, Sizes, Tool } from '../context.js';
import { watch } from '../proc.js';
import { CLI } from '../servers.js';
import type { Workload } from './workload.js';

const label = (sizes: Sizes) => `${sizes.smallCount} files of ${sizes.smallSize / 1024} KiB`;
const namesOf = (sizes: Sizes) =>
  Array.from({ length: sizes.smallCount }, (_, i) => `small/s${String(i).padStart(5, '0')}.bin`);

export const small: Workload = {
  name: 'small',
  prefetch: false,
  files: (sizes) => namesOf(sizes).map((name) => ({ name, size: sizes.smallSize })),

  async run(ctx) {
    const { sizes, work, nginx, peers } = ctx;
    const names = namesOf(sizes);
    const tools: Tool[] = [
      [
        'xfer client --once',
        async () => {
          const dir = await freshOut(ctx);
          await writeFile(join(dir, 'input.txt'), `${names.join('\n')}\n`);
          return watch(process.execPath, [CLI, 'client', ctx.xfer.addr, '--dir', dir, '--once']).done;
        },
      ],
    ];
    if (peers.aria2c && nginx) {
      tools.push([
        'aria2c -i -j16',
        async () => {
          const dir = await freshOut(ctx);
          const list = names.map((n) => `${nginx.url(n)}\n  out=${n}`).join('\n');
          await writeFile(join(work, 'urls.txt'), `${list}\n`);
          const argv = ['-q', '-i', join(work, 'urls.txt'), '-j', '16', '-x', '1', '--file-allocation=none'];
          return watch('aria2c', [...argv, '-d', dir]).done;
        },
      ]);
    }
    const bytes = sizes.smallCount * sizes.smallSize;
    await ctx.compare(label(sizes), bytes, join(ctx.resources, 'small', '*'), tools);
  },

  summary(sizes, medianOf) {
    const w = label(sizes);
    return [
      ['aria2c / xfer, small files', medianOf(w, 'aria2c -i -j16') / medianOf(w, 'xfer client --once')],
    ];
  },
};

/**
 * Each run writes into a folder of its own and none is deleted until the end: on
 * a file system without a journal, ext4 skips inodes freed in the last minute
 * when it allocates (recently_deleted), so creating 2000 files right after
 * deleting 2000 costs up to 1 ms a file, a charge that depends on which tool ran
 * before rather than on the tool measured.
 */
let runs = 0;
async function freshOut(ctx: BenchContext): Promise<string> {
  const dir = join(ctx.work, 'small-runs', String(runs++));
  await mkdir(dir, { recursive: true });
  execFileSync('sync');
  return dir;
}
