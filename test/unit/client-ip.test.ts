import { describe, expect, it } from 'vitest';
import { canonicalIp, parseClientIp, parseIpRange } from '../../src/request/client-ip.js';

describe('canonical client IP (docs/security.md rule 6)', () => {
  it.each([
    ['192.168.88.98', '192.168.88.98'],
    ['0.0.0.0', '0.0.0.0'],
    ['255.255.255.255', '255.255.255.255'],
    ['2001:db8::1', '2001:db8::1'],
    ['2001:0DB8:0000:0000:0000:0000:0000:0001', '2001:db8::1'],
    ['2001:db8:0:0:1:0:0:1', '2001:db8::1:0:0:1'],
    ['2001:db8:0:1:1:1:1:1', '2001:db8:0:1:1:1:1:1'],
    ['2001:0:0:1:0:0:0:1', '2001:0:0:1::1'],
    ['::', '::'],
    ['::1', '::1'],
    ['1::', '1::'],
    ['fe80::1:2', 'fe80::1:2'],
    ['::ffff:192.168.88.98', '192.168.88.98'],
    ['::FFFF:c0a8:5862', '192.168.88.98'],
    ['0:0:0:0:0:ffff:1.2.3.4', '1.2.3.4'],
    ['::1.2.3.4', '::102:304'],
    ['64:ff9b::192.0.2.33', '64:ff9b::c000:221'],
  ])('%s → %s', (input, canonical) => {
    expect(canonicalIp(input)).toBe(canonical);
  });

  it.each([
    '',
    '1.2.3',
    '1.2.3.4.5',
    '01.2.3.4',
    '1.2.3.256',
    '1.2.3.-1',
    ' 1.2.3.4',
    '1.2.3.4 ',
    '1.2.3.4:80',
    '1.2.3.4/32',
    '[::1]',
    '::1%eth0',
    'fe80::1%25eth0',
    '1::2::3',
    '12345::',
    ':::',
    '1:2:3:4:5:6:7:8:9',
    '1:2:3:4:5:6:7',
    '1:2:3:4:5:6:7::8',
    'g::1',
    '::1.2.3',
    '1.2.3.4::',
    'unix:',
    '1.2.3.4, 5.6.7.8',
    'localhost',
    '０.1.2.3',
  ])('rejects %j', (input) => {
    expect(canonicalIp(input)).toBeUndefined();
  });
});

describe('IP ranges against a BigInt oracle', () => {
  /** Small deterministic PRNG so failures reproduce. */
  let state = 0x1b873593;
  const random = () => {
    state = (Math.imul(state, 1103515245) + 12345) >>> 0;
    return state / 2 ** 32;
  };
  const bits = (n: number) => {
    let value = 0n;
    for (let i = 0; i < n; i++) value = (value << 1n) | (random() < 0.5 ? 1n : 0n);
    return value;
  };
  const v4Text = (v: bigint) => [24n, 16n, 8n, 0n].map((s) => String((v >> s) & 255n)).join('.');
  const v6Text = (v: bigint) =>
    canonicalIp(Array.from({ length: 8 }, (_, i) => ((v >> BigInt(112 - 16 * i)) & 0xffffn).toString(16)).join(':'))!;

  it('contains exactly the addresses that share the prefix bits, for every prefix length', () => {
    for (const [width, text] of [
      [32, v4Text],
      [128, v6Text],
    ] as const) {
      for (let prefix = 0; prefix < width; prefix++) {
        const all = (1n << BigInt(width)) - 1n;
        const mask = prefix === 0 ? 0n : (all << BigInt(width - prefix)) & all;
        for (let n = 0; n < 12; n++) {
          const network = bits(width) & mask;
          const networkText = text(network);
          // IPv4-mapped IPv6 networks are IPv4 addresses: skip that slice of the IPv6 space.
          if (width === 128 && !networkText.includes(':')) continue;
          const range = parseIpRange(`${networkText}/${prefix}`);
          expect(range, `${networkText}/${prefix}`).toBeDefined();
          // A client inside (host bits random), and one with a single prefix bit flipped.
          const inside = network | (bits(width) & ~mask & all);
          const flip = prefix === 0 ? undefined : 1n << BigInt(width - 1 - Math.floor(random() * prefix));
          for (const [client, expected] of [
            [inside, true],
            ...(flip === undefined ? [] : [[inside ^ flip, false] as const]),
          ] as const) {
            const parsed = parseClientIp(text(client));
            if (parsed === undefined || (width === 128 && parsed.v6 === undefined)) continue;
            expect(range!.contains(parsed), `${text(client)} in ${networkText}/${prefix}`).toBe(expected);
          }
          // Host bits set in the network: not a canonical range.
          if (prefix < width - 1) {
            const withHostBit = network | (1n << BigInt(Math.floor(random() * (width - prefix))));
            if (withHostBit !== network) expect(parseIpRange(`${text(withHostBit)}/${prefix}`)).toBeUndefined();
          }
        }
      }
    }
  });
});

