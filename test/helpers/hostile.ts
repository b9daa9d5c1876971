import { randomBytes } from 'node:crypto';
import { readFileSync, readdirSync } from 'node:fs';
import { connect } from 'node:net';
import { FrameDecoder, encode, encodePreamble, type Message } from '../../src/protocol/index.js';
import { RawPeer } from './raw-peer.js';
import { waitFor } from './tmp.js';

/**
 * Hostile clients for the abuse tests, each bounded in count and time. The
 * source address is picked with `from` (all of 127.0.0.0/8 is loopback), so
 * one test can play several hosts.
 */

/** Preamble + HELLO with a nonce the test knows, so it can compute a proof for the WELCOME that follows. */
export function greet(peer: RawPeer, clientNonce: Buffer): void {
  peer.send(
    Buffer.concat([encodePreamble(0), encode({ type: 'hello', sessionId: randomBytes(16), clientNonce })]),
  );
}

/** `count` connections from `from` that finish the handshake (preamble + HELLO, WELCOME back) and then say nothing. */
export async function idleHandshakes(port: number, from: string, count: number): Promise<RawPeer[]> {
  const peers = await Promise.all(Array.from({ length: count }, () => RawPeer.open(port, from)));
  peers.forEach((p) => p.hello());
  await waitFor(
    () => peers.every((p) => p.closed || p.messages.some((m) => m.type === 'welcome')),
    20_000,
    `${count} handshakes from ${from}`,
  );
  return peers;
}

export interface StormResult {
  attempts: number;
  /** The codes of the ERROR frames the storm was answered with (a connection that got none adds nothing). */
  codes: Map<string, number>;
}

/**
 * A client that reconnects as fast as it can: `parallel` connections at a
 * time from `from`, each sending preamble + HELLO and starting over as soon as
 * the server answers or closes, until `durationMs` have passed.
 */
export function reconnectStorm(
  port: number,
  from: string,
  durationMs: number,
  parallel = 32,
): Promise<StormResult> {
  const result: StormResult = { attempts: 0, codes: new Map() };
  const deadline = Date.now() + durationMs;
  const hello = Buffer.concat([
    encodePreamble(0),
    encode({ type: 'hello', sessionId: Buffer.alloc(16, 7), clientNonce: Buffer.alloc(32, 9) }),
  ]);
  const lane = (): Promise<void> =>
    new Promise<void>((resolve) => {
      result.attempts++;
      const socket = connect({ host: '127.0.0.1', port, localAddress: from });
      const decoder = new FrameDecoder(
        { peer: 'server' },
        {
          preamble: () => undefined,
          message: (m: Message) => {
            if (m.type !== 'error') return;
            result.codes.set(m.code, (result.codes.get(m.code) ?? 0) + 1);
            socket.destroy();
          },
          data: () => undefined,
          dataEnd: () => undefined,
          error: () => undefined,
        },
      );
      socket.on('connect', () => socket.write(hello));
      socket.on('data', (chunk: Buffer) => decoder.push(chunk));
      socket.on('error', () => undefined);
      // A connection left waiting in a backlog never closes by itself: the storm ends on time regardless.
      const cutOff = setTimeout(() => socket.destroy(), Math.max(0, deadline - Date.now()) + 1_000);
      socket.on('close', () => {
        clearTimeout(cutOff);
        resolve();
      });
    }).then(() => (Date.now() < deadline ? lane() : undefined));
  return Promise.all(Array.from({ length: parallel }, lane)).then(() => result);
}

/** How many descriptors process `pid` has open (Linux /proc). */
export function openDescriptors(pid: number): number {
  return readdirSync(`/proc/${pid}/fd`).length;
}

/** CPU time process `pid` has used so far, in clock ticks (user + system; Linux /proc). */
export function cpuTicks(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  // The command name may hold spaces: fields are counted after its closing parenthesis.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return Number(fields[11]) + Number(fields[12]);
}

/** Samples `measure` every `everyMs` until stopped; returns the largest value seen. */
export function sampleMax(measure: () => number, everyMs = 20): { stop(): number } {
  let max = measure();
  const timer = setInterval(() => {
    try {
      max = Math.max(max, measure());
    } catch {
      // The process may be exiting; the samples so far stand.
    }
  }, everyMs);
  return {
    stop() {
      clearInterval(timer);
      return max;
    },
  };
}
