import { join } from 'node:path';
import { toXferError } from '../errors.js';
import { printableName } from '../protocol/index.js';
import { fetchAll, fetchUrls } from './batch.js';
import type { EmitEvent } from './events.js';
import { readInputList } from './input-list.js';
import { DEFAULT_RETRY_POLICY, abortError, decideRetry, waitUnlessAborted } from './retry.js';
import type { ClientSession, FetchOutcome } from './session.js';

export interface WatchOptions {
  dir: string;
  intervalMs: number;
  once: boolean;
  /**
   * Fetches a line that is a web URL (http:// or https://), in its place among
   * the names: a run of URL lines is fetched up to WEB_WINDOW at a time, after
   * the names before it and before the names after it.
   */
  fetchUrl?: (url: string) => Promise<FetchOutcome>;
}

const WEB_URL = /^https?:\/\//i;

/**
 * `xfer client`: reads DIR/input.txt every interval and fetches new names into
 * DIR/data/ in list order (small files and URLs several at a time: batch.ts).
 * With `once`, fetches what is listed and stops.
 * Resolves with how many names failed (unknown, refused or not verified).
 */
export async function watchInputList(
  session: ClientSession,
  o: WatchOptions & { signal: AbortSignal; emit: EmitEvent },
): Promise<number> {
  const handled = new Set<string>();
  const wanted: string[] = [];
  const reportedUnknown = new Set<string>();
  let failed = 0;
  let inputError: string | undefined;
  await announceUntilReachable(session, o);
  for (;;) {
    let names: string[] = [];
    try {
      names = await readInputList(join(o.dir, 'input.txt'));
      inputError = undefined;
    } catch (err) {
      const e = toXferError(err);
      if (o.once) {
        o.emit({ type: 'error', code: e.code, message: e.message });
        return failed + 1;
      }
      if (inputError !== e.message)
        o.emit({ type: 'error', code: e.code, message: `${e.message} Watching for it.` });
      inputError = e.message;
    }
    const fresh = names.filter((n) => !handled.has(n));
    const onOutcome = (name: string, outcome: FetchOutcome) => {
      if (outcome.ok) return;
      failed++;
      // Watching: a file lost to a network failure is tried again on a later scan.
      if (!o.once && outcome.retryable) handled.delete(name);
    };
    if (fresh.some((n) => !session.has(n) && !WEB_URL.test(n)))
      await session.refreshCatalog().catch(() => undefined);
    const urls: string[] = [];
    const fetchUrlsSoFar = async () => {
      if (o.fetchUrl && urls.length > 0) await fetchUrls(urls.splice(0), o.fetchUrl, o.signal, onOutcome);
    };
    for (const name of fresh) {
      if (o.signal.aborted) break;
      if (o.fetchUrl && WEB_URL.test(name)) {
        handled.add(name);
        // In list order: the names before it first.
        await fetchAll(session, wanted.splice(0), o.signal, onOutcome);
        urls.push(name);
        continue;
      }
      await fetchUrlsSoFar();
      if (!session.has(name)) {
        if (!reportedUnknown.has(name)) {
          reportedUnknown.add(name);
          o.emit({
            type: 'unknown',
            file: name,
            message: `The server has no file named "${printableName(name)}"; skipping it.${o.once ? '' : ' It will be fetched if it appears.'}`,
          });
          if (o.once) failed++;
        }
        if (o.once) handled.add(name);
        continue;
      }
      handled.add(name);
      wanted.push(name);
    }
    await fetchUrlsSoFar();
    await fetchAll(session, wanted.splice(0), o.signal, onOutcome);
    if (o.signal.aborted) throw abortError();
    if (o.once) return failed;
    await waitUnlessAborted(o.intervalMs, o.signal);
  }
}

/** With --once a server that stays away is an error; while watching, it is waited for. */
async function announceUntilReachable(
  session: ClientSession,
  o: WatchOptions & { signal: AbortSignal; emit: EmitEvent },
): Promise<void> {
  // Watching, the server is waited for without end, at about the scan interval.
  const policy = {
    ...DEFAULT_RETRY_POLICY,
    maxAttempts: o.once ? 0 : Infinity,
    baseDelayMs: o.intervalMs,
    maxDelayMs: o.intervalMs,
  };
  for (let attempt = 0; ;) {
    try {
      return await session.announceCatalog();
    } catch (err) {
      if (o.signal.aborted) throw abortError();
      const error = toXferError(err);
      const decision = decideRetry(policy, { attempt, error, progressBytes: 0 });
      if (!decision.retry) throw error;
      if (attempt === 0)
        o.emit({ type: 'error', code: error.code, message: `${error.message} Still trying.` });
      attempt = decision.attempt;
      await waitUnlessAborted(decision.delayMs, o.signal);
    }
  }
}
