import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import type { TestContext } from 'node:test';
import type { ClientEvent } from '../../src/client/events.js';
import type { Mirror } from '../../src/client/mirrors.js';
import { DEFAULT_RETRY_POLICY, type RetryPolicy } from '../../src/client/retry.js';
import { ClientSession } from '../../src/client/session.js';
import { tempDir } from './tmp.js';

export interface SessionRun {
  session: ClientSession;
  events: ClientEvent[];
  dataDir: string;
  controller: AbortController;
}

/** A client session against 127.0.0.1:port writing into a fresh temp data/ folder. */
export async function newSession(
  t: TestContext,
  port: number,
  options: {
    connections?: number;
    policy?: Partial<RetryPolicy>;
    dataDir?: string;
    /** Ports of other xfer servers on 127.0.0.1 with the same files. */
    mirrors?: number[];
    /** Mirrors of other kinds (web mirrors), after the xfer ones. */
    otherMirrors?: Mirror[];
  } = {},
): Promise<SessionRun> {
  const dataDir = options.dataDir ?? join(await tempDir(t, 'xfer-client-'), 'data');
  const events: ClientEvent[] = [];
  const controller = new AbortController();
  const session = new ClientSession({
    connect: { host: '127.0.0.1', port, sessionId: randomBytes(16) },
    dataDir,
    connections: options.connections ?? 4,
    mirrors: (options.mirrors ?? []).map((p) => ({ host: '127.0.0.1', port: p, sessionId: randomBytes(16) })),
    ...(options.otherMirrors ? { otherMirrors: options.otherMirrors } : {}),
    policy: { ...DEFAULT_RETRY_POLICY, baseDelayMs: 20, maxDelayMs: 200, ...options.policy },
    signal: controller.signal,
    emit: (e) => events.push(e),
  });
  t.after(() => session.close());
  await session.refreshCatalog();
  return { session, events, dataDir, controller };
}

export function eventsOf<T extends ClientEvent['type']>(
  events: ClientEvent[],
  type: T,
): Extract<ClientEvent, { type: T }>[] {
  return events.filter((e): e is Extract<ClientEvent, { type: T }> => e.type === type);
}
