/**
 * Revocations on the hot path: what each kind matches (and what it must not), the "issued before"
 * rule, the stored form read strictly, and what a revoke request becomes (makeRevocation). Every
 * format's links are revoked by their fingerprint in test/formats/revocation.test.ts.
 */
import { describe, expect, it } from 'vitest';
import { Problems } from '../../src/base/problems.js';
import { Verdict } from '../../src/base/verdict.js';
import { compileRoutes, defaultGateSettings } from '../../src/config/compile-gate.js';
import { parseRoutes } from '../../src/config/parse-config.js';
import { authorize } from '../../src/decision/authorize.js';
import {
  applyChange,
  issuedBefore,
  type Revocation,
  RevocationBook,
  readRevocation,
  revocationId,
} from '../../src/decision/revocations.js';
import { hmacSigner } from '../../src/library/hmac-signer.js';
import { explain } from '../../src/links/explain-link.js';
import { makeRevocation, RevokeError, type RevokeRequest } from '../../src/state/revoke.js';
import { route } from '../helpers/test-config.js';

const k1 = 'a1'.repeat(32);
const k2 = 'b2'.repeat(32);
const now = 1_800_000_000;
const day = 86_400;
const skew = defaultGateSettings.clockSkewSec;

/** A gate of three hmac routes over one book: vod and live check revocations, open does not. */
function setup(entries: Revocation[] = [], verdictCache = false) {
  const book = new RevocationBook();
  applyChange(book, { full: entries });
  const keys = [
    { id: 'k1', env: 'K1' },
    { id: 'k2', env: 'K2' },
  ];
  const parsed = parseRoutes([
    route('vod', '/vod/', 'hmac', keys, { revocation: { maxLifetimeSec: day }, verdictCache }),
    route('live', '/live/', 'hmac', keys, { revocation: true }),
    route('open', '/open/', 'hmac', keys),
  ]);
  if ('problems' in parsed) throw new Error(parsed.problems.join('\n'));
  const compiled = compileRoutes(
    parsed,
    { baseDir: process.cwd(), env: { K1: k1, K2: k2 } },
    { ...defaultGateSettings, revocations: book },
  );
  expect(compiled.problems).toEqual([]);
  return { book, gate: compiled.gate, routes: compiled.routes };
}

const signer1 = hmacSigner({ keyId: 'k1', key: k1 });
const signer2 = hmacSigner({ keyId: 'k2', key: k2 });
const link = (path: string, extra: { start?: number; end?: number; session?: string; signer?: typeof signer1 } = {}) =>
  (extra.signer ?? signer1).sign({
    path,
    expiresSec: extra.end ?? now + 600,
    notBeforeSec: extra.start,
    sessionId: extra.session,
  }) as string;

function entry(fields: Omit<Revocation, 'id' | 'createdSec' | 'untilSec'> & { untilSec?: number }): Revocation {
  const target = { untilSec: now + day, createdSec: now - 10, ...fields };
  return { ...target, id: revocationId(target) };
}

const fpOf = async (gate: ReturnType<typeof setup>['gate'], url: string) =>
  (await explain(gate, url, undefined, now)).details.fingerprint!;

