import stringWidth from 'string-width';

const PRINTABLE_ASCII = /^[\x20-\x7e]*$/;

/**
 * Terminal columns a string takes. Printable ASCII, nearly every name and
 * every line xfer makes, is one column a character; only the rest goes to
 * string-width, whose grapheme segmentation costs ~40 µs a call (a listing
 * or a log of thousands of files would spend most of its time there).
 */
export function textWidth(text: string): number {
  return PRINTABLE_ASCII.test(text) ? text.length : stringWidth(text);
}
