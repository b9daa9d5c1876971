/**
 * The two ends of an HTTP/1.1 exchange that RangeSockets writes and reads
 * itself: the request line and headers it sends, and the response head it
 * accepts. Both are strict on purpose: anything unusual is left to undici.
 */

/** A longer response head is left to undici (whose own limit is 16 KiB). */
export const MAX_HEAD_BYTES = 16 * 1024;
export const HEAD_END = Buffer.from('\r\n\r\n');
const STATUS_LINE = /^HTTP\/1\.([01]) (\d{3})(?: [\t\x20-\x7e]*)?$/;
const HEADER_LINE = /^([!#$%&'*+.^_`|~0-9A-Za-z-]+):[ \t]*([\t\x20-\x7e]*?)[ \t]*$/;
/** What a request header value may hold here; anything else is sent (or refused) by undici. */
const PLAIN_VALUE = /^[\t\x20-\x7e]*$/;

/** The request as sent, or undefined when a header value is one for undici to judge. */
export function requestText(url: URL, headers: Record<string, string>): string | undefined {
  let text = `GET ${url.pathname}${url.search} HTTP/1.1\r\nhost: ${url.host}\r\n`;
  for (const [name, value] of Object.entries(headers)) {
    if (!PLAIN_VALUE.test(value) || name.toLowerCase() === 'host') return undefined;
    text += `${name}: ${value}\r\n`;
  }
  return `${text}\r\n`;
}

/** A response head of printable ASCII, strictly formed; undefined otherwise (undici then reads it). */
export function parseHead(
  text: string,
): { status: number; headers: Record<string, string | string[]>; keepAlive: boolean } | undefined {
  const lines = text.split('\r\n');
  const status = STATUS_LINE.exec(lines[0] ?? '');
  if (!status) return undefined;
  const headers: Record<string, string | string[]> = {};
  for (const line of lines.slice(1)) {
    const m = HEADER_LINE.exec(line);
    if (!m?.[1] || m[2] === undefined) return undefined;
    const name = m[1].toLowerCase();
    const before = headers[name];
    headers[name] = before === undefined ? m[2] : [before, m[2]].flat();
  }
  const connection = String(headers['connection'] ?? '').toLowerCase();
  const keepAlive = status[1] === '1' ? !/\bclose\b/.test(connection) : /\bkeep-alive\b/.test(connection);
  return { status: Number(status[2]), headers, keepAlive };
}
