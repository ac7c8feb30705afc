/**
 * The contract every registered scheme meets, run through the same cases (docs/development.md):
 * sign→verify, rotation, every single-character change denies (and never reads as expired),
 * malformed inputs deny without throwing, expiry and start boundaries.
 */
import { describe, expect, it } from 'vitest';
import { Verdict } from '../../src/base/verdict.js';
import { findRoute, type Gate } from '../../src/decision/authorize.js';
import { parseClientIp } from '../../src/request/client-ip.js';
import { noHeaders } from '../../src/request/token-headers.js';
import { findScheme } from '../../src/schemes/registry.js';
import { asRead, covers, fixtureEnv, fixtureRoute, registeredFixtures } from '../helpers/formats/index.js';
import { gateFor, verdictOf } from '../helpers/gates.js';
import { seeded } from '../helpers/oracle-generator.js';
import { signedUrl } from '../helpers/signed-url.js';

const path = '/c/dir/file-1.ts';
const ip = '198.51.100.7';
const now = 1_800_000_000;
const skew = 30;
const mutationChars = [...'AQgwz09af-_.~%&=?/#+ ', '\u00e9', '\u0000'];

for (const fixture of registeredFixtures()) {
  const scheme = findScheme(fixture.id)!;
  describe(`contract: ${scheme.id} ${covers(scheme.id)}`, () => {
    const { mappedIsOtherAddress, signedOptional = [], exclusiveWindow } = fixture;
    const edge = exclusiveWindow ? 1 : 0;
    const env = fixtureEnv([fixture]);
    const route = (use: (0 | 1)[]) => fixtureRoute(fixture, { prefix: '/c/', use });
    const gate = gateFor([route([0, 1])], env, skew);
    const clientIp = scheme.clientIp === 'unused' ? undefined : ip;
    const hasStart = scheme.signOptions.includes('notBeforeSec');
    const sign = (g: Gate, expiresSec: number, notBeforeSec = now - 10, p = path) =>
      signedUrl(g, {
        path: p,
        expiresSec,
        ...(hasStart ? { notBeforeSec } : {}),
        ...(scheme.clientIp === 'unused' ? {} : { clientIp: ip }),
      });
    const decide = (uri: string, at = now, g = gate, addr = clientIp) => verdictOf(g, uri, addr, at);
    /** The query parameters the format's tokens use, as its own signer writes them. */
    const params = (() => {
      const url = sign(gate, now + 600);
      return url
        .slice(url.indexOf('?') + 1)
        .split('&')
        .map((pair) => pair.slice(0, pair.indexOf('=')));
    })();

    it('sign then verify allows', async () => {
      expect(await decide(sign(gate, now + 600))).toBe(Verdict.valid);
    });

    it('rotation: the first key signs, every listed key verifies, a removed key stops at once', async () => {
      const signedWithTwo = sign(gateFor([route([1])], env), now + 600);
      expect(await decide(signedWithTwo)).toBe(Verdict.valid);
      expect(await decide(signedWithTwo, now, gateFor([route([0])], env))).toBe(Verdict.forged);
    });

    it('every single-character change of the signed URL denies, and never as expired', async () => {
      const url = sign(gate, now + 600);
      const queryAt = url.indexOf('?');
      let checked = 0;
      for (let i = 1; i < url.length; i++) {
        if (i === queryAt) continue;
        const variants = [
          url.slice(0, i) + url.slice(i + 1),
          ...mutationChars.flatMap((c) => [url.slice(0, i) + c + url.slice(i + 1), url.slice(0, i) + c + url.slice(i)]),
        ];
        for (const variant of variants) {
          // Empty "&&" pairs carry no parameter: the same signed token, rightly allowed.
          const [variantPath, variantQuery = ''] = variant.split(/\?(.*)/s);
          if (`${variantPath}?${variantQuery.split('&').filter(Boolean).join('&')}` === url) continue;
          // A format that signs nginx's $uri reads "/c//dir" as "/c/dir": the same request to nginx, rightly allowed.
          if (asRead(variant, scheme.nginxUri === true) === asRead(url, scheme.nginxUri === true)) continue;
          for (const at of [now, now + 601]) {
            const verdict = await decide(variant, at);
            if (verdict === Verdict.valid || verdict === Verdict.expired) {
              throw new Error(`${JSON.stringify(variant)} at ${at} gave ${verdict}`);
            }
            checked++;
          }
        }
      }
      expect(checked).toBeGreaterThan(1000);
    });

    it(`client IP binding is as declared (clientIp: ${scheme.clientIp}, ${scheme.ipBinding ?? 'default'})`, async () => {
      const url = sign(gate, now + 600);
      if (scheme.clientIp !== 'unused') {
        // Formats that hash the IP cannot tell a wrong IP from a forgery; formats that sign a range can.
        const hashed = (scheme.ipBinding ?? (scheme.clientIp === 'required' ? 'hashed' : 'signed')) === 'hashed';
        expect(await decide(url, now, gate, '198.51.100.8')).toBe(hashed ? Verdict.forged : Verdict.wrongIp);
        // An IPv4-mapped address is the IPv4 client (rule 6), except where the format signs nginx's text of it.
        expect(await decide(url, now, gate, '::ffff:198.51.100.7')).toBe(mappedIsOtherAddress ? Verdict.forged : Verdict.valid);
      } else {
        expect(await decide(url, now, gate, '203.0.113.200')).toBe(Verdict.valid);
      }
    });

    it('expiry boundary: allowed at the end second, expired one second later', async () => {
      const url = sign(gate, now + 100);
      expect(await decide(url, now + 100 - edge)).toBe(Verdict.valid);
      expect(await decide(url, now + 101 - edge)).toBe(Verdict.expired);
    });

    it('start boundary: a start in the future is accepted only within the clock-skew allowance', async () => {
      const start = now + 1000;
      const url = sign(gate, start + 100, start);
      const parsed = findRoute(gate, path)!.scheme.parse({
        path,
        query: url.slice(url.indexOf('?') + 1),
        clientIp: clientIp === undefined ? undefined : parseClientIp(clientIp),
        headers: noHeaders,
      });
      if ('verdict' in parsed) throw new Error(parsed.detail);
      if (parsed.notBeforeSec === 0) {
        // The format has no start time: it is valid from the moment it is signed.
        expect(await decide(url, now)).toBe(Verdict.valid);
      } else {
        const startEdge = fixture.inclusiveStart ? 0 : edge;
        expect(await decide(url, start - skew + startEdge)).toBe(Verdict.valid);
        expect(await decide(url, start - skew - 1 + startEdge)).toBe(Verdict.premature);
      }
    });

    it('missing token is "missing"; a repeated token parameter is malformed', async () => {
      expect(await decide(path)).toBe(Verdict.missing);
      expect(await decide(`${path}?other=1`)).toBe(Verdict.missing);
      const url = sign(gate, now + 600);
      const query = url.slice(url.indexOf('?') + 1);
      expect(await decide(`${url}&${query}`)).toBe(Verdict.malformed);
      for (const param of params) {
        const withoutParam = query
          .split('&')
          .filter((pair) => !pair.startsWith(`${param}=`))
          .join('&');
        const verdict = await decide(`${path}?${withoutParam}`);
        if (signedOptional.includes(param)) expect(verdict).toBe(Verdict.forged);
        else expect(params.length === 1 ? verdict === Verdict.missing : verdict === Verdict.malformed).toBe(true);
        expect(
          await decide(
            `${path}?${query.replace(`${param}=`, `${encodeURIComponent(param).replace(/./, (c) => `%${c.charCodeAt(0).toString(16)}`)}=`)}`,
          ),
        ).not.toBe(Verdict.valid);
      }
    });

    it('malformed and random inputs deny without throwing', async () => {
      const url = sign(gate, now + 600);
      const query = url.slice(url.indexOf('?') + 1);
      const fixed = [
        '',
        '?',
        '/',
        '/c/',
        '/c/?',
        `/c/?${query}`,
        `${path}?${query.toUpperCase()}`,
        `${path}?${query}=`,
        `${path}?${query}#`,
        `${path}?&&&${query}&&#`,
        `${path}?${'&'.repeat(5000)}`,
        `${path}?${'a='.repeat(4000)}`,
        `${path}?${params.map((p) => `${p}=`).join('&')}`,
        `${path}?${params.map((p) => `${p}`).join('&')}`,
        `${path}?${params.map((p) => `${p}=${'9'.repeat(300)}`).join('&')}`,
        `${path}?${params.map((p) => `${p}=-1`).join('&')}`,
        `${path}?${params.map((p) => `${p}=----`).join('&')}`,
        `/c/${'x'.repeat(9000)}?${query}`,
        `http://host${path}?${query}`,
        `*`,
        `/c/%?${query}`,
        `/c/%zz?${query}`,
      ];
      const random = seeded(0x7e57);
      const alphabet = [...'ace019AQgw-_.~%&=?/#+:;@ \u00ff\u0000\r\n', ...params.map((p) => `${p}=`)];
      const randomInputs = Array.from({ length: 3000 }, () => {
        let text = random() < 0.5 ? `${path}?` : '/c/';
        const length = Math.floor(random() * 80);
        for (let i = 0; i < length; i++) text += alphabet[Math.floor(random() * alphabet.length)];
        return text;
      });
      for (const input of [...fixed, ...randomInputs]) {
        for (const addr of [clientIp, '', 'not-an-ip', '::1']) {
          const verdict = await verdictOf(gate, input, addr, now);
          if (verdict === Verdict.valid) throw new Error(`${JSON.stringify(input)} was allowed`);
        }
      }
      expect(randomInputs.length).toBe(3000);
    });
  });
}
