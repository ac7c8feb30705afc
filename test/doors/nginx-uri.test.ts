/**
 * nginxTarget against real nginx: the `$uri` and `$args` nginx itself computes for the same
 * request target, and its 400s. nginx is the oracle; the targets are the path tricks that make
 * `$uri` differ from `$request_uri` (escapes, dot-segments in every spelling, merged slashes,
 * "?" and "#" raw and encoded), generated from a fixed seed.
 */
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isRejection } from '../../src/base/verdict.js';
import { nginxTarget } from '../../src/request/nginx-uri.js';
import { freePort, type RunningNginx, startNginx, withTestPaths } from '../helpers/nginx.js';
import { rawRequest } from '../helpers/raw-http.js';
import { tempDir } from '../helpers/service-process.js';

const pieces = [
  '/',
  '/',
  '/',
  'a',
  'b',
  'seg',
  '.',
  '..',
  '%2e',
  '%2E',
  '%2e%2e',
  '.%2e',
  '%2f',
  '%2F',
  '//',
  '%25',
  '%2541',
  '%3f',
  '%3F',
  '%23',
  '?',
  '#',
  '&',
  '=',
  '%00',
  '%',
  '%zz',
  '%4',
  '%41',
  '%c3%a9',
  '%ff',
  '+',
  ';',
  ':',
  '~',
  '%20',
  '%5c',
  '\\',
  '"',
  '{',
  '|',
  '^',
];

/** A deterministic generator (mulberry32), so a failure names a target that reproduces. */
function random(seed: number): () => number {
  let state = seed;
  return () => {
    state = (state + 0x6d2b79f5) | 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function targets(count: number): string[] {
  const next = random(20261201);
  const out = new Set<string>([
    '/',
    '/a/b',
    '/a/../b',
    '/a/./b',
    '/a//b',
    '/..',
    '/a/..',
    '/a/.',
    '/a/b/..',
    '/a/%2e%2e/b',
    '/a%2fb',
    '/a%2F..%2Fb',
    '/%2e%2e/a',
    '/a/..?x=1',
    '/a/.?x',
    '/a#frag?x',
    '/a?x#y',
    '/a?x=%zz',
    '/a%3fb?c',
    '/a%23b',
    '/a%25%32%65',
    '/a/%2e%2e%2f%2e%2e/b',
    '/a/.../b',
    '/a/..b',
    '/a/b./',
    '/a/%00',
    '/a%',
    '/a%4',
    '/a%4?',
    '/a/..;/b',
    '/%c0%ae%c0%ae/',
  ]);
  while (out.size < count) {
    const length = 1 + Math.floor(next() * 9);
    let target = '/';
    for (let i = 0; i < length; i++) target += pieces[Math.floor(next() * pieces.length)]!;
    out.add(target);
  }
  return [...out];
}

describe('nginxTarget: the $uri and $args real nginx computes', () => {
  let nginx: RunningNginx;
  beforeAll(async () => {
    const dir = tempDir();
    const port = await freePort();
    const config = withTestPaths(
      [
        'events {}',
        'http {',
        '    server {',
        `        listen 127.0.0.1:${port};`,
        '        location / { default_type application/octet-stream; return 200 "$uri\\n$args"; }',
        '    }',
        '}',
        '',
      ].join('\n'),
      join(dir, 'nginx'),
    );
    nginx = await startNginx(config, join(dir, 'nginx'), port);
  });
  afterAll(() => nginx?.stop());

  it('agrees on 1,500 targets made of path tricks, 400s included', async () => {
    const all = targets(1500);
    const mismatches: string[] = [];
    let refused = 0;
    for (let i = 0; i < all.length; i += 25) {
      await Promise.all(
        all.slice(i, i + 25).map(async (target) => {
          // A raw "#" is refused by tokengate on purpose (nginx drops it and what follows): compared below.
          if (target.includes('#')) return;
          const response = await rawRequest(nginx.port, `GET ${target} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n`);
          const ours = nginxTarget(target);
          const theirs =
            response.status === 400 ? 'refused' : response.status === 200 ? response.body : `status ${response.status}`;
          const mine = isRejection(ours) ? 'refused' : `${ours.path}\n${ours.query}`;
          if (theirs === 'refused') refused++;
          if (theirs !== mine)
            mismatches.push(`${JSON.stringify(target)}: nginx ${JSON.stringify(theirs)}, ours ${JSON.stringify(mine)}`);
        }),
      );
    }
    expect(mismatches).toEqual([]);
    // The set exercises both outcomes heavily, or the comparison proves little.
    expect(refused).toBeGreaterThan(200);
    expect(all.filter((t) => !t.includes('#')).length - refused).toBeGreaterThan(500);
  });
});

describe('nginxTarget: what nginx refuses and tokengate also refuses', () => {
  it('refuses bytes nginx answers 400 to, and raw non-ASCII (never through the engines either)', () => {
    for (const target of ['/a b', '/a\tb', '/a\x7f', '/a\u00e9', '/a?x y', 'a/b', '*', '/a#b', '/a?x=1#', '/a#?x']) {
      expect(isRejection(nginxTarget(target)), JSON.stringify(target)).toBe(true);
    }
  });
  it('is linear: a long run of dot-segments and escapes costs no more than its length', () => {
    const long = `/${'a/'.repeat(1300)}${'../'.repeat(1300)}x`;
    expect(nginxTarget(long)).toEqual({ path: '/x', query: '' });
    expect(isRejection(nginxTarget(`/${'%2e%2e/'.repeat(1000)}`))).toBe(true);
  });
});