describe('the book on the hot path', () => {
  it('a fingerprint revokes that one link, on the routes that check revocations, until its end', async () => {
    const revoked = link('/vod/a.mp4');
    const { gate, book } = setup();
    const fp = await fpOf(gate, revoked);
    expect(fp).toMatch(/^[A-Za-z0-9_-]{12}$/);
    book.put(entry({ kind: 'fp', value: fp, untilSec: now + 600 }));
    expect(authorize(gate, revoked, undefined, now).verdict).toBe(Verdict.revoked);
    // The same path with another end, another path: other tokens, other fingerprints.
    expect(authorize(gate, link('/vod/a.mp4', { end: now + 601 }), undefined, now).verdict).toBe(Verdict.valid);
    expect(authorize(gate, link('/vod/b.mp4'), undefined, now).verdict).toBe(Verdict.valid);
    // After its end the entry matches nothing (and the link has expired anyway).
    expect(authorize(gate, revoked, undefined, now + 601).verdict).toBe(Verdict.expired);
  });

  it('a route that does not check revocations never reads the book', async () => {
    const open = link('/open/a.mp4');
    const { gate, book } = setup();
    book.put(entry({ kind: 'fp', value: await fpOf(gate, open) }));
    book.put(entry({ kind: 'prefix', value: '/', issuedBeforeSec: now + 1 }));
    book.put(entry({ kind: 'key', value: 'k1', route: 'open' }));
    expect(authorize(gate, open, undefined, now).verdict).toBe(Verdict.valid);
    expect(authorize(gate, link('/vod/a.mp4'), undefined, now).verdict).toBe(Verdict.revoked);
  });

  it('an entry for one route leaves the other routes alone', () => {
    const { gate, book } = setup();
    book.put(entry({ kind: 'session', value: 'viewer-7', route: 'live' }));
    expect(authorize(gate, link('/vod/a.mp4', { session: 'viewer-7' }), undefined, now).verdict).toBe(Verdict.valid);
    expect(authorize(gate, link('/live/a.ts', { session: 'viewer-7' }), undefined, now).verdict).toBe(Verdict.revoked);
  });

  it('a session id revokes every link signed with it, and no other', () => {
    const { gate, book } = setup([entry({ kind: 'session', value: 'abc' })]);
    expect(authorize(gate, link('/vod/a.mp4', { session: 'abc' }), undefined, now).verdict).toBe(Verdict.revoked);
    expect(authorize(gate, link('/live/x/y.ts', { session: 'abc' }), undefined, now).verdict).toBe(Verdict.revoked);
    expect(authorize(gate, link('/vod/a.mp4', { session: 'abd' }), undefined, now).verdict).toBe(Verdict.valid);
    expect(authorize(gate, link('/vod/a.mp4', { session: 'ab' }), undefined, now).verdict).toBe(Verdict.valid);
    expect(authorize(gate, link('/vod/a.mp4'), undefined, now).verdict).toBe(Verdict.valid);
    book.remove(revocationId({ kind: 'session', value: 'abc' }));
    expect(authorize(gate, link('/vod/a.mp4', { session: 'abc' }), undefined, now).verdict).toBe(Verdict.valid);
  });

  it("a key revokes every link it signed on its route, while the route's other key still opens", () => {
    const { gate } = setup([entry({ kind: 'key', value: 'k1', route: 'vod' })]);
    expect(authorize(gate, link('/vod/a.mp4'), undefined, now).verdict).toBe(Verdict.revoked);
    expect(authorize(gate, link('/vod/a.mp4', { signer: signer2 }), undefined, now).verdict).toBe(Verdict.valid);
    expect(authorize(gate, link('/live/a.ts'), undefined, now).verdict).toBe(Verdict.valid);
  });

  it('a prefix revokes links under it issued before its time: by their start time, else by their end', () => {
    const T = now - 100;
    const { gate } = setup([entry({ kind: 'prefix', value: '/vod/film/', issuedBeforeSec: T })]);
    const decide = (url: string) => authorize(gate, url, undefined, now).verdict;
    // Started before T: issued before. Started after T: a link made since, allowed.
    expect(decide(link('/vod/film/a.mp4', { start: T - 1 }))).toBe(Verdict.revoked);
    expect(decide(link('/vod/film/a.mp4', { start: T + 1 }))).toBe(Verdict.valid);
    // No start time on vod (maxLifetimeSec one day): ends by T + 1 day, so it may have been issued before T.
    expect(decide(link('/vod/film/a.mp4', { end: T + day }))).toBe(Verdict.revoked);
    expect(decide(link('/vod/film/a.mp4', { end: T + day + 1 }))).toBe(Verdict.valid);
    // Beside the prefix, not under it.
    expect(decide(link('/vod/films/a.mp4'))).toBe(Verdict.valid);
    expect(decide(link('/vod/film'))).toBe(Verdict.valid);
  });

  it('a prefix matches every spelling an origin may read as under it (escapes, case, path parameters)', () => {
    const book = new RevocationBook();
    book.put(entry({ kind: 'prefix', value: '/vod/film/', issuedBeforeSec: now + 1 }));
    // The book is asked with the path the route reads; any token of the route will do.
    const scheme = { signature: () => 'sig', identify: () => ({}) } as never;
    const match = (path: string) =>
      book.match({ name: 'vod', scheme }, { notBeforeSec: 0, expiresSec: now + 60 } as never, path, now, day);
    for (const path of [
      '/vod/film/a.mp4',
      '/vod/FILM/a.mp4',
      '/vod/Film/a.mp4',
      '/vod/%66ilm/a.mp4',
      '/vod/fil%6D/a.mp4',
      '/vod/film;v=1/a.mp4',
    ]) {
      expect(match(path), path).toBeDefined();
    }
    for (const path of ['/vod/films/a.mp4', '/vod/fil/a.mp4', '/vod/film', '/vod/%2566ilm/a.mp4'])
      expect(match(path), path).toBeUndefined();
    // Through the gate: a signer makes the upper-case spelling, and the route refuses it as revoked.
    const { gate } = setup([entry({ kind: 'prefix', value: '/vod/film/', issuedBeforeSec: now + 1 })]);
    expect(authorize(gate, link('/vod/FILM/a.mp4'), undefined, now).verdict).toBe(Verdict.revoked);
  });

  it('a route without maxLifetimeSec counts every link without a start time as issued before', () => {
    const { gate } = setup([entry({ kind: 'prefix', value: '/live/', issuedBeforeSec: now - 50 })]);
    expect(authorize(gate, link('/live/a.ts', { end: now + 30 * day }), undefined, now).verdict).toBe(Verdict.revoked);
    expect(authorize(gate, link('/live/a.ts', { start: now - 10 }), undefined, now).verdict).toBe(Verdict.valid);
  });

  it('a link that ends past maxLifetimeSec (and the clock skew) is refused: no revocation could outlast it', () => {
    const { gate } = setup();
    expect(authorize(gate, link('/vod/a.mp4', { end: now + day + skew }), undefined, now).verdict).toBe(Verdict.valid);
    const far = authorize(gate, link('/vod/a.mp4', { end: now + day + skew + 1 }), undefined, now);
    expect(far.verdict).toBe(Verdict.revoked);
    expect(far.detail).toMatch(/maxLifetimeSec/);
    // live sets no maxLifetimeSec: any end.
    expect(authorize(gate, link('/live/a.ts', { end: now + 365 * day }), undefined, now).verdict).toBe(Verdict.valid);
  });

  it('only a genuine, current token reaches the book: forged, expired and premature keep their verdicts', () => {
    const { gate } = setup([entry({ kind: 'prefix', value: '/vod/', issuedBeforeSec: now + day })]);
    const genuine = link('/vod/a.mp4');
    expect(authorize(gate, genuine.replace('a.mp4', 'b.mp4'), undefined, now).verdict).toBe(Verdict.forged);
    expect(authorize(gate, link('/vod/a.mp4', { end: now - 1 }), undefined, now).verdict).toBe(Verdict.expired);
    expect(authorize(gate, link('/vod/a.mp4', { start: now + 600, end: now + 900 }), undefined, now).verdict).toBe(
      Verdict.premature,
    );
    expect(authorize(gate, '/vod/a.mp4', undefined, now).verdict).toBe(Verdict.missing);
  });

  it('a link the verdict cache has seen is refused once revoked (the cache holds signatures, not allows)', async () => {
    const { gate, book } = setup([], true);
    const url = link('/vod/a.mp4');
    for (let i = 0; i < 3; i++) expect(authorize(gate, url, undefined, now).verdict).toBe(Verdict.valid);
    book.put(entry({ kind: 'fp', value: await fpOf(gate, url) }));
    expect(authorize(gate, url, undefined, now).verdict).toBe(Verdict.revoked);
    book.replace([]);
    expect(authorize(gate, url, undefined, now).verdict).toBe(Verdict.valid);
  });

  it('ended entries are dropped; a full resync replaces the list and says whether it changed', () => {
    const book = new RevocationBook();
    const a = entry({ kind: 'session', value: 'a', untilSec: now - 1 });
    const b = entry({ kind: 'session', value: 'b' });
    expect(applyChange(book, { full: [a, b] })).toBe(true);
    expect(applyChange(book, { full: [a, b] })).toBe(false);
    expect(book.dropEnded(now)).toEqual([a.id]);
    expect(book.list()).toEqual([b]);
    expect(applyChange(book, { put: [b], remove: [] })).toBe(false);
    expect(applyChange(book, { put: [], remove: [b.id, 'fp-nonexistent0'] })).toBe(true);
    expect(book.size).toBe(0);
  });
});

