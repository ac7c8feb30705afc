/**
 * Property-based tests (fast-check) of the whole decision, for every scheme: arbitrary input
 * never throws and never allows; any one-character change to a genuinely signed URL denies;
 * look-alike forms (IPv6 and IPv4-mapped spellings, leading zeros, re-split concatenations) get
 * the verdict docs/formats/README.md documents.
 *
 * Over 250 lines: one property per class of input, all over the same gate and signers.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { Verdict } from '../../src/base/verdict.js';
import { authorize } from '../../src/decision/authorize.js';
import { CapturedHeaders } from '../../src/http/request-sources.js';
import { hmacSigner } from '../../src/library/hmac-signer.js';
import { syntaxLookAlikes } from '../../src/request/request-target.js';
import { unreservedEscape } from '../../src/scheme-kit/signable-path.js';
import { findScheme } from '../../src/schemes/registry.js';
import { asRead, covers, fixtureEnv, fixtureRoute, registeredFixtures } from '../helpers/formats/index.js';
import { gateFor, verdictOf as settledVerdict } from '../helpers/gates.js';
import { signedUrl } from '../helpers/signed-url.js';

const now = 1_800_000_000;
const hmacKey = '5a'.repeat(32);
const gate = gateFor(
  [
    { prefix: '/my/', scheme: 'azion', keys: [{ id: 'a', env: 'A' }] },
    { prefix: '/tv/', scheme: 'alta', keys: [{ id: 'b', env: 'B' }] },
    { prefix: '/vod/', scheme: 'hmac', keys: [{ id: 'k', env: 'H' }] },
    { prefix: '/myc/', scheme: 'azion', keys: [{ id: 'a', env: 'A' }], verdictCache: true },
    { prefix: '/vodc/', scheme: 'hmac', keys: [{ id: 'k', env: 'H' }], options: { carrier: 'cookie' } },
    { prefix: '/vodh/', scheme: 'hmac', keys: [{ id: 'k', env: 'H' }], options: { carrier: 'header' } },
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
  return hmac.sign({ path: `/vod/${rest}`, expiresSec: now + 600 });
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

/** Headers as an engine copies them for the schemes (repeats kept, so a repeated token header is seen). */
function captured(headers: readonly (readonly [string, string])[]): CapturedHeaders {
  const out = new CapturedHeaders();
  for (const [name, value] of headers) out.add(name, value);
  return out;
}

const decide = (uri: string, ip: string | undefined = clientIp, headers: readonly (readonly [string, string])[] = []) =>
  authorize(gate, uri, ip, now, captured(headers)).verdict;

/** Characters a mutation may put in: URL syntax, digits, letters of every token alphabet, escapes. */
const mutationChar = fc.constantFrom(..."/?&=%~-_.:;,+*!$'()@#[] aAzZ09fF1eEsStTkKmMvVpPiInN\t\u0000\u00e9".split(''));

/** One character replaced, inserted or deleted at any place. */
const edit = fc.record({ op: fc.constantFrom('replace', 'insert', 'delete'), at: fc.nat(), char: mutationChar });

function applyEdit(url: string, { op, at, char }: { op: string; at: number; char: string }): string {
  const i = at % (url.length + (op === 'insert' ? 1 : 0));
  if (op === 'replace') return url.slice(0, i) + char + url.slice(i + 1);
  return op === 'insert' ? url.slice(0, i) + char + url.slice(i) : url.slice(0, i) + url.slice(i + 1);
}

