/**
 * A real XferServer in its own process, for tests that must run it out of
 * file descriptors (run it under `prlimit --nofile=N`). Serves argv[2] on
 * 127.0.0.1:0 and speaks JSON lines:
 *   out: {"port":N}, {"log":{level,message}}, {"catalog":N},
 *        {"starved":N} (N descriptors taken), {"fed":true},
 *        {"status":{"size":N,"stale":bool}}, {"rescanned":true}
 *   in:  "starve" (open /dev/null until EMFILE), "feed" (close them), "status",
 *        "rescan" (one rescan now)
 *
 * Rescans run only when asked: a scan's open on a thread-pool thread can land
 * in the instant libuv lends out its spare descriptor to refuse connections
 * (its EMFILE trick) and take it, and with every other descriptor held that
 * spare is gone for good and accept fails in a busy loop. The tests ask for
 * rescans while starved but never during a connection storm.
 */
import { closeSync, openSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { XferServer } from '../../src/server/server.js';

const say = (value: unknown) => process.stdout.write(`${JSON.stringify(value)}\n`);
const server = await XferServer.start({
  root: process.argv[2] ?? '.',
  host: '127.0.0.1',
  port: 0,
  // An hour: no timed rescan during a test; they come from the "rescan" command.
  rescanIntervalMs: 3_600_000,
});
server.on('log', (log) => say({ log }));
server.on('catalog', (count) => say({ catalog: count }));
const taken: number[] = [];
/** Takes every free descriptor (EMFILE ends the loop). */
const takeAll = (): void => {
  try {
    for (;;) taken.push(openSync('/dev/null', 'r'));
  } catch {
    // none left
  }
};
// A scan that held a directory open when the starving began frees its descriptor a moment
// later: it is taken again at once, so a request during the shortage never finds one free.
let keepStarved: NodeJS.Timeout | undefined;
createInterface({ input: process.stdin }).on('line', (line) => {
  if (line === 'starve') {
    takeAll();
    keepStarved = setInterval(takeAll, 1);
    say({ starved: taken.length });
  } else if (line === 'feed') {
    clearInterval(keepStarved);
    taken.splice(0).forEach((fd) => closeSync(fd));
    say({ fed: true });
  } else if (line === 'rescan') {
    void server.catalog.rescan().finally(() => say({ rescanned: true }));
  } else if (line === 'status') {
    say({ status: { size: server.catalog.size, stale: server.catalog.stale } });
  }
});
process.stdin.on('end', () => void server.close().then(() => process.exit(0)));
say({ port: server.address.port });
