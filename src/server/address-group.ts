import { isIPv4, isIPv6 } from 'node:net';

const HEXTETS = 8;
/** An IPv6 /64 is the first four 16-bit groups. */
const PREFIX_HEXTETS = 4;
const MAPPED_IPV4 = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i;

/**
 * The key a peer's address is counted under: an IPv4 address as is (also
 * when it arrives IPv4-mapped, `::ffff:a.b.c.d`, on a dual-stack socket), an
 * IPv6 address by its /64 prefix, written `a:b:c:d::/64`. Anything else
 * (a missing address) is its own key.
 */
export function addressGroup(address: string): string {
  const mapped = MAPPED_IPV4.exec(address);
  if (mapped?.[1] && isIPv4(mapped[1])) return mapped[1];
  const bare = address.split('%')[0] ?? address; // a zone index (fe80::1%eth0) names a link, not a host
  if (!isIPv6(bare)) return address;
  const hextets = expandIPv6(bare).slice(0, PREFIX_HEXTETS);
  return `${hextets.map((h) => h.toString(16)).join(':')}::/64`;
}

/** The eight 16-bit groups of a valid IPv6 address (`::` expanded, a trailing dotted IPv4 converted). */
function expandIPv6(address: string): number[] {
  const [head = '', tail] = address.split('::');
  const parse = (part: string): number[] =>
    part === ''
      ? []
      : part.split(':').flatMap((h) => {
          if (!h.includes('.')) return [parseInt(h, 16)];
          const [a = 0, b = 0, c = 0, d = 0] = h.split('.').map(Number);
          return [(a << 8) | b, (c << 8) | d];
        });
  const left = parse(head);
  const right = tail === undefined ? [] : parse(tail);
  const zeros = new Array<number>(HEXTETS - left.length - right.length).fill(0);
  return [...left, ...zeros, ...right];
}