describe('property: arbitrary input', () => {
  it('never throws and never allows (URI, client IP and headers all arbitrary)', () => {
    const uri = fc.oneof(
      fc.string({ unit: 'binary', maxLength: 200 }),
      fc
        .tuple(fc.constantFrom('/my/', '/tv/', '/vod/', '/myc/', '/vodc/', '/vodh/', '/'), fc.string({ maxLength: 120 }))
        .map(([p, s]) => p + s),
      fc.webUrl({ withQueryParameters: true }).map((url) => url.replace(/^https?:\/\/[^/]*/, '')),
    );
    const ip = fc.option(fc.oneof(fc.ipV4(), fc.ipV6(), fc.string({ maxLength: 50 })), { nil: undefined });
    const headerValue = fc.oneof(
      fc.string({ maxLength: 120 }),
      fc.string({ maxLength: 80 }).map((v) => `tg=${v}`),
      fc.constant(hmac.sign({ path: '/vodc/x', expiresSec: now + 600 }).split('tg=')[1]!),
      fc.constant(`tg=${hmac.sign({ path: '/vodc/x', expiresSec: now + 600 }).split('tg=')[1]!}`),
    );
    const headers = fc.array(fc.tuple(fc.constantFrom('cookie', 'x-tokengate', 'x-other'), headerValue), { maxLength: 4 });
    fc.assert(
      fc.property(uri, ip, headers, (u, i, h) => {
        // A genuine token for /vodc/x, carried anywhere, must not open another path.
        fc.pre(!u.startsWith('/vodc/x') && !u.startsWith('/vodh/x'));
        expect(decide(u, i, h)).not.toBe(Verdict.valid);
      }),
      { numRuns: 5000 },
    );
  });
});

describe('property: signed URLs', () => {
  it('a genuine URL is allowed as issued', () => {
    fc.assert(
      fc.property(scheme, fc.array(segment, { minLength: 1, maxLength: 4 }), (kind, segments) => {
        expect(decide(sign(kind, segments))).toBe(Verdict.valid);
      }),
      { numRuns: 300 },
    );
  });

  it('any one-character substitution, insertion or deletion of the path or a token parameter denies', () => {
    fc.assert(
      fc.property(scheme, fc.array(segment, { minLength: 1, maxLength: 3 }), edit, (kind, segments, { op, at, char }) => {
        const url = sign(kind, segments);
        const mutated = applyEdit(url, { op, at, char });
        // Only the path and the token parameters are signed: an edit elsewhere in the query
        // (an extra "&", another parameter) legitimately keeps the verdict.
        fc.pre(signedParts(mutated) !== signedParts(url));
        expect({ mutated, verdict: decide(mutated) }).not.toEqual({ mutated, verdict: Verdict.valid });
      }),
      { numRuns: 6000 },
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
        for (const variant of variants) expect([variant, decide(variant)]).not.toEqual([variant, Verdict.valid]);
      }),
      { numRuns: 1000 },
    );
  });

  it('a token bound to one IPv4 address is refused for any other address', () => {
    fc.assert(
      fc.property(fc.array(segment, { minLength: 1, maxLength: 2 }), fc.ipV4(), (segments, other) => {
        fc.pre(other !== clientIp);
        expect(decide(sign('alta', segments), other)).not.toBe(Verdict.valid);
      }),
      { numRuns: 2000 },
    );
  });
});

