/**
 * Client IP addresses, parsed once per request into a value the schemes receive
 * (docs/security.md rule 6). Canonical text is what token signers must write: IPv4 as a plain
 * dotted quad without leading zeros; IPv6 per RFC 5952 (lowercase, no leading zeros, the longest
 * run of two or more zero groups shortened to "::", the first on a tie).
 *
 * Choice: an IPv4-mapped IPv6 address (`::ffff:a.b.c.d`, what a dual-stack socket reports for an
 * IPv4 client) is the IPv4 client `a.b.c.d`, so a token signed for the IPv4 address works
 * whichever socket the proxy accepted the client on.
 *
 * Anything else is not an address: zone ids, brackets, ports, CIDR suffixes, lists.
 */

/** A client address: its canonical text (what formats sign) and its bits (what ranges compare). */
export interface ClientIp {
  readonly text: string;
  /** The 32-bit value of an IPv4 address; -1 for IPv6. */
  readonly v4: number;
  /** The eight 16-bit groups of an IPv6 address; undefined for IPv4. */
  readonly v6: readonly number[] | undefined;
  /** The IPv4 address was written IPv4-mapped (`::ffff:a.b.c.d`); formats that sign nginx's `$remote_addr` text need it. */
  readonly mapped?: true;
}

/** Parses an address written any valid way; undefined when it is not one address. */
export function parseClientIp(text: string): ClientIp | undefined {
  if (text.length === 0 || text.length > 45) return undefined;
  if (!text.includes(':')) {
    const v4 = ipv4Value(text);
    return v4 < 0 ? undefined : { text, v4, v6: undefined };
  }
  const groups = ipv6Groups(text);
  if (groups === undefined) return undefined;
  if (groups[0] === 0 && groups[1] === 0 && groups[2] === 0 && groups[3] === 0 && groups[4] === 0 && groups[5] === 0xffff) {
    const v4 = groups[6]! * 0x10000 + groups[7]!;
    return { text: `${v4 >>> 24}.${(v4 >>> 16) & 0xff}.${(v4 >>> 8) & 0xff}.${v4 & 0xff}`, v4, v6: undefined, mapped: true };
  }
  return { text: ipv6Text(groups), v4: -1, v6: groups };
}

/**
 * Why `text` cannot be signed as one client address, in the words every signer uses: not an
 * address at all (invalid), or an address written another way than formats sign it (not
 * canonical, with the spelling to write); undefined when it is one canonical address.
 */
export function clientIpProblem(text: string): string | undefined {
  const ip = parseClientIp(text);
  if (ip === undefined) return `client IP ${JSON.stringify(text)} is not an IPv4 or IPv6 address`;
  if (ip.text !== text) return `client IP ${JSON.stringify(text)} is not written canonically (write ${ip.text})`;
  return undefined;
}

/** The canonical text of an address, or undefined (signers check what they are given with it). */
export function canonicalIp(text: string): string | undefined {
  return parseClientIp(text)?.text;
}

/**
 * The 32-bit value of a canonical dotted quad (four decimal octets 0-255, no leading zeros: 010
 * is octal to some parsers), or -1. One pass, no allocation: this runs for every request of an
 * IP-bound route (measured 334 ns with split and regexes, ≈40 ns so).
 */
function ipv4Value(text: string): number {
  const length = text.length;
  if (length < 7 || length > 15) return -1;
  let value = 0;
  let octet = 0;
  let digits = 0;
  let dots = 0;
  for (let i = 0; i <= length; i++) {
    const code = i < length ? text.charCodeAt(i) : 0x2e;
    if (code === 0x2e) {
      if (digits === 0 || octet > 255) return -1;
      value = value * 256 + octet;
      octet = 0;
      digits = 0;
      dots++;
    } else if (code >= 0x30 && code <= 0x39) {
      if (digits === 1 && octet === 0) return -1; // leading zero
      octet = octet * 10 + code - 0x30;
      digits++;
    } else {
      return -1;
    }
  }
  return dots === 4 ? value : -1;
}

/** The value of a hex digit's char code, or -1. */
function hexDigit(code: number): number {
  if (code >= 0x30 && code <= 0x39) return code - 0x30;
  const lower = code | 0x20;
  return lower >= 0x61 && lower <= 0x66 ? lower - 0x57 : -1;
}

/**
 * The eight groups of an IPv6 address in any valid spelling (an IPv4 tail included), or
 * undefined. One pass over the characters (split and regexes cost ≈2.5 µs a request).
 */