describe('IPv6 parsing against the WHATWG URL parser', () => {
  let state = 0x2545f491;
  const random = () => {
    state = (Math.imul(state, 1103515245) + 12345) >>> 0;
    return state / 2 ** 32;
  };
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(random() * xs.length)]!;

  /** Any valid spelling of eight groups: leading zeros, upper case, "::" anywhere it may stand, a dotted tail. */
  function spell(groups: number[]): string {
    const fields = groups.map((g) => {
      const hex = g.toString(16);
      const padded = random() < 0.3 ? hex.padStart(4, '0') : hex;
      return random() < 0.3 ? padded.toUpperCase() : padded;
    });
    let tail: string[] = [];
    if (random() < 0.2) {
      tail = [[groups[6]! >> 8, groups[6]! & 255, groups[7]! >> 8, groups[7]! & 255].join('.')];
      fields.length = 6;
    }
    const zeroRuns: [number, number][] = [];
    for (let i = 0; i < fields.length; i++) {
      for (let j = i; j < fields.length && groups[j] === 0; j++) zeroRuns.push([i, j + 1]);
    }
    if (zeroRuns.length > 0 && random() < 0.8) {
      const [from, to] = pick(zeroRuns);
      return `${fields.slice(0, from).join(':')}::${[...fields.slice(to), ...tail].join(':')}`;
    }
    return [...fields, ...tail].join(':');
  }

  it('gives the canonical text the URL parser gives, for any valid spelling', () => {
    for (let n = 0; n < 3000; n++) {
      // Mostly zeros, so "::" runs of every length and position occur.
      const groups = Array.from({ length: 8 }, () => (random() < 0.5 ? 0 : Math.floor(random() * 0x10000)));
      const text = spell(groups);
      const host = new URL(`http://[${text}]/`).hostname.slice(1, -1);
      const mapped = groups.slice(0, 5).every((g) => g === 0) && groups[5] === 0xffff;
      const expected = mapped ? [groups[6]! >> 8, groups[6]! & 255, groups[7]! >> 8, groups[7]! & 255].join('.') : host;
      expect(parseClientIp(text)?.text, text).toBe(expected);
    }
  });

  it('refuses what the URL parser refuses (and zone ids, which it cannot carry)', () => {
    const alphabet = [...'0123456789abcdefABCDEFg:.%/ '];
    for (let n = 0; n < 5000; n++) {
      let text = spell(Array.from({ length: 8 }, () => (random() < 0.5 ? 0 : Math.floor(random() * 0x10000))));
      const at = Math.floor(random() * (text.length + 1));
      const change = random();
      if (change < 0.4) text = text.slice(0, at) + pick(alphabet) + text.slice(at);
      else if (change < 0.8) text = text.slice(0, at) + text.slice(at + 1);
      else text = text.slice(0, at) + pick(alphabet) + text.slice(at + 1);
      if (!text.includes(':')) continue;
      let valid: boolean;
      try {
        valid = !/[%/ ]/.test(text) && new URL(`http://[${text}]/`).hostname !== '';
      } catch {
        valid = false;
      }
      expect(parseClientIp(text) !== undefined, text).toBe(valid);
    }
  });
});
