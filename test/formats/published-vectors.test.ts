import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { Verdict } from '../../src/base/verdict.js';
import { authorize } from '../../src/decision/authorize.js';
import { gateFor } from '../helpers/gates.js';
import { signedUrl } from '../helpers/signed-url.js';

const load = (name: string) => JSON.parse(readFileSync(new URL(`../vectors/${name}`, import.meta.url), 'utf8'));
const azionVectors = load('azion.json');
const altaVectors = load('alta.json');

describe('azion published example (Azion Secure Token guide)', () => {
  for (const vector of azionVectors.cases) {
    const gate = gateFor([{ prefix: '/', scheme: 'azion', keys: [{ id: 'k', env: 'S' }] }], { S: vector.secret });
    const e = Number(vector.expire);

    it(`${vector.name}: sign reproduces the published st`, () => {
      expect(signedUrl(gate, { path: vector.uri, expiresSec: e })).toBe(vector.url);
    });
    it(`${vector.name}: allowed up to and including e, expired after`, () => {
      expect(authorize(gate, vector.url, undefined, e - 3600).verdict).toBe(Verdict.valid);
      expect(authorize(gate, vector.url, undefined, e).verdict).toBe(Verdict.valid);
      expect(authorize(gate, vector.url, undefined, e + 1).verdict).toBe(Verdict.expired);
    });
    it(`${vector.name}: another secret is forged, never expired`, () => {
      const other = gateFor([{ prefix: '/', scheme: 'azion', keys: [{ id: 'k', env: 'S' }] }], { S: `${vector.secret}x` });
      expect(authorize(other, vector.url, undefined, e + 1).verdict).toBe(Verdict.forged);
    });
  }

  it('re-split of uri + e (docs/security.md rule 3) is refused: /files/10 + 1470055000 vs /files/1 + 01470055000', () => {
    const gate = gateFor([{ prefix: '/', scheme: 'azion', keys: [{ id: 'k', env: 'S' }] }], { S: 'mysecret' });
    const url = signedUrl(gate, { path: '/files/10', expiresSec: 1470055000 });
    const st = /st=([^&]+)/.exec(url)![1];
    expect(authorize(gate, url, undefined, 1470000000).verdict).toBe(Verdict.valid);
    const resplit = authorize(gate, `/files/1?st=${st}&e=01470055000`, undefined, 1470000000);
    expect(resplit.verdict).toBe(Verdict.malformed);
    expect(resplit.detail).toMatch(/ten digits/);
    // The other direction: a longer path eating a digit of e leaves nine digits.
    expect(authorize(gate, `/files/101?st=${st}&e=470055000`, undefined, 1470000000).verdict).toBe(Verdict.malformed);
  });
});

describe('alta published example (Cesbo Alta securetoken docs)', () => {
  for (const vector of altaVectors.cases) {
    const gate = gateFor([{ prefix: '/tv/', scheme: 'alta', keys: [{ id: 'k', env: 'S' }] }], { S: vector.secret });
    const start = Number(vector.start);
    const end = Number(vector.end);
    const inside = start + 1000;

    it(`${vector.name}: sign with the published salt reproduces the token`, () => {
      const url = signedUrl(gate, {
        path: vector.path,
        expiresSec: end,
        notBeforeSec: start,
        clientIp: vector.client_ip,
        nonce: vector.salt,
      });
      expect(url).toBe(vector.url);
    });
    it(`${vector.name}: allow inside the window for the same IP`, () => {
      expect(authorize(gate, vector.url, vector.client_ip, inside).verdict).toBe(Verdict.valid);
      expect(authorize(gate, vector.url, vector.client_ip, start).verdict).toBe(Verdict.valid);
      expect(authorize(gate, vector.url, vector.client_ip, end).verdict).toBe(Verdict.valid);
    });
    it(`${vector.name}: expired (410) after end`, () => {
      expect(authorize(gate, vector.url, vector.client_ip, end + 1).verdict).toBe(Verdict.expired);
    });
    it(`${vector.name}: another IP is denied (403)`, () => {
      expect(authorize(gate, vector.url, '192.168.88.99', inside).verdict).toBe(Verdict.forged);
      expect(authorize(gate, vector.url, '2001:db8::1', inside).verdict).toBe(Verdict.forged);
    });
    it(`${vector.name}: IPv4-mapped IPv6 spelling of the same client is the same client`, () => {
      expect(authorize(gate, vector.url, '::ffff:192.168.88.98', inside).verdict).toBe(Verdict.valid);
      expect(authorize(gate, vector.url, '::FFFF:c0a8:5862', inside).verdict).toBe(Verdict.valid);
    });
    it(`${vector.name}: start beyond the clock-skew allowance is not yet valid`, () => {
      expect(authorize(gate, vector.url, vector.client_ip, start - 30).verdict).toBe(Verdict.valid);
      expect(authorize(gate, vector.url, vector.client_ip, start - 31).verdict).toBe(Verdict.premature);
    });
  }

  it('end before start is refused before hashing', () => {
    const gate = gateFor([{ prefix: '/tv/', scheme: 'alta', keys: [{ id: 'k', env: 'S' }] }], { S: 'secret' });
    const decision = authorize(gate, `/tv/a?token=${'a'.repeat(40)}-abc-1669810000-1669890000`, '1.2.3.4', 1669850000);
    expect(decision.verdict).toBe(Verdict.malformed);
    expect(decision.detail).toBe('end is before start');
  });

  it('re-split of ip + start: the start field must keep ten digits', () => {
    const gate = gateFor([{ prefix: '/tv/', scheme: 'alta', keys: [{ id: 'k', env: 'S' }] }], { S: 'secret' });
    const url = signedUrl(gate, {
      path: '/tv/a',
      expiresSec: 1669890000,
      notBeforeSec: 1669810000,
      clientIp: '1.2.3.4',
    });
    const query = url.slice(url.indexOf('?') + 1);
    const [hash, salt] = query.slice('token='.length).split('-');
    // 1.2.3.4 + 1669810000 == 1.2.3.41 + 669810000: the nine-digit start is malformed.
    expect(authorize(gate, `/tv/a?token=${hash}-${salt}-1669890000-669810000`, '1.2.3.41', 1669850000).verdict).toBe(
      Verdict.malformed,
    );
    expect(authorize(gate, `/tv/a?${query}`, '1.2.3.4', 1669850000).verdict).toBe(Verdict.valid);
  });
});
