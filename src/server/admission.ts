import { isIPv4 } from 'node:net';
import type { XferErrorCode } from '../errors.js';
import { addressGroup } from './address-group.js';

/**
 * Admission: the one gate every accepted socket passes before anything else
 * (before TLS, before the server looks at a single byte), whichever face
 * (xfer protocol or HTTP) ends up serving it. It owns the connection caps,
 * the authentication lockout and fair eviction when the server is full.
 *
 * API, for every face:
 *
 *   const admitted = admission.admit(socket.remoteAddress, (refusal) => closeNow(refusal));
 *   if (!admitted.ok) → refuse at once (a tiny write at most, then destroy): admitted.refusal says why.
 *   ticket = admitted.ticket, then during the connection's life:
 *     ticket.active()     a request is being served: closed for room only from an address hogging the server
 *     ticket.idle()       no request in flight any more
 *     ticket.closing()    the connection is on its way out (it may be cut first when room is needed)
 *     ticket.authFailed() one wrong proof; returns true when this locked the address group out
 *     ticket.lockedOut    the group is locked out: refuse even a right proof
 *     ticket.release()    the socket closed (idempotent); frees its place
 *
 * The `dismiss` callback given to admit() is how admission takes a
 * connection back: when it is evicted to make room (ERR_XFER_LIMIT) or its
 * address group is locked out (ERR_XFER_AUTH). The ticket is already
 * released when dismiss is called; the face must close the socket at once.
 *
 * Addresses are counted by group: an IPv4 address alone, an IPv6 address by
 * its /64 (one host usually holds a whole /64, so counting single IPv6
 * addresses would make every per-address rule toothless).
 */

export interface Refusal {
  code: XferErrorCode;
  message: string;
}

export type Dismiss = (refusal: Refusal) => void;

export interface AdmissionLimits {
  maxConnections: number;
  maxConnectionsPerIp: number;
  /** Failed proofs per address group per window before the group is locked out for the rest of it. */
  authFailuresPerMinute: number;
}

export interface Ticket {
  /** The client's address: the socket's peer, or the one a load balancer's PROXY header named. */
  readonly address: string;
  readonly port: number | undefined;
  /** The address group the connection counts against (IPv4 address, or IPv6 /64). */
  readonly group: string;
  readonly lockedOut: boolean;
  active(): void;
  idle(): void;
  closing(): void;
  authFailed(): boolean;
  release(): void;
}

export type Admitted = { ok: true; ticket: Ticket } | { ok: false; refusal: Refusal };

/** The window in which failed proofs are counted, and so the longest a lockout lasts. */
export const AUTH_FAILURE_WINDOW_MS = 60_000;
/**
 * A connection that has worked and sits quiet this long may be closed to make
 * room; a client between two files is not cut off in that gap.
 */
export const QUIET_BEFORE_EVICTABLE_MS = 5_000;
/** Address groups with recent failed proofs that are remembered; the oldest are forgotten past this. */
const MAX_TRACKED_AUTH_GROUPS = 10_000;

type State = 'new' | 'busy' | 'quiet' | 'closing';

class Entry implements Ticket {
  state: State = 'new';
  since: number;
  released = false;

  constructor(
    private readonly admission: Admission,
    readonly address: string,
    readonly port: number | undefined,
    readonly group: string,
    readonly dismiss: Dismiss,
    now: number,
  ) {
    this.since = now;
  }

  get lockedOut(): boolean {
    return this.admission.isLockedOut(this.group);
  }

  active(): void {
    if (this.state !== 'closing') this.state = 'busy';
  }

  idle(): void {
    if (this.state !== 'busy') return;
    this.state = 'quiet';
    this.since = this.admission.now();
  }

  closing(): void {
    this.state = 'closing';
  }

  authFailed(): boolean {
    return this.admission.recordAuthFailure(this.group);
  }

  release(): void {
    this.admission.forget(this);
  }
}

export class Admission {
  private readonly entries = new Set<Entry>(); // insertion order: oldest first
  private readonly byGroup = new Map<string, Set<Entry>>();
  /** Per group, the times of recent failed proofs (at most the limit, oldest first). */
  private readonly failures = new Map<string, number[]>();
  private shutdown: Refusal | undefined;

  constructor(
    private readonly limits: AdmissionLimits,
    readonly now: () => number = Date.now,
  ) {}

  get size(): number {
    return this.entries.size;
  }

  /** Connections held by the group of `address`. */
  countFor(address: string): number {
    return this.byGroup.get(addressGroup(address))?.size ?? 0;
  }

  admit(address: string | undefined, dismiss: Dismiss, port?: number): Admitted {
    if (this.shutdown) return { ok: false, refusal: this.shutdown };
    const group = addressGroup(address ?? '');
    if (this.isLockedOut(group)) {
      return {
        ok: false,
        refusal: {
          code: 'ERR_XFER_AUTH',
          message: 'Too many failed authentications from this address; try again in a minute.',
        },
      };
    }
    const mine = this.byGroup.get(group);
    if (mine && mine.size >= this.limits.maxConnectionsPerIp) {
      return {
        ok: false,
        refusal: {
          code: 'ERR_XFER_LIMIT',
          message: `Too many connections from ${describe(address ?? '')} (limit ${this.limits.maxConnectionsPerIp}).`,
        },
      };
    }
    if (this.entries.size >= this.limits.maxConnections && !this.makeRoom(mine?.size ?? 0)) {
      return {
        ok: false,
        refusal: {
          code: 'ERR_XFER_LIMIT',
          message: `The server is at its limit of ${this.limits.maxConnections} connections, all of them busy.`,
        },
      };
    }
    const entry = new Entry(this, address ?? '?', port, group, dismiss, this.now());
    this.entries.add(entry);
    if (mine) mine.add(entry);
    else this.byGroup.set(group, new Set([entry]));
    return { ok: true, ticket: entry };
  }