// Every registered format, its genuine links made by its fixture (its reference generator where
// there is one), each through a gate of its route alone; fewer runs per format than above.
for (const fixture of registeredFixtures()) {
  describe(`property: signed URLs of ${fixture.id}, made by ${fixture.madeBy} ${covers(fixture.id)}`, () => {
    const formatGate = gateFor([fixtureRoute(fixture)], fixtureEnv([fixture]));
    const nginxUri = findScheme(fixture.id)!.nginxUri === true;
    const link = (segments: readonly string[]) =>
      fixture.link(`${fixture.prefix}${segments.join('/')}`, { nowSec: now, clientIp });
    const verdictOf = (uri: string) => settledVerdict(formatGate, uri, clientIp, now);
    /** What a token signs in `uri` as the format reads it: its path and its token parameters (each once), or undefined. */
    const signed = (uri: string): string | undefined => {
      const read = asRead(uri, nginxUri);
      const q = read.indexOf('?');
      const pairs = q < 0 ? [] : read.slice(q + 1).split('&');
      // nginx reads `$arg_` names in any case: "Expires" is its "expires".
      const spelled = (pair: string) => (nginxUri ? pair.replace(/^[^=]*/, (name) => name.toLowerCase()) : pair);
      const values = fixture.tokenParams.map((name) => pairs.map(spelled).filter((pair) => pair.split('=')[0] === spelled(name)));
      if (values.some((found) => found.length > 1)) return undefined;
      return JSON.stringify([q < 0 ? read : read.slice(0, q), values]);
    };

    it('a genuine URL is allowed as issued', async () => {
      await fc.assert(
        fc.asyncProperty(fc.array(segment, { minLength: 1, maxLength: 4 }), async (segments) => {
          const url = link(segments);
          expect([url, await verdictOf(url)]).toEqual([url, Verdict.valid]);
        }),
        { numRuns: 150 },
      );
    });

    it('any one-character substitution, insertion or deletion of the path or a token parameter denies', async () => {
      await fc.assert(
        fc.asyncProperty(fc.array(segment, { minLength: 1, maxLength: 3 }), edit, async (segments, { op, at, char }) => {
          const url = link(segments);
          const mutated = applyEdit(url, { op, at, char });
          // Only the path and the token parameters are signed: an edit elsewhere in the query keeps the verdict.
          fc.pre(signed(mutated) !== signed(url));
          expect({ mutated, verdict: await verdictOf(mutated) }).not.toEqual({ mutated, verdict: Verdict.valid });
        }),
        { numRuns: 2500 },
      );
    });

    it('case changes and percent-encoded spellings of a signed path deny', async () => {
      await fc.assert(
        fc.asyncProperty(fc.array(segment, { minLength: 1, maxLength: 3 }), fc.nat(), async (segments, at) => {
          const url = link(segments);
          const query = url.indexOf('?');
          const i = fixture.prefix.length + (at % (query - fixture.prefix.length));
          const ch = url[i]!;
          const variants = [
            `${url.slice(0, i)}%${ch.charCodeAt(0).toString(16).toUpperCase().padStart(2, '0')}${url.slice(i + 1)}`,
            `${url.slice(0, i)}%${ch.charCodeAt(0).toString(16).padStart(2, '0')}${url.slice(i + 1)}`,
            url.slice(0, i) + (ch === ch.toUpperCase() ? ch.toLowerCase() : ch.toUpperCase()) + url.slice(i + 1),
            // A format that signs nginx's $uri reads "%30" as "0": the same request to nginx, rightly allowed.
          ].filter((variant) => asRead(variant, nginxUri) !== asRead(url, nginxUri));
          for (const variant of variants) expect([variant, await verdictOf(variant)]).not.toEqual([variant, Verdict.valid]);
        }),
        { numRuns: 400 },
      );
    });
  });
}

/** RFC 5952 text of eight 16-bit groups, from an independent implementation: WHATWG URL's IPv6 serializer. */
const rfc5952 = (groups: readonly number[]) =>
  new URL(`http://[${groups.map((g) => g.toString(16)).join(':')}]/`).hostname.slice(1, -1);

/** Another valid spelling of the same IPv6 address: leading zeros, upper case, "::" over any zero run or none. */
function respell(groups: readonly number[], pad: boolean, upper: boolean, compressAt: number): string {
  const text = groups.map((g) => (pad ? g.toString(16).padStart(4, '0') : g.toString(16)));
  const zeroRuns: [number, number][] = [];
  for (let i = 0; i < 8; i++) {
    if (groups[i] !== 0) continue;
    let j = i;
    while (j < 8 && groups[j] === 0) j++;
    zeroRuns.push([i, j]);
    i = j;
  }
  let spelled = text.join(':');
  const run = zeroRuns[compressAt % (zeroRuns.length + 1)];
  if (run !== undefined) spelled = `${text.slice(0, run[0]).join(':')}::${text.slice(run[1]).join(':')}`;
  return upper ? spelled.toUpperCase() : spelled;
}

