import { InternalError } from '../errors.js';

/**
 * States an invariant the code relies on (as undici asserts its state): if it
 * does not hold, a bug is found, and going on could write a byte in the wrong
 * place, so the download stops with ERR_XFER_INTERNAL instead. The message is
 * built only then (hot paths call this for every chunk).
 */
export function invariant(condition: unknown, what: () => string): asserts condition {
  if (!condition) throw new InternalError(`Internal error: ${what()}. Please report it.`);
}