function ipv6Groups(text: string): number[] | undefined {
  const n = text.length;
  const groups: number[] = [];
  /** Where "::" stands, as an index into `groups`; -1 when absent. */
  let gap = -1;
  let i = 0;
  if (text.charCodeAt(0) === 0x3a) {
    if (text.charCodeAt(1) !== 0x3a) return undefined;
    gap = 0;
    i = 2;
  }
  while (i < n) {
    const start = i;
    let value = 0;
    let digits = 0;
    for (let d = hexDigit(text.charCodeAt(i)); d >= 0 && i < n; d = hexDigit(text.charCodeAt(++i))) {
      if (++digits > 4) return undefined;
      value = value * 16 + d;
    }
    if (text.charCodeAt(i) === 0x2e) {
      // A dotted IPv4 tail: the last two groups.
      const v4 = ipv4Value(text.slice(start));
      if (v4 < 0 || groups.length > 6) return undefined;
      groups.push(v4 >>> 16, v4 & 0xffff);
      break;
    }
    if (digits === 0) return undefined;
    groups.push(value);
    if (i === n) break;
    if (text.charCodeAt(i) !== 0x3a || ++i === n) return undefined;
    if (text.charCodeAt(i) === 0x3a) {
      if (gap >= 0) return undefined;
      gap = groups.length;
      i++;
    }
  }
  if (gap < 0) return groups.length === 8 ? groups : undefined;
  // "::" stands for at least one zero group.
  if (groups.length > 7) return undefined;
  const full = [0, 0, 0, 0, 0, 0, 0, 0];
  for (let g = 0; g < gap; g++) full[g] = groups[g]!;
  for (let g = gap, shift = 8 - groups.length; g < groups.length; g++) full[g + shift] = groups[g]!;
  return full;
}

const hexChars = '0123456789abcdef';

/** Lowercase hex of a group without leading zeros (Number#toString(16) cost ≈200 ns a group). */
function hexText(group: number): string {
  let text = hexChars[group & 15]!;
  for (let rest = group >>> 4; rest > 0; rest >>>= 4) text = hexChars[rest & 15]! + text;
  return text;
}

/** RFC 5952 text of eight groups. */
function ipv6Text(groups: readonly number[]): string {
  let bestStart = -1;
  let bestLength = 1;
  for (let i = 0; i < 8; ) {
    if (groups[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && groups[j] === 0) j++;
    if (j - i > bestLength) {
      bestStart = i;
      bestLength = j - i;
    }
    i = j;
  }
  let text = '';
  for (let i = 0; i < 8; i++) {
    if (i === bestStart) {
      text += '::';
      i += bestLength - 1;
      continue;
    }
    if (i > 0 && i !== bestStart + bestLength) text += ':';
    text += hexText(groups[i]!);
  }
  return text;
}

/** A client IP or CIDR range in canonical text: `203.0.113.7`, `203.0.113.0/24`, `2001:db8::/32`. */
export interface IpRange {
  readonly text: string;
  contains(client: ClientIp): boolean;
}

/**
 * Parses a range written canonically: the address in canonical form with no host bits set, a
 * prefix length without leading zeros and shorter than the address (a single address has none).
 * One spelling per range, so a signed range cannot be rewritten into a wider-looking one.
 */
export function parseIpRange(text: string): IpRange | undefined {
  const slash = text.indexOf('/');
  const address = parseClientIp(slash < 0 ? text : text.slice(0, slash));
  if (address === undefined || address.text !== (slash < 0 ? text : text.slice(0, slash))) return undefined;
  // A single address: both sides are canonical text, so membership is equality.
  if (slash < 0) return { text, contains: (client) => client.text === text };
  const length = text.slice(slash + 1);
  if (!/^(0|[1-9][0-9]{0,2})$/.test(length)) return undefined;
  const prefix = Number(length);
  const { v4: network, v6 } = address;
  if (v6 === undefined) {
    if (prefix >= 32) return undefined;
    const mask = prefix === 0 ? 0 : (0xffffffff << (32 - prefix)) >>> 0;
    if ((network & ~mask) >>> 0 !== 0) return undefined;
    return { text, contains: (client) => client.v4 >= 0 && ((client.v4 ^ network) & mask) >>> 0 === 0 };
  }
  if (prefix >= 128) return undefined;
  // Per group, the bits the prefix covers.
  const masks = v6.map((_, i) => {
    const bits = Math.max(0, Math.min(16, prefix - 16 * i));
    return bits === 0 ? 0 : (0xffff << (16 - bits)) & 0xffff;
  });
  if (v6.some((group, i) => (group & ~masks[i]!) !== 0)) return undefined;
  return {
    text,
    contains(client) {
      const groups = client.v6;
      if (groups === undefined) return false;
      for (let i = 0; i < 8; i++) if (((groups[i]! ^ v6[i]!) & masks[i]!) !== 0) return false;
      return true;
    },
  };
}
