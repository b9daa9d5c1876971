import { createHmac, timingSafeEqual } from 'node:crypto';

/**
 * Mutual challenge-response over a shared token. Each side proves it knows the
 * token by an HMAC over both nonces; the token itself never crosses the wire,
 * and a fresh server nonce per connection makes a recorded exchange useless.
 * The role label keeps the server's proof from being replayed as the client's.
 */
export function authProof(
  token: string,
  role: 'client' | 'server',
  clientNonce: Buffer,
  serverNonce: Buffer,
): Buffer {
  return createHmac('sha256', token)
    .update(`xfer-auth-v1:${role}:`)
    .update(clientNonce)
    .update(serverNonce)
    .digest();
}

/** Constant-time comparison of a received proof with the expected one. */
export function proofMatches(expected: Buffer, received: Buffer): boolean {
  return expected.length === received.length && timingSafeEqual(expected, received);
}
