import { createHmac, randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { hmacKey, hmacSha256Key } from '../../src/scheme-kit/hmac-sha256.js';

describe('HMAC-SHA256 with prebuilt key blocks', () => {
  it('matches node:crypto createHmac for key and message lengths around every block boundary', () => {
    for (const keyLength of [1, 16, 32, 63, 64, 65, 100, 200]) {
      const secret = randomBytes(keyLength);
      const key = hmacSha256Key(secret);
      for (const messageLength of [0, 1, 55, 56, 63, 64, 65, 119, 120, 128, 500, 9216, 9217, 20000]) {
        const message = 'x~/.\n'.repeat(messageLength).slice(0, messageLength);
        const expected = createHmac('sha256', secret).update(message, 'latin1').digest();
        expect(key.sign(message, 32).equals(expected)).toBe(true);
        expect(key.verify16(message, expected.subarray(0, 16).toString('base64url'))).toBe(true);
        const wrong = Buffer.from(expected.subarray(0, 16));
        wrong[15]! ^= 1;
        expect(key.verify16(message, wrong.toString('base64url'))).toBe(false);
        expect(key.verify16(message, expected.subarray(0, 15).toString('base64url'))).toBe(false);
        expect(key.verify16(message, expected.subarray(0, 17).toString('base64url'))).toBe(false);
      }
    }
  });
});

describe('hmacKey (prebuilt key blocks) for the CDN formats', () => {
  it('equals createHmac for sha256, sha1 and md5, text and bytes, short and long messages, short and long keys', () => {
    const reference = createHmac;
    for (const algorithm of ['sha256', 'sha1', 'md5'] as const) {
      for (const keyLength of [1, 16, 64, 65, 200]) {
        const key = randomBytes(keyLength);
        const digest = hmacKey(algorithm, key);
        for (const length of [0, 1, 63, 64, 65, 1000, 9216, 9217, 40_000]) {
          const bytes = randomBytes(length);
          const text = 'é'.repeat(length % 5000) + bytes.toString('base64').slice(0, length);
          expect(digest(bytes)).toBe(reference(algorithm, key).update(bytes).digest('binary'));
          expect(digest(text)).toBe(reference(algorithm, key).update(text, 'utf8').digest('binary'));
        }
      }
    }
  });
});
