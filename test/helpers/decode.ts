import { FrameDecoder, encodePreamble, type Message, type Preamble } from '../../src/protocol/index.js';
import type { XferError } from '../../src/errors.js';

export type DecodedEvent =
  | { kind: 'preamble'; preamble: Preamble }
  | { kind: 'message'; message: Message }
  | { kind: 'data'; bytes: Buffer }
  | { kind: 'data-end' }
  | { kind: 'error'; error: XferError };

/** A decoder that records every event, merging adjacent raw data so splits compare equal. */
export function recordingDecoder(peer: 'client' | 'server', maxFrameSize?: number) {
  const events: DecodedEvent[] = [];
  const decoder = new FrameDecoder(maxFrameSize === undefined ? { peer } : { peer, maxFrameSize }, {
    preamble: (preamble) => events.push({ kind: 'preamble', preamble }),
    message: (message) => events.push({ kind: 'message', message }),
    data: (chunk) => {
      const last = events.at(-1);
      if (last?.kind === 'data') last.bytes = Buffer.concat([last.bytes, chunk]);
      else events.push({ kind: 'data', bytes: Buffer.from(chunk) });
    },
    dataEnd: () => events.push({ kind: 'data-end' }),
    error: (error) => events.push({ kind: 'error', error }),
  });
  return { decoder, events };
}

/** Feeds `bytes` split at the given cut points. */
export function feedSplit(decoder: FrameDecoder, bytes: Buffer, cuts: number[]): void {
  let prev = 0;
  for (const cut of [...cuts].sort((a, b) => a - b)) {
    decoder.push(bytes.subarray(prev, cut));
    prev = cut;
  }
  decoder.push(bytes.subarray(prev));
}

/** The error a stream ends in, after a valid preamble. */
export function decodeError(peer: 'client' | 'server', frames: Buffer): XferError | undefined {
  const { decoder, events } = recordingDecoder(peer);
  decoder.push(Buffer.concat([encodePreamble(0), frames]));
  const last = events.at(-1);
  return last?.kind === 'error' ? last.error : undefined;
}
