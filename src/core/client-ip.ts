/**
 * Canonical text of a client IP address, as token signers must write it (docs/security.md rule 6):
 * IPv4 as a plain dotted quad without leading zeros; IPv6 per RFC 5952 (lowercase, no leading
 * zeros, the longest run of two or more zero groups shortened to "::", the first on a tie).
 *
 * Choice: an IPv4-mapped IPv6 address (`::ffff:a.b.c.d`, what a dual-stack socket reports for an
 * IPv4 client) is the IPv4 client `a.b.c.d`, so a token signed for the IPv4 address works
 * whichever socket the proxy accepted the client on.
 *
 * Returns undefined for anything else: zone ids, brackets, ports, CIDR suffixes, lists.
 */
export function canonicalIp(text: string): string | undefined {
  if (text.length === 0 || text.length > 45) return undefined;
  if (text.includes(':')) return canonicalIpv6(text);
  return ipv4Value(text) < 0 ? undefined : text;
}

/**
 * The 32-bit value of a canonical dotted quad, or -1. One pass, no allocation: this runs for every
 * request of an IP-bound route (measured 334 ns with split and regexes, ≈40 ns so).
 */
export function ipv4Value(text: string): number {
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
      if (digits === 1 && octet === 0) return -1; // leading zero: octal to some parsers
      octet = octet * 10 + code - 0x30;
      digits++;
    } else {
      return -1;
    }
  }
  return dots === 4 ? value : -1;
}

/** Strict dotted quad: four decimal octets 0-255, no leading zeros (010 is octal to some parsers). */
function parseIpv4(text: string): number[] | undefined {
  const parts = text.split('.');
  if (parts.length !== 4) return undefined;
  const octets: number[] = [];
  for (const part of parts) {
    if (part.length === 0 || part.length > 3 || !/^[0-9]+$/.test(part)) return undefined;
    if (part.length > 1 && part.charCodeAt(0) === 48) return undefined;
    const value = Number(part);
    if (value > 255) return undefined;
    octets.push(value);
  }
  return octets;
}

function parseIpv6Groups(text: string): number[] | undefined {
  const halves = text.split('::');
  if (halves.length > 2) return undefined;
  const head = halves[0] === '' ? [] : halves[0]!.split(':');
  const tail = halves.length === 2 && halves[1] !== '' ? halves[1]!.split(':') : [];
  const groups: number[] = [];
  const readSide = (parts: string[], isLast: boolean): number[] | undefined => {
    const out: number[] = [];
    for (let i = 0; i < parts.length; i++) {
      const part = parts[i]!;
      if (isLast && i === parts.length - 1 && part.includes('.')) {
        const v4 = parseIpv4(part);
        if (v4 === undefined) return undefined;
        out.push((v4[0]! << 8) | v4[1]!, (v4[2]! << 8) | v4[3]!);
      } else {
        if (!/^[0-9a-fA-F]{1,4}$/.test(part)) return undefined;
        out.push(Number.parseInt(part, 16));
      }
    }
    return out;
  };
  const left = readSide(head, halves.length === 1);
  const right = readSide(tail, true);
  if (left === undefined || right === undefined) return undefined;
  if (halves.length === 1) {
    if (left.length !== 8) return undefined;
    return left;
  }
  const missing = 8 - left.length - right.length;
  if (missing < 1) return undefined;
  groups.push(...left, ...new Array<number>(missing).fill(0), ...right);
  return groups;
}

function canonicalIpv6(text: string): string | undefined {
  const groups = parseIpv6Groups(text);
  if (groups === undefined) return undefined;
  if (groups.slice(0, 5).every((g) => g === 0) && groups[5] === 0xffff) {
    return `${groups[6]! >> 8}.${groups[6]! & 0xff}.${groups[7]! >> 8}.${groups[7]! & 0xff}`;
  }
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
  const hex = groups.map((g) => g.toString(16));
  if (bestStart < 0) return hex.join(':');
  return `${hex.slice(0, bestStart).join(':')}::${hex.slice(bestStart + bestLength).join(':')}`;
}

/** The bytes of a canonical IP (4 for IPv4, 16 for IPv6), or undefined. */
export function ipBytes(text: string): Uint8Array | undefined {
  if (canonicalIp(text) !== text) return undefined;
  if (!text.includes(':')) return Uint8Array.from(parseIpv4(text)!);
  const bytes = new Uint8Array(16);
  parseIpv6Groups(text)!.forEach((group, i) => {
    bytes[2 * i] = group >> 8;
    bytes[2 * i + 1] = group & 0xff;
  });
  return bytes;
}

/** A client IP or CIDR range in canonical text: `203.0.113.7`, `203.0.113.0/24`, `2001:db8::/32`. */
export interface IpRange {
  readonly text: string;
  contains(canonicalClientIp: string): boolean;
}

/**
 * Parses a range written canonically: the address in canonicalIp form with no host bits set, a
 * prefix length without leading zeros and shorter than the address (a single address has none).
 * One spelling per range, so a signed range cannot be rewritten into a wider-looking one.
 */
export function parseIpRange(text: string): IpRange | undefined {
  const slash = text.indexOf('/');
  // A single address: both sides are canonical text, so membership is equality.
  if (slash < 0) return canonicalIp(text) === text ? { text, contains: (clientIp) => clientIp === text } : undefined;
  const address = text.slice(0, slash);
  const length = text.slice(slash + 1);
  if (!/^(0|[1-9][0-9]{0,2})$/.test(length)) return undefined;
  const prefix = Number(length);
  if (!address.includes(':')) {
    const network = ipv4Value(address);
    if (network < 0 || prefix >= 32) return undefined;
    const mask = prefix === 0 ? 0 : (0xffffffff << (32 - prefix)) >>> 0;
    if ((network & ~mask) >>> 0 !== 0) return undefined;
    return {
      text,
      contains(clientIp) {
        const client = ipv4Value(clientIp);
        return client >= 0 && ((client ^ network) & mask) >>> 0 === 0;
      },
    };
  }
  return ipv6Range(text, address, prefix);
}

function ipv6Range(text: string, address: string, prefix: number): IpRange | undefined {
  const network = ipBytes(address);
  if (network === undefined || network.length !== 16 || prefix >= 128) return undefined;
  const bits = 128;
  for (let bit = prefix; bit < bits; bit++) if (network[bit >> 3]! & (0x80 >> (bit & 7))) return undefined;
  return {
    text,
    contains(clientIp) {
      const client = ipBytes(clientIp);
      if (client === undefined || client.length !== network.length) return false;
      for (let bit = 0; bit < prefix; bit++) {
        const mask = 0x80 >> (bit & 7);
        if ((client[bit >> 3]! & mask) !== (network[bit >> 3]! & mask)) return false;
      }
      return true;
    },
  };
}
