import type * as UndiciLoaded from './undici-loaded.js';

type Loaded = typeof UndiciLoaded;

let loaded: Promise<Loaded> | undefined;

/**
 * undici, loaded on first use. A run that only talks to plain http servers
 * that answer as expected never needs it (xfer's own connections carry those
 * requests: range-socket.ts), and loading it costs about 50 ms of a run's
 * start (its fetch, WebSocket and HTTP/2 parts load with it).
 */
export function undici(): Promise<Loaded> {
  loaded ??= import('./undici-loaded.js');
  return loaded;
}