  /** From now on every admit() is refused with `refusal` (the server is shutting down). */
  close(refusal: Refusal): void {
    this.shutdown = refusal;
  }

  isLockedOut(group: string): boolean {
    const times = this.recentFailures(group);
    return times !== undefined && times.length >= this.limits.authFailuresPerMinute;
  }

  /** Counts one wrong proof; at the limit, every connection of the group is dismissed. */
  recordAuthFailure(group: string): boolean {
    const times = this.recentFailures(group) ?? [];
    times.push(this.now());
    // Re-inserting keeps the map in least-recently-failed order, so the oldest group is forgotten first.
    this.failures.delete(group);
    this.failures.set(group, times.slice(-this.limits.authFailuresPerMinute));
    for (const stale of this.failures.keys()) {
      if (this.failures.size <= MAX_TRACKED_AUTH_GROUPS) break;
      this.failures.delete(stale);
    }
    if (times.length < this.limits.authFailuresPerMinute) return false;
    const refusal: Refusal = {
      code: 'ERR_XFER_AUTH',
      message: 'Too many failed authentications from this address; it is locked out for a minute.',
    };
    for (const entry of [...(this.byGroup.get(group) ?? [])]) this.evict(entry, refusal);
    return true;
  }

  forget(entry: Entry): void {
    if (entry.released) return;
    entry.released = true;
    this.entries.delete(entry);
    const mine = this.byGroup.get(entry.group);
    mine?.delete(entry);
    if (mine?.size === 0) this.byGroup.delete(entry.group);
  }

  private recentFailures(group: string): number[] | undefined {
    const times = this.failures.get(group);
    if (!times) return undefined;
    const cutoff = this.now() - AUTH_FAILURE_WINDOW_MS;
    while (times.length > 0 && times[0]! <= cutoff) times.shift();
    if (times.length === 0) {
      this.failures.delete(group);
      return undefined;
    }
    return times;
  }

  /**
   * Closes one connection to admit a new one from a group holding `newcomers`
   * connections, fairest first: one already on its way out; else one that has
   * done nothing since it connected, taken from the address group holding the
   * most such (oldest first), so a flood of silent handshakes pays before
   * anyone else; else the connection quiet the longest, if quiet long enough;
   * else, when one group holds more than twice the newcomer's share, one of
   * its connections (quiet before busy, oldest first): no address keeps
   * others out by holding many connections that each look busy. False when
   * none of these exists.
   */
  private makeRoom(newcomers: number): boolean {
    const victim =
      this.closingEntry() ??
      this.idleEntryOfBusiestGroup() ??
      this.longestQuietEntry() ??
      this.entryOfHoggingGroup(newcomers + 1);
    if (!victim) return false;
    this.evict(victim, {
      code: 'ERR_XFER_LIMIT',
      message:
        'The server is full; this connection was closed to make room for another client. Connect again to continue.',
    });
    return true;
  }

  private closingEntry(): Entry | undefined {
    for (const entry of this.entries) if (entry.state === 'closing') return entry;
    return undefined;
  }

  private idleEntryOfBusiestGroup(): Entry | undefined {
    let best: Entry | undefined;
    let bestCount = 0;
    for (const group of this.byGroup.values()) {
      let oldest: Entry | undefined;
      let count = 0;
      for (const entry of group) {
        if (entry.state !== 'new') continue;
        oldest ??= entry;
        count++;
      }
      if (oldest && count > bestCount) {
        best = oldest;
        bestCount = count;
      }
    }
    return best;
  }

  private longestQuietEntry(): Entry | undefined {
    const cutoff = this.now() - QUIET_BEFORE_EVICTABLE_MS;
    let best: Entry | undefined;
    for (const entry of this.entries) {
      if (entry.state === 'quiet' && entry.since <= cutoff && (!best || entry.since < best.since))
        best = entry;
    }
    return best;
  }

  private entryOfHoggingGroup(share: number): Entry | undefined {
    let largest: Set<Entry> | undefined;
    for (const group of this.byGroup.values()) if (group.size > (largest?.size ?? 0)) largest = group;
    if (!largest || largest.size <= 2 * share) return undefined;
    let oldestBusy: Entry | undefined;
    for (const entry of largest) {
      if (entry.state === 'quiet') return entry;
      oldestBusy ??= entry;
    }
    return oldestBusy;
  }

  private evict(entry: Entry, refusal: Refusal): void {
    this.forget(entry);
    entry.dismiss(refusal);
  }
}

/** An address as shown in messages: IPv4 as is (also IPv4-mapped), IPv6 with the /64 it is counted in. */
function describe(address: string): string {
  const group = addressGroup(address);
  return isIPv4(group) || group === address ? group : `${address} (${group})`;
}