describe('issuedBefore', () => {
  const token = (notBeforeSec: number, expiresSec: number) => ({ notBeforeSec, expiresSec });
  it.each([
    ['start before T', token(99, 500), 100, 10, true],
    ['start at T', token(100, 500), 100, 10, false],
    ['no start, ends within maxLifetime of T', token(0, 110), 100, 10, true],
    ['no start, ends after', token(0, 111), 100, 10, false],
    ['no start, no maxLifetime', token(0, 10_000), 100, undefined, true],
  ] as const)('%s', (_, t, before, max, expected) => {
    expect(issuedBefore(t as never, before, max)).toBe(expected);
  });
});

describe('the stored form', () => {
  const read = (value: unknown) => {
    const p = new Problems();
    return { entry: readRevocation(p.fields(value, 'e')), problems: p.list };
  };
  const good = entry({ kind: 'prefix', value: '/vod/film/', issuedBeforeSec: now, route: 'vod', by: 'cli', note: 'leak' });

  it('reads what it wrote, and the same target always has the same id', () => {
    expect(read(JSON.parse(JSON.stringify(good)))).toEqual({ entry: good, problems: [] });
    expect(revocationId(good)).toBe(good.id);
    expect(revocationId({ ...good, route: 'live' })).not.toBe(good.id);
    expect(revocationId({ ...good, issuedBeforeSec: now + 1 })).not.toBe(good.id);
    expect(good.id).toMatch(/^prefix-[A-Za-z0-9_-]{12}$/);
  });

  it.each([
    ['an unknown field', { ...good, extra: 1 }, /extra: unknown field/],
    ['an id of another target', { ...good, id: revocationId({ ...good, value: '/vod/' }) }, /id: does not match/],
    ['an unknown kind', { ...good, kind: 'path' }, /kind: must be/],
    ['a fingerprint of the wrong length', { ...good, kind: 'fp', value: 'abc' }, /value: must be a fingerprint/],
    ['a key without its route', { ...good, kind: 'key', value: 'k1', route: undefined }, /route: is required/],
    ['a prefix with a dot-segment', { ...good, value: '/vod/../x/' }, /value:/],
    ['a prefix with a query', { ...good, value: '/vod/?x' }, /value:/],
    ['a note with a line break', { ...good, note: 'a\nb' }, /note:/],
    ['no end', { ...good, untilSec: undefined }, /untilSec: is required/],
    ['an end that is no integer', { ...good, untilSec: 1.5 }, /untilSec/],
    ['a prefix without its time', { ...good, issuedBeforeSec: undefined }, /issuedBeforeSec: is required/],
    ['not an object', ['fp'], /must be an object/],
  ])('refuses %s', (_, value, problem) => {
    const result = read(value);
    expect(result.entry).toBeUndefined();
    expect(result.problems.join('\n')).toMatch(problem);
  });
});

