import { randomBytes } from 'node:crypto';
import { AuthError, UnexpectedFrameError } from '../errors.js';
import { NONCE_SIZE, authProof, encode, encodePreamble, proofMatches } from '../protocol/index.js';

/**
 * The client's side of the handshake (docs/protocol.md §3): HELLO, then
 * WELCOME, then with a token AUTH and the server's proof in AUTH_OK. Pure
 * decisions on the frames received; the connection does the I/O.
 *
 * With a token the client requires mutual authentication: a server that asks
 * for none has proved nothing (anyone can answer at that address), so it is
 * refused, never trusted with a request.
 */
export class ClientHandshake {
  private readonly clientNonce = randomBytes(NONCE_SIZE);
  private serverNonce: Buffer | undefined;
  private welcomed = false;

  constructor(
    private readonly token: string | undefined,
    private readonly where: string,
  ) {}

  /** The preamble and HELLO, the client's first bytes. */
  hello(sessionId: Buffer): Buffer {
    return Buffer.concat([
      encodePreamble(0),
      encode({ type: 'hello', sessionId, clientNonce: this.clientNonce }),
    ]);
  }

  /** WELCOME: the AUTH frame to send, or undefined when the connection is ready. Throws on refusal. */
  onWelcome(authRequired: boolean, serverNonce: Buffer): Buffer | undefined {
    if (this.welcomed) throw new UnexpectedFrameError('The server sent a second welcome.');
    this.welcomed = true;
    if (this.token && !authRequired) {
      throw new AuthError(`${this.where} did not prove it knows the token (it asked for none); refusing it.`);
    }
    if (!authRequired) return undefined;
    if (!this.token) throw new AuthError(`${this.where} requires a token.`);
    this.serverNonce = serverNonce;
    return encode({
      type: 'auth',
      clientProof: authProof(this.token, 'client', this.clientNonce, serverNonce),
    });
  }

  /** AUTH_OK: the server must prove it knows the token too before it is sent a single request. */
  onAuthOk(serverProof: Buffer): void {
    const { token, serverNonce } = this;
    if (!token || !serverNonce)
      throw new UnexpectedFrameError('The server sent an AUTH_OK nobody asked for.');
    if (!proofMatches(authProof(token, 'server', this.clientNonce, serverNonce), serverProof)) {
      throw new AuthError(`${this.where} did not prove it knows the token; refusing it.`);
    }
  }
}