describe('property: tokens carried in a cookie or a header (hmac)', () => {
  const carriers = fc.constantFrom(
    ['/vodc/', (t: string) => ['cookie', `session=1; tg=${t}`] as const] as const,
    ['/vodh/', (t: string) => ['x-tokengate', t] as const] as const,
  );
  it('the genuine token opens its path; any one-character change to it, a repeat or the wrong path denies', () => {
    fc.assert(
      fc.property(
        carriers,
        fc.array(segment, { minLength: 1, maxLength: 3 }),
        fc.nat(),
        mutationChar,
        (carrier, segments, at, char) => {
          const [prefix, carry] = carrier;
          const path = `${prefix}${segments.join('/')}`;
          const token = hmac.sign({ path: path, expiresSec: now + 600 }).split('tg=')[1]!;
          expect(decide(path, clientIp, [carry(token)])).toBe(Verdict.valid);
          const i = at % token.length;
          const changed = token.slice(0, i) + char + token.slice(i + 1);
          if (changed !== token)
            expect([changed, decide(path, clientIp, [carry(changed)])]).not.toEqual([changed, Verdict.valid]);
          expect(decide(path, clientIp, [carry(token), carry(token)])).not.toBe(Verdict.valid);
          expect(decide(`${path}x`, clientIp, [carry(token)])).not.toBe(Verdict.valid);
          expect(decide(path, clientIp, [])).toBe(Verdict.missing);
        },
      ),
      { numRuns: 2000 },
    );
  });
});