describe('makeRevocation', () => {
  const { gate, routes } = setup();
  const context = { gate, routes, clockSkewSec: skew };
  const make = (request: Omit<RevokeRequest, 'by'>) => makeRevocation({ ...request, by: 'test' }, context, now);
  const problemsOf = async (request: Omit<RevokeRequest, 'by'>) => {
    try {
      await make(request);
    } catch (error) {
      expect(error).toBeInstanceOf(RevokeError);
      return (error as RevokeError).problems.map((p) => `${p.field}: ${p.message}`);
    }
    throw new Error('no problem reported');
  };

  it('a link becomes its fingerprint on its route, until its own end', async () => {
    const url = link('/vod/a.mp4', { end: now + 300 });
    const made = await make({ kind: 'link', value: url });
    expect(made).toMatchObject({
      kind: 'fp',
      value: await fpOf(gate, url),
      route: 'vod',
      untilSec: now + 300,
      createdSec: now,
      by: 'test',
    });
    expect(made.id).toBe(revocationId(made));
  });

  it('a fingerprint, session or prefix lasts until the latest end a matching link can have', async () => {
    // vod: one day; live has no maxLifetimeSec, so a target that reaches live needs an explicit end.
    expect((await make({ kind: 'session', value: 's1', route: 'vod' })).untilSec).toBe(now + day + skew);
    expect((await make({ kind: 'prefix', value: '/vod/film/', issuedBeforeSec: now - 60 })).untilSec).toBe(now - 60 + day + skew);
    expect((await make({ kind: 'prefix', value: '/vod/film/' })).issuedBeforeSec).toBe(now);
    expect(await problemsOf({ kind: 'session', value: 's1' })).toEqual([
      expect.stringMatching(/^until: is required: route "live"/),
    ]);
    expect((await make({ kind: 'session', value: 's1', untilSec: now + 60 })).untilSec).toBe(now + 60);
    // An explicit end only brings it sooner.
    expect((await make({ kind: 'fp', value: 'AAAAAAAAAAAA', route: 'vod', untilSec: now + 10 * day })).untilSec).toBe(
      now + day + skew,
    );
  });

  it.each([
    [{ kind: 'fp', value: 'short' }, /^fp: must be a fingerprint/],
    [{ kind: 'session', value: 'a b', route: 'vod' }, /^session: must be a session id/],
    [{ kind: 'key', value: 'k1' }, /^route: is required to revoke a key/],
    [{ kind: 'key', value: 'k9', route: 'vod' }, /^key: route "vod" has no key "k9"/],
    [{ kind: 'fp', value: 'AAAAAAAAAAAA', route: 'nope' }, /^route: no route is named "nope"/],
    [{ kind: 'fp', value: 'AAAAAAAAAAAA', route: 'open' }, /^route: no route named "open" checks revocations/],
    [{ kind: 'prefix', value: '/open/x/' }, /^route: no route under \/open\/x\/ checks revocations/],
    [{ kind: 'prefix', value: 'vod/' }, /^prefix: must be a path/],
    [{ kind: 'fp', value: 'AAAAAAAAAAAA', route: 'vod', issuedBeforeSec: now }, /^issuedBefore: applies to a prefix/],
    [{ kind: 'fp', value: 'AAAAAAAAAAAA', route: 'vod', untilSec: now - 1 }, /^until: lies in the past/],
    [{ kind: 'link', value: link('/vod/a.mp4', { end: now - 5 }) }, /^link: the link has already expired/],
    [{ kind: 'link', value: link('/vod/a.mp4').replace('a.mp4', 'b.mp4') }, /^link: is not a link the service allows now/],
    [{ kind: 'link', value: link('/vod/a.mp4'), route: 'live' }, /^route: the link belongs to route "vod"/],
  ] as const)('refuses %o', async (request, problem) => {
    expect(await problemsOf(request as Omit<RevokeRequest, 'by'>)).toEqual([expect.stringMatching(problem)]);
  });
});
