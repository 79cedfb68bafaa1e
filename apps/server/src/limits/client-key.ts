/**
 * The key every per-IP limiter counts a client under (the credential limit's `auth:ip:` keys and
 * the request limit): one function, so no limit can count addresses differently.
 *
 *  - IPv4: the address as is (one address is what one subscriber, or one NAT, gets).
 *  - IPv4-mapped IPv6 (`::ffff:a.b.c.d`, what a dual-stack socket reports for an IPv4 peer): the
 *    IPv4 address, so one client has one budget whichever way the socket spells it.
 *  - any other IPv6 address: its /64 prefix in canonical form (RFC 5952), e.g. `2001:db8:1:1::/64`.
 *    A /64 is the smallest block an ISP gives one subscriber, and every host in it can pick any of
 *    its 2^64 addresses (SLAAC, temporary addresses: RFC 8981), so limiting one address at
 *    a time gives one home an unbounded number of budgets. RFC 6177 recommends a /56 or /48 per site;
 *    grouping by /56 or /48 would close the door on those too, but it would put up to 256 or 65,536
 *    unrelated customers of an ISP that hands out single /64s (most mobile networks: RFC 7278) on
 *    one budget. /64 is the choice that never merges two subscribers; a site with a /56 gets at most
 *    256 budgets, the same order as the IPv4 addresses a small attacker rents.
 *  - null (no address known): `unknown`. Anything else (a proxy that forwards something that is not
 *    an address): the text itself, cut to 64 characters so it can't grow a limiter's keys.
 */
import { isIPv4, isIPv6 } from 'node:net';

const MAX_OTHER = 64;

export function clientKey(address: string | null | undefined): string {
  if (!address) return 'unknown';
  if (!address.includes(':')) return isIPv4(address) ? address : address.slice(0, MAX_OTHER);
  const zone = address.indexOf('%');
  const ip = zone === -1 ? address : address.slice(0, zone);
  if (!isIPv6(ip)) return address.slice(0, MAX_OTHER);
  const h = hextets(ip);
  if (h[0] === 0 && h[1] === 0 && h[2] === 0 && h[3] === 0 && h[4] === 0 && h[5] === 0xffff) {
    return `${h[6]! >> 8}.${h[6]! & 0xff}.${h[7]! >> 8}.${h[7]! & 0xff}`;
  }
  return `${canonical([h[0]!, h[1]!, h[2]!, h[3]!, 0, 0, 0, 0])}/64`;
}

/** The eight 16-bit groups of a valid IPv6 address (with `::` expanded, a dotted IPv4 tail split in two). */
function hextets(ip: string): number[] {
  const groups = (part: string): number[] => {
    if (part === '') return [];
    const out: number[] = [];
    for (const g of part.split(':')) {
      if (g.includes('.')) {
        const [a = 0, b = 0, c = 0, d = 0] = g.split('.').map(Number);
        out.push((a << 8) | b, (c << 8) | d);
      } else {
        out.push(Number.parseInt(g, 16));
      }
    }
    return out;
  };
  const gap = ip.indexOf('::');
  if (gap === -1) return groups(ip);
  const head = groups(ip.slice(0, gap));
  const tail = groups(ip.slice(gap + 2));
  return [...head, ...Array<number>(8 - head.length - tail.length).fill(0), ...tail];
}

/** RFC 5952 section 4: lower-case hex, no leading zeros, the longest run (2+) of zero groups as `::`. */
function canonical(h: number[]): string {
  let best = -1;
  let bestLength = 1;
  for (let i = 0; i < h.length; ) {
    if (h[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < h.length && h[j] === 0) j++;
    if (j - i > bestLength) {
      best = i;
      bestLength = j - i;
    }
    i = j;
  }
  const hex = (from: number, to: number) =>
    h
      .slice(from, to)
      .map((g) => g.toString(16))
      .join(':');
  if (best === -1) return hex(0, 8);
  return `${hex(0, best)}::${hex(best + bestLength, 8)}`;
}