describe('property: look-alike forms get the documented verdict', () => {
  const group = fc.oneof(fc.constant(0), fc.constant(0), fc.integer({ min: 0, max: 0xffff }));
  const ipv6 = fc
    .array(group, { minLength: 8, maxLength: 8 })
    // IPv4-mapped addresses are the IPv4 client (next property); everything else is IPv6.
    .filter((g) => !(g.slice(0, 5).every((x) => x === 0) && g[5] === 0xffff));

  it('any spelling of the IPv6 address a token is bound to is that client; any other address is not', () => {
    fc.assert(
      fc.property(
        fc.array(segment, { minLength: 1, maxLength: 2 }),
        ipv6,
        fc.boolean(),
        fc.boolean(),
        fc.nat(),
        fc.nat(7),
        fc.integer({ min: 1, max: 0xffff }),
        (segments, groups, pad, upper, compressAt, changed, delta) => {
          const canonical = rfc5952(groups);
          const url = signedUrl(gate, {
            path: `/tv/${segments.join('/')}`,
            expiresSec: now + 600,
            notBeforeSec: now - 60,
            clientIp: canonical,
          });
          const spelling = respell(groups, pad, upper, compressAt);
          expect([spelling, decide(url, spelling)]).toEqual([spelling, Verdict.valid]);
          const other = groups.map((g, i) => (i === changed ? (g + delta) & 0xffff : g));
          expect(decide(url, respell(other, pad, upper, compressAt))).not.toBe(Verdict.valid);
        },
      ),
      { numRuns: 3000 },
    );
  });

  it('an IPv4 client is the same client as its IPv4-mapped IPv6 spellings; leading zeros are refused as bad-source', () => {
    fc.assert(
      fc.property(fc.array(segment, { minLength: 1, maxLength: 2 }), fc.ipV4(), fc.boolean(), (segments, ip, upper) => {
        const url = signedUrl(gate, {
          path: `/tv/${segments.join('/')}`,
          expiresSec: now + 600,
          notBeforeSec: now - 60,
          clientIp: ip,
        });
        const octets = ip.split('.').map(Number);
        const hex = [(octets[0]! << 8) | octets[1]!, (octets[2]! << 8) | octets[3]!].map((g) => g.toString(16));
        const mapped = [`::ffff:${ip}`, `0:0:0:0:0:ffff:${ip}`, `::ffff:${hex.join(':')}`, `0000::FFFF:${hex.join(':')}`];
        for (const spelling of mapped) {
          const text = upper ? spelling.toUpperCase() : spelling;
          expect([text, decide(url, text)]).toEqual([text, Verdict.valid]);
        }
        // 010 is octal to some parsers: a proxy that writes it is misconfigured, never guessed at.
        const padded = octets.map((o, i) => (i === 1 ? String(o).padStart(3, '0') : String(o))).join('.');
        if (padded !== ip) expect(decide(url, padded)).toBe(Verdict.badSource);
      }),
      { numRuns: 2000 },
    );
  });

  it('leading zeros on a time field are malformed, however many', () => {
    fc.assert(
      fc.property(
        fc.constantFrom('azion', 'alta'),
        fc.array(segment, { minLength: 1, maxLength: 2 }),
        fc.integer({ min: 1, max: 3 }),
        fc.nat(),
        (kind, segments, zeros, which) => {
          const url = sign(kind, segments);
          // Azion's e=, or one of Alta's end and start (the ten-digit fields of token=hash-salt-end-start).
          const fields = [...url.matchAll(/(?<=[=-])\d{10}(?=&|-|$)/g)];
          const field = fields[which % fields.length]!;
          const mutated = `${url.slice(0, field.index)}${'0'.repeat(zeros)}${url.slice(field.index)}`;
          expect([mutated, decide(mutated)]).toEqual([mutated, Verdict.malformed]);
        },
      ),
      { numRuns: 1000 },
    );
  });

  it('Azion: re-splitting the digits between the path and e never verifies', () => {
    fc.assert(
      fc.property(fc.array(segment, { minLength: 1, maxLength: 2 }), fc.stringMatching(/^\d{1,3}$/), (segments, digits) => {
        const path = `/my/${segments.join('/')}${digits}`;
        const url = signedUrl(gate, { path, expiresSec: now + 600 });
        const st = /st=([^&]+)/.exec(url)![1];
        const e = /e=(\d+)/.exec(url)![1]!;
        // The same text `path + e`, split elsewhere: digits moved from the path into e, or from e into the path.
        const moved = [`${path.slice(0, -1)}?st=${st}&e=${path.at(-1)}${e}`, `${path}${e[0]}?st=${st}&e=${e.slice(1)}`];
        for (const variant of moved) expect([variant, decide(variant)]).toEqual([variant, Verdict.malformed]);
      }),
      { numRuns: 1000 },
    );
  });

  it('Alta: re-splitting path + IP verifies only as the documented format limit (digits moved from the IP to the path)', () => {
    fc.assert(
      fc.property(fc.array(segment, { minLength: 1, maxLength: 2 }), fc.ipV4(), (segments, ip) => {
        const path = `/tv/${segments.join('/')}`;
        const url = signedUrl(gate, { path, expiresSec: now + 600, notBeforeSec: now - 60, clientIp: ip });
        const query = url.slice(url.indexOf('?'));
        // The hashed text is `path + ip`: the first digit of the IP may end the path instead.
        const shorterIp = ip.slice(1);
        const limit = /^[1-9]\d*\.|^0\./.test(shorterIp) && !/^0\d/.test(shorterIp);
        const verdict = decide(`${path}${ip[0]}${query}`, shorterIp);
        // docs/formats/alta.md: a token for /tv/x issued to 12.3.4.5 also opens /tv/x1 from 2.3.4.5.
        // When what is left of the IP is no canonical address (".2.3.4", "05.6.7.8"), the proxy header is unusable: 503.
        expect([shorterIp, verdict]).toEqual([shorterIp, limit ? Verdict.valid : Verdict.badSource]);
      }),
      { numRuns: 1000 },
    );
  });

  it('Alta: the same limit with IPv6 (hex digits move between the path and the address)', () => {
    const url = signedUrl(gate, { path: '/tv/live/a', expiresSec: now + 600, notBeforeSec: now - 60, clientIp: 'bc::1' });
    const query = url.slice(url.indexOf('?'));
    // "/tv/live/a" + "bc::1" is the hashed text of "/tv/live/ab" + "c::1" (docs/security.md).
    expect(decide(`/tv/live/ab${query}`, 'c::1')).toBe(Verdict.valid);
    expect(decide(`/tv/live/abc${query}`, '::1')).toBe(Verdict.valid);
    // Only the address the proxy reports counts: the moved text must also leave a canonical address.
    expect(decide(`/tv/live/ab${query}`, 'bc::1')).toBe(Verdict.forged);
    expect(decide(`/tv/live/abc:${query}`, ':1')).toBe(Verdict.badSource);
  });
});

