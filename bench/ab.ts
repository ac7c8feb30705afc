/**
 * The hot path of two builds, measured in alternation in one process: `npm run bench:ab -- --base=DIR`
 * where DIR is the `dist/` of the other build (e.g. `git worktree add /tmp/base <rev>`, then
 * `npx tsc -p tsconfig.build.json` there with this checkout's node_modules linked). This build is
 * `dist/` (`npm run build` first). Each case runs the listener edge's whole decision (source
 * fields, authorize, the pre-built answer) for 1024 distinct signed URLs; every round runs each
 * case of both builds in turn, so machine noise hits them alike. Medians of 9 rounds (`--rounds=N`).
 */
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { benchArgs, positiveNumber } from './args.js';
import { compare } from './harness.js';

interface Build {
  readonly gate: unknown;
  readonly answer: (fields: object, gate: unknown, nowSec: number) => unknown;
  readonly sign: (request: object) => string;
}

const hmacHex = '00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff';
const now = Math.floor(Date.now() / 1000);

async function load(dist: string): Promise<Build> {
  const at = (file: string) => import(pathToFileURL(resolve(dist, file)).href);
  const [{ parseConfig }, { compileGate }, { findRoute }] = await Promise.all([
    at('config/parse-config.js'),
    at('config/compile-gate.js'),
    // Builds before the rooms of issue 28 had the decision in core/.
    at('decision/authorize.js').catch(() => at('core/authorize.js')),
  ]);
  // Builds before the edge's split had it in http/answer.js, with the same listenerEdge.
  const { listenerEdge } = await at('http/listener-edge.js').catch(() => at('http/answer.js'));
  const config = parseConfig({
    listeners: [{ port: 0, uriHeader: 'X-Original-URI', clientIpHeader: 'X-Real-IP' }],
    admin: { port: 0 },
    routes: [
      { prefix: '/my/', scheme: 'azion', keys: [{ id: 'k', env: 'A' }] },
      { prefix: '/tv/', scheme: 'alta', keys: [{ id: 'k', env: 'B' }] },
      { prefix: '/vod/', scheme: 'hmac', keys: [{ id: 'k', env: 'C' }] },
    ],
  });
  if (Array.isArray(config)) throw new Error(config.join('\n'));
  const env = { A: 'benchmark-secret-azion', B: 'benchmark-secret-alta', C: hmacHex };
  const { gate, problems } = compileGate(config, { baseDir: process.cwd(), env });
  if (problems.length > 0) throw new Error(problems.join('\n'));
  const edge = listenerEdge(config.listeners[0]);
  return {
    gate,
    answer: (fields, g, nowSec) => edge.answer(fields, g, nowSec).answer,
    sign(request) {
      const path = (request as { path: string }).path;
      const signed = findRoute(gate, path).scheme.sign(request);
      return `${path}?${signed.query}`;
    },
  };
}

const command = 'npm run bench:ab --';
const args = benchArgs(command, 'The hot path of this build (dist/) against another, alternated in one process.', {
  base: { type: 'string', value: 'dir', help: 'dist/ directory of the other build (required)' },
  rounds: { type: 'string', value: 'n', help: 'rounds, the median is reported (default 9)' },
});
const base = args.base;
if (base === undefined) {
  process.stderr.write(`${command}: --base=<dist directory of the other build> is required\n`);
  process.exit(64);
}
const rounds = positiveNumber(command, 'rounds', args.rounds, 9);
const builds = { base: await load(base), this: await load('dist') };
const noHeaders = { get: () => undefined };
const ipv4 = '203.0.113.7';
const ipv6 = '2001:db8:85a3::8a2e:370:7334';
const kinds = {
  azion: { path: (i: number) => `/my/videos/${i}/segment.ts`, extra: {}, ip: ipv4 },
  alta: { path: (i: number) => `/tv/channel-${i}/index.m3u8`, extra: { notBeforeSec: now, clientIp: ipv4 }, ip: ipv4 },
  hmac: { path: (i: number) => `/vod/film-${i}/index.m3u8`, extra: {}, ip: ipv4 },
  'hmac, IPv6 /48': {
    path: (i: number) => `/vod/movie-${i}/index.m3u8`,
    extra: { notBeforeSec: now, clientIp: '2001:db8:85a3::/48' },
    ip: ipv6,
  },
};
const cases: Record<string, (i: number) => unknown> = {};
for (const [kind, { path, extra, ip }] of Object.entries(kinds)) {
  for (const [name, build] of Object.entries(builds)) {
    const fields = Array.from({ length: 1024 }, (_, i) => ({
      uri: build.sign({ path: path(i), expiresSec: now + 3600, ...extra }),
      uriCount: 1,
      clientIp: ip,
      clientIpCount: 1,
      headers: noHeaders,
    }));
    const expected = build.answer(fields[0]!, build.gate, now);
    if ((expected as { status: number }).status !== 200) throw new Error(`${kind} (${name}): not an allow`);
    cases[`${kind} allow: ${name}`] = (i) => build.answer(fields[i & 1023]!, build.gate, now);
  }
}
compare(
  `Hot path A/B (listener edge + authorize), --base=${base} vs this build, median of ${rounds} rounds`,
  cases,
  200_000,
  rounds,
);
