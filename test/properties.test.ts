/**
 * Property-based tests (fast-check) of the whole decision, for every scheme: arbitrary input
 * never throws and never allows; any one-character change to a genuinely signed URL denies.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { authorize } from '../src/core/authorize.js';
import { Verdict } from '../src/core/verdict.js';
import { hmacSigner } from '../src/hmac-signer.js';
import { gateFor } from './helpers/gates.js';
import { signedUrl } from './helpers/signed-url.js';

const now = 1_800_000_000;
const hmacKey = '5a'.repeat(32);
const gate = gateFor(
  [
    { prefix: '/my/', scheme: 'azion', keys: [{ id: 'a', env: 'A' }] },
    { prefix: '/tv/', scheme: 'alta', keys: [{ id: 'b', env: 'B' }] },
    { prefix: '/vod/', scheme: 'hmac', keys: [{ id: 'k', env: 'H' }] },
    { prefix: '/myc/', scheme: 'azion', keys: [{ id: 'a', env: 'A' }], verdictCache: true },
  ],
  { A: 'property-azion-secret', B: 'property-alta-secret', H: hmacKey },
);
const clientIp = '198.51.100.23';
const hmac = hmacSigner({ keyId: 'k', key: hmacKey });

/** Path segments as signers issue them (the URI rules refuse dot-segments, so none here). */
const segment = fc.stringMatching(/^[A-Za-z0-9_~-][A-Za-z0-9._~-]{0,11}$/);
const scheme = fc.constantFrom('azion', 'alta', 'hmac', 'azion-cached');

function sign(kind: string, segments: readonly string[]): string {
  const rest = segments.join('/');
  if (kind === 'azion') return signedUrl(gate, { path: `/my/${rest}`, expiresSec: now + 600 });
  if (kind === 'azion-cached') return signedUrl(gate, { path: `/myc/${rest}`, expiresSec: now + 600 });
  if (kind === 'alta') return signedUrl(gate, { path: `/tv/${rest}`, expiresSec: now + 600, notBeforeSec: now - 60, clientIp });
  return hmac.sign(`/vod/${rest}`, { ttlSec: 600, nowSec: now });
}

/** The token parameters of each route's format (the rest of a query is not signed, by design). */
const tokenParams: Record<string, readonly string[]> = {
  '/my/': ['st', 'e'],
  '/myc/': ['st', 'e'],
  '/tv/': ['token'],
  '/vod/': ['tg'],
};

/** What a token signs in `uri`: its raw path and its token parameters (each exactly once), or undefined. */
function signedParts(uri: string): string | undefined {
  const q = uri.indexOf('?');
  const path = q < 0 ? uri : uri.slice(0, q);
  const pairs = q < 0 ? [] : uri.slice(q + 1).split('&');
  const prefix = Object.keys(tokenParams).find((p) => path.startsWith(p));
  if (prefix === undefined) return undefined;
  const values = tokenParams[prefix]!.map((name) => pairs.filter((pair) => pair.split('=')[0] === name));
  if (values.some((found) => found.length !== 1)) return undefined;
  return JSON.stringify([path, values]);
}

const decide = (uri: string, ip: string | undefined = clientIp) => authorize(gate, uri, ip, now).verdict;

/** Characters a mutation may put in: URL syntax, digits, letters of every token alphabet, escapes. */
const mutationChar = fc.constantFrom(..."/?&=%~-_.:;,+*!$'()@#[] aAzZ09fF1eEsStTkKmMvVpPiInN\t\u0000\u00e9".split(''));

describe('property: arbitrary input', () => {
  it('never throws and never allows (URI, client IP and headers all arbitrary)', () => {
    const uri = fc.oneof(
      fc.string({ unit: 'binary', maxLength: 200 }),
      fc.tuple(fc.constantFrom('/my/', '/tv/', '/vod/', '/myc/', '/'), fc.string({ maxLength: 120 })).map(([p, s]) => p + s),
      fc.webUrl({ withQueryParameters: true }).map((url) => url.replace(/^https?:\/\/[^/]*/, '')),
    );
    const ip = fc.option(fc.oneof(fc.ipV4(), fc.ipV6(), fc.string({ maxLength: 50 })), { nil: undefined });
    fc.assert(
      fc.property(uri, ip, (u, i) => {
        expect(decide(u, i)).not.toBe(Verdict.allow);
      }),
      { numRuns: 5000 },
    );
  });
});

describe('property: signed URLs', () => {
  it('a genuine URL is allowed as issued', () => {
    fc.assert(
      fc.property(scheme, fc.array(segment, { minLength: 1, maxLength: 4 }), (kind, segments) => {
        expect(decide(sign(kind, segments))).toBe(Verdict.allow);
      }),
      { numRuns: 1000 },
    );
  });

  it('any one-character substitution, insertion or deletion of the path or a token parameter denies', () => {
    const edit = fc.record({
      op: fc.constantFrom('replace', 'insert', 'delete'),
      at: fc.nat(),
      char: mutationChar,
    });
    fc.assert(
      fc.property(scheme, fc.array(segment, { minLength: 1, maxLength: 3 }), edit, (kind, segments, { op, at, char }) => {
        const url = sign(kind, segments);
        const i = at % (url.length + (op === 'insert' ? 1 : 0));
        const mutated =
          op === 'replace'
            ? url.slice(0, i) + char + url.slice(i + 1)
            : op === 'insert'
              ? url.slice(0, i) + char + url.slice(i)
              : url.slice(0, i) + url.slice(i + 1);
        // Only the path and the token parameters are signed: an edit elsewhere in the query
        // (an extra "&", another parameter) legitimately keeps the verdict.
        fc.pre(signedParts(mutated) !== signedParts(url));
        expect({ mutated, verdict: decide(mutated) }).not.toEqual({ mutated, verdict: Verdict.allow });
      }),
      { numRuns: 20_000 },
    );
  });

  it('case changes and percent-encoded spellings of a signed path deny', () => {
    fc.assert(
      fc.property(scheme, fc.array(segment, { minLength: 1, maxLength: 3 }), fc.nat(), (kind, segments, at) => {
        const url = sign(kind, segments);
        const query = url.indexOf('?');
        const prefixLength = url.indexOf('/', 1) + 1;
        const i = prefixLength + (at % (query - prefixLength));
        const ch = url[i]!;
        const variants = [
          `${url.slice(0, i)}%${ch.charCodeAt(0).toString(16).toUpperCase().padStart(2, '0')}${url.slice(i + 1)}`,
          `${url.slice(0, i)}%${ch.charCodeAt(0).toString(16).padStart(2, '0')}${url.slice(i + 1)}`,
          url.slice(0, i) + (ch === ch.toUpperCase() ? ch.toLowerCase() : ch.toUpperCase()) + url.slice(i + 1),
        ].filter((variant) => variant !== url);
        for (const variant of variants) expect([variant, decide(variant)]).not.toEqual([variant, Verdict.allow]);
      }),
      { numRuns: 3000 },
    );
  });

  it('a token bound to one IPv4 address is refused for any other address', () => {
    fc.assert(
      fc.property(fc.array(segment, { minLength: 1, maxLength: 2 }), fc.ipV4(), (segments, other) => {
        fc.pre(other !== clientIp);
        expect(decide(sign('alta', segments), other)).not.toBe(Verdict.allow);
      }),
      { numRuns: 2000 },
    );
  });
});
