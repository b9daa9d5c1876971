import type { ClientSession, FetchOutcome } from './session.js';

/**
 * How many small files may be in flight at once (each on the next pooled
 * connection, so up to 8 pipelined on each of 4). 32 keeps the server busy
 * between round trips (2000 x 16 KiB: 0.46 s at 8, 0.39 s at 32, measured) and
 * holds at most 32 x WHOLE_FILE_MAX_BYTES in memory.
 */
export const SMALL_FILE_WINDOW = 32;

/**
 * How many web URLs may be in flight at once, each on its own keep-alive
 * connection (web servers answer one request per connection at a time): as
 * many as `aria2c -j16`, which a web server expects from one client, and at
 * most 16 x WHOLE_FILE_MAX_BYTES in memory for small files.
 */
export const WEB_WINDOW = 16;

/**
 * Fetches `names` in order. Large files go one after another, each over up to
 * 4 connections; a run of small files (one request each) is fetched up to
 * SMALL_FILE_WINDOW at a time, spread over the pooled connections and
 * pipelined on each, so thousands of tiny files do not pay a round trip and a
 * handful of file-system calls one by one.
 */
export async function fetchAll(
  session: ClientSession,
  names: string[],
  signal: AbortSignal,
  onOutcome: (name: string, outcome: FetchOutcome) => void,
): Promise<void> {
  session.recheckFolders();
  const window = new Set<Promise<void>>();
  let next = 0;
  for (const name of names) {
    if (signal.aborted) break;
    const small = session.isSmall(name);
    if (!small || window.size >= SMALL_FILE_WINDOW) {
      // A large file waits for the small ones before it, and fills all connections alone.
      while (window.size >= (small ? SMALL_FILE_WINDOW : 1)) await Promise.race(window);
      if (signal.aborted) break;
    }
    const run = session.fetch(name, small ? next++ : 0).then((outcome) => onOutcome(name, outcome));
    if (!small) {
      await run;
      continue;
    }
    track(window, run);
  }
  await Promise.all(window);
}

/**
 * Fetches `urls` (web files) up to WEB_WINDOW at a time, started in list
 * order. `fetchUrl` reports each file's events and never throws but on
 * abort; each outcome is passed on as it comes, so one failing URL never
 * stops the others.
 */
export async function fetchUrls(
  urls: string[],
  fetchUrl: (url: string) => Promise<FetchOutcome>,
  signal: AbortSignal,
  onOutcome: (url: string, outcome: FetchOutcome) => void,
): Promise<void> {
  const window = new Set<Promise<void>>();
  for (const url of urls) {
    while (window.size >= WEB_WINDOW) await Promise.race(window);
    if (signal.aborted) break;
    track(
      window,
      fetchUrl(url).then((outcome) => onOutcome(url, outcome)),
    );
  }
  await Promise.all(window);
}

/** Keeps `run` in `window` until it settles. */
function track(window: Set<Promise<void>>, run: Promise<void>): void {
  const tracked: Promise<void> = run.finally(() => window.delete(tracked));
  tracked.catch(() => undefined); // an abort is rethrown by the race or the final wait
  window.add(tracked);
}
