import { createHmac, hash, randomBytes } from 'node:crypto';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { bytesEqualText } from '../../src/scheme-kit/digest-equals.js';
import { hmacSha256Utf8, md5Utf8, sha1Utf8 } from '../../src/scheme-kit/js-hash.js';

const hashes = [
  ['md5', md5Utf8],
  ['sha1', sha1Utf8],
] as const;

/** Text of every kind a message can hold: ASCII, Latin-1 (header bytes), astral pairs, lone surrogates. */
const anyText = fc.string({ unit: 'binary', maxLength: 300 });

describe('MD5 and SHA-1 in JavaScript equal node:crypto (the validator and the signers must agree)', () => {
  for (const [algorithm, jsHash] of hashes) {
    it(`${algorithm}: every length around the block boundaries, ASCII and not`, () => {
      for (let length = 0; length <= 200; length++) {
        for (const unit of ['a', 'é', '€', '😀', '\ud800']) {
          const text = unit.repeat(length).slice(0, length);
          expect(Buffer.from(jsHash(text)).toString('hex'), `${algorithm} of ${length} × ${JSON.stringify(unit)}`).toBe(
            hash(algorithm, text, 'hex'),
          );
        }
      }
    });

    it(`${algorithm}: random text, long messages, and one scratch shared by calls of both lengths`, () => {
      fc.assert(
        fc.property(anyText, (text) => {
          expect(Buffer.from(jsHash(text)).toString('hex')).toBe(hash(algorithm, text, 'hex'));
        }),
        { numRuns: 2000 },
      );
      for (const length of [8191, 8192, 20_000, 70_000]) {
        const text = randomBytes(length).toString('latin1');
        expect(Buffer.from(jsHash(text)).toString('hex')).toBe(hash(algorithm, text, 'hex'));
        // A short message after a long one: no bytes of the long one leak into its padding.
        expect(Buffer.from(jsHash('abc')).toString('hex')).toBe(hash(algorithm, 'abc', 'hex'));
      }
    });
  }

  it('the published vectors (RFC 1321, FIPS 180)', () => {
    expect(Buffer.from(md5Utf8('')).toString('hex')).toBe('d41d8cd98f00b204e9800998ecf8427e');
    expect(Buffer.from(md5Utf8('message digest')).toString('hex')).toBe('f96b697d7cb7938d525a2f31aaf161d0');
    expect(Buffer.from(sha1Utf8('abc')).toString('hex')).toBe('a9993e364706816aba3e25717850c26c9cd0d89d');
  });
});

describe('HMAC-SHA256 in JavaScript from precomputed midstates equals createHmac', () => {
  it('for key lengths around the block size and message lengths around every block boundary', () => {
    for (const keyLength of [0, 1, 16, 32, 63, 64, 65, 100, 200]) {
      const key = randomBytes(keyLength);
      const mac = hmacSha256Utf8(key);
      for (let length = 0; length <= 200; length++) {
        for (const unit of ['a', 'é', '😀', '\udc00']) {
          const text = unit.repeat(length).slice(0, length);
          expect(Buffer.from(mac(text)).toString('hex'), `key ${keyLength}, ${length} × ${JSON.stringify(unit)}`).toBe(
            createHmac('sha256', key).update(text, 'utf8').digest('hex'),
          );
        }
      }
    }
  });

  it('for a message longer than any before it: the scratch it grows is the one hashed', () => {
    const key = randomBytes(32);
    for (const length of [100_000, 9_216]) {
      const text = 'x~/.\n'.repeat(length).slice(0, length);
      expect(Buffer.from(hmacSha256Utf8(key)(text)).toString('hex')).toBe(createHmac('sha256', key).update(text).digest('hex'));
    }
  });

  it('for random keys and text, two keys used in turn (midstates are per key, the scratch shared)', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 150 }), fc.uint8Array({ maxLength: 150 }), anyText, (a, b, text) => {
        const [first, second] = [Buffer.from(a), Buffer.from(b)];
        const macs = [hmacSha256Utf8(first), hmacSha256Utf8(second)];
        for (const [i, key] of [first, second].entries()) {
          expect(Buffer.from(macs[i]!(text)).toString('hex')).toBe(createHmac('sha256', key).update(text, 'utf8').digest('hex'));
        }
      }),
      { numRuns: 1000 },
    );
  });
});

describe('bytesEqualText: a computed digest against the text a token carries', () => {
  it('accepts exactly the canonical base64url and hex spellings of the digest', () => {
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 16, maxLength: 32 }), (bytes) => {
        const digest = Uint8Array.from(bytes);
        const buffer = Buffer.from(digest);
        expect(bytesEqualText(digest, buffer.toString('base64url'), 'base64url')).toBe(true);
        expect(bytesEqualText(digest, buffer.toString('hex'), 'hex')).toBe(true);
        expect(bytesEqualText(digest, buffer.toString('hex').toUpperCase(), 'hex')).toBe(true);
        // Any other digest, any other length, padding, or a standard-base64 alphabet: refused.
        const other = Buffer.from(buffer);
        other[other.length - 1]! ^= 1;
        expect(bytesEqualText(digest, other.toString('base64url'), 'base64url')).toBe(false);
        expect(bytesEqualText(digest, other.toString('hex'), 'hex')).toBe(false);
        expect(bytesEqualText(digest, buffer.subarray(1).toString('base64url'), 'base64url')).toBe(false);
        expect(bytesEqualText(digest, `${buffer.toString('hex')}00`, 'hex')).toBe(false);
        expect(bytesEqualText(digest, buffer.toString('base64'), 'base64url')).toBe(
          buffer.toString('base64') === buffer.toString('base64url'),
        );
      }),
      { numRuns: 500 },
    );
  });

  it('refuses every character outside the alphabet and a last character with unused bits set', () => {
    const digest = md5Utf8('x').slice();
    const text = Buffer.from(digest).toString('base64url');
    for (const code of [...Array(0x300).keys(), 0x2028, 0xd800, 0xdfff, 0xfeff, 0xff0d, 0xff3f, 0xfffd, 0xffff]) {
      const char = String.fromCharCode(code);
      const valid = /[A-Za-z0-9_-]/.test(char);
      for (const at of [0, 10, 21]) {
        const spelled = text.slice(0, at) + char + text.slice(at + 1);
        if (!valid) expect(bytesEqualText(digest, spelled, 'base64url'), `U+${code.toString(16)} at ${at}`).toBe(false);
      }
      if (!/[0-9a-fA-F]/.test(char)) {
        const hex = Buffer.from(digest).toString('hex');
        expect(bytesEqualText(digest, char + hex.slice(1), 'hex'), `U+${code.toString(16)} in hex`).toBe(false);
      }
    }
    // 22 characters carry 132 bits for 128: the last one's low 4 bits must be zero (one spelling per digest).
    const last = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_'.indexOf(text[21]!);
    for (let low = 1; low < 16; low++) {
      const spelled = text.slice(0, 21) + 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_'[(last & 0x30) | low];
      expect(bytesEqualText(digest, spelled, 'base64url')).toBe(false);
    }
  });
});