describe('property: percent-encoded UTF-8 in the path, both directions (docs/security.md rule 2)', () => {
  const isC1 = (text: string) => /[\u0080-\u009f]/.test(text);
  /** No lone surrogate (String.prototype.isWellFormed is ES2024; Node 20 has it, this project's lib does not). */
  const wellFormed = (text: string) => !/[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/.test(text);
  const percentEscaped = (bytes: Uint8Array) =>
    [...bytes].map((b) => `%${b.toString(16).toUpperCase().padStart(2, '0')}`).join('');

  it('any well-formed non-ASCII text, percent-encoded as UTF-8, is a path every scheme signs and allows', () => {
    const text = fc
      .string({ unit: 'grapheme', minLength: 1, maxLength: 6 })
      .filter((t) => /[^\x00-\x7f]/.test(t) && !/[\x00-\x7f]/.test(t) && !isC1(t))
      // Not text that Unicode normalization turns into URI syntax (refused: test/unit/request-target.test.ts).
      .filter((t) => ![...t].some((c) => syntaxLookAlikes.has(c.codePointAt(0)!)));
    fc.assert(
      fc.property(scheme, text, (kind, t) => {
        const url = sign(kind, [encodeURIComponent(t)]);
        expect(authorize(gate, url, clientIp, now).verdict).toBe(Verdict.valid);
      }),
      { numRuns: 2000 },
    );
  });

  it('escaped bytes 0x80-0xFF are a valid path exactly when they are shortest-form UTF-8 without C1 controls or syntax look-alikes', () => {
    const highBytes = fc.uint8Array({ minLength: 1, maxLength: 8 }).map((bytes) => bytes.map((b) => b | 0x80));
    const decoder = new TextDecoder('utf-8', { fatal: true });
    fc.assert(
      fc.property(highBytes, (bytes) => {
        let wellFormed: boolean;
        try {
          const text = decoder.decode(bytes);
          wellFormed = !isC1(text) && ![...text].some((c) => syntaxLookAlikes.has(c.codePointAt(0)!));
        } catch {
          wellFormed = false;
        }
        const verdict = authorize(
          gate,
          `/my/${percentEscaped(bytes)}?st=AAAAAAAAAAAAAAAAAAAAAA&e=1900000000`,
          clientIp,
          now,
        ).verdict;
        expect(verdict).toBe(wellFormed ? Verdict.forged : Verdict.badUri);
      }),
      { numRuns: 20_000 },
    );
  });

  it('the signer refuses exactly the paths the service refuses, and the other spellings of plain characters; what it signs is allowed', () => {
    // Any text: ASCII, non-ASCII, controls, "%", dots, slashes, lone surrogates.
    const text = fc.oneof(
      fc.string({ unit: 'binary', maxLength: 12 }),
      fc.string({ unit: fc.constantFrom('.', '/', ';', '%', '2', 'e', 'E', 'a', 'é', ' ', '?', '#', '\\'), maxLength: 10 }),
    );
    fc.assert(
      fc.property(text, (t) => {
        const path = `/vod/${t}`;
        let url: string | undefined;
        try {
          url = hmac.sign({ path: path, expiresSec: now + 600 });
        } catch (error) {
          expect((error as Error).message).toMatch(
            /refuse|surrogate|mixes|"\?"|empty|start|origins read as the character itself/,
          );
        }
        // What the service makes of the same text, encoded the only way the signer encodes it.
        const encoded =
          /[^\x00-\x7f]/.test(t) && !t.includes('%') && wellFormed(t) ? path.replace(/[^\x00-\x7f]+/g, encodeURIComponent) : path;
        const verdict = authorize(gate, `${encoded}?tg=v1~k=k~e=1900000000~m=AAAAAAAAAAAAAAAAAAAAAA`, clientIp, now).verdict;
        if (url !== undefined) expect(authorize(gate, url, clientIp, now).verdict).toBe(Verdict.valid);
        // Refused by the signer only: a path the service takes but that spells a plain character as an escape (rule 12).
        else if (verdict === Verdict.forged) expect(unreservedEscape.test(encoded)).toBe(true);
        else if (!/[^\x00-\x7f]/.test(t) || (!t.includes('%') && wellFormed(t))) expect(verdict).not.toBe(Verdict.forged);
      }),
      { numRuns: 20_000 },
    );
  });
});
