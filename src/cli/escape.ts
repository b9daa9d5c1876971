/**
 * Characters that can change what a terminal shows beyond their own glyph:
 * C0 and C1 controls (ESC starts CSI/OSC sequences; C1 CSI is U+009B), DEL,
 * bidi marks, embeddings, overrides and isolates, line/paragraph separators,
 * and invisible characters that make two different strings look alike (zero
 * width space, word joiner, invisible operators, BOM, soft hyphen, Mongolian
 * vowel separator, interlinear annotation). ZWJ and ZWNJ stay: real names use
 * them (emoji sequences, Persian), and they cannot move the cursor.
 */
const UNSAFE =
  // eslint-disable-next-line no-control-regex
  /[\u0000-\u001f\u007f-\u009f\u00ad\u061c\u180e\u200b\u200e\u200f\u2028-\u202e\u2060-\u2069\ufeff\ufff9-\ufffb]/gu;

/**
 * Text from a peer or a file, made safe for a terminal: each unsafe character
 * is shown as a visible escape (`\x1b`, `\u202e`), so a hostile string can never
 * move the cursor, retitle the window, clear the screen or reorder what follows.
 * Applied once, where the CLI renders; everything else passes through unchanged.
 */
export function forTerminal(text: string): string {
  return text.replace(UNSAFE, (ch) => {
    const cp = ch.codePointAt(0) ?? 0;
    return cp <= 0xff ? `\\x${cp.toString(16).padStart(2, '0')}` : `\\u${cp.toString(16).padStart(4, '0')}`;
  });
}

/**
 * An NDJSON line made as safe for a terminal: JSON escapes C0 controls itself
 * but leaves the rest of these raw; as `\uNNNN` escapes any JSON parser reads
 * them back as the very same characters.
 */
export function forJsonLine(json: string): string {
  return json.replace(UNSAFE, (ch) => `\\u${(ch.codePointAt(0) ?? 0).toString(16).padStart(4, '0')}`);
}
