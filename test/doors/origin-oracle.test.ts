/**
 * The origin as the oracle. Real nginx with nginx.example.conf (both listener forms, both
 * engines) and real Caddy with deploy/caddy/Caddyfile serve an origin whose every file says who
 * it is; tokengate has nested routes, keys of their own and shared, every format with its
 * scopes. Requests are genuine links changed in their path's spelling, query, token's place,
 * method and headers (test/helpers/oracle-generator.ts). The property, on every answer: a 2xx
 * carries only a file inside what the token covers (its route and scope). The test asks the
 * origin what it served, not tokengate what it decided.
 *
 * Each door: the genuine links of files as they are, every kept regression case
 * (test/oracle/regressions.json), then TOKENGATE_ORACLE_REQUESTS (default 3000) requests of
 * seed TOKENGATE_ORACLE_SEED (default 33); a release runs it longer (docs/development.md). A
 * failure is printed (request, file served, token's scope), shrunk to the fewest operations
 * that still fail, and kept in test/oracle/regressions.json, one of each kind.
 */
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Answer, KeepaliveClient } from '../helpers/oracle-client.js';
import { type DoorSpec, type RunningDoor, startDoor } from '../helpers/oracle-doors.js';
import { type Generated, RequestGenerator, replay } from '../helpers/oracle-generator.js';
import { type GenuineLink, recipesOf, signRecipe } from '../helpers/oracle-links.js';
import type { Op } from '../helpers/oracle-mutations.js';
import { type Origin, writeOrigin } from '../helpers/oracle-origin.js';
import {
  classOf,
  failureOf,
  keepRegressions,
  type RegressionCase,
  readRegressions,
  report,
  violation,
} from '../helpers/oracle-property.js';
import { serialize } from '../helpers/oracle-request.js';
import { oracleKeys, originPaths } from '../helpers/oracle-routes.js';
import { pooled } from '../helpers/raw-bytes.js';
import { withEnginesHere } from '../helpers/runtime.js';
import { tempDir } from '../helpers/service-process.js';

const requests = Number(process.env.TOKENGATE_ORACLE_REQUESTS ?? 3000);
const seed = Number(process.env.TOKENGATE_ORACLE_SEED ?? 33);
if (!Number.isSafeInteger(requests) || requests < 0 || !Number.isSafeInteger(seed)) {
  throw new Error('TOKENGATE_ORACLE_REQUESTS and TOKENGATE_ORACLE_SEED must be integers');
}
/** Requests in flight a door: enough to keep nginx and tokengate busy, few enough for a shared 2-core machine. */
const concurrency = 8;

const nginxDoor = { proxy: 'nginx', engine: 'node', gate: 'raw', origin: 'files', nginxOptions: ['cookies'] } as const;
const doors: readonly DoorSpec[] = withEnginesHere(
  [
    {
      ...nginxDoor,
      name: 'nginx → node, X-Original-URI, auth cache',
      listener: 'headers',
      nginxOptions: ['cookies', 'auth-cache'],
    },
    { ...nginxDoor, name: 'nginx → node, target form', listener: 'target' },
    { ...nginxDoor, name: 'nginx → uws, target form', listener: 'target', engine: 'uws' },
    { ...nginxDoor, name: 'Caddy → node, X-Forwarded-Uri', listener: 'caddy', proxy: 'caddy', nginxOptions: [] },
    { ...nginxDoor, name: 'nginx → node, X-Original-URI, a route signing $uri', listener: 'headers', gate: 'mixed' },
    { ...nginxDoor, name: 'nginx → servlet-style origin, node, X-Original-URI', listener: 'headers', origin: 'servlet' },
  ],
  (door) => door.engine,
);

let dir: string;
let origin: Origin;
let keys: Record<string, string>;
const found: RegressionCase[] = [];
const notes: string[] = [];
const startedAt = Date.now();

beforeAll(() => {
  dir = tempDir();
  origin = writeOrigin(join(dir, 'www'), originPaths());
  keys = oracleKeys(dir);
});

afterAll(() => {
  const kept = keepRegressions(found);
  const seconds = ((Date.now() - startedAt) / 1000).toFixed(1);
  process.stdout.write(
    `\norigin oracle: seed ${seed}, ${requests} requests a door, ${doors.length} doors, ${seconds} s` +
      `${kept > 0 ? `; ${kept} new regression case(s) kept in test/oracle/regressions.json` : ''}\n${notes.join('\n')}\n`,
  );
});

describe.each(doors)('$name', (spec) => {
  let door: RunningDoor;
  let client: KeepaliveClient;
  let links: GenuineLink[];

  beforeAll(async () => {
    door = await startDoor(spec, dir, origin, keys);
    client = new KeepaliveClient(door.port);
    const signed = await Promise.all(recipesOf(door.routes).map((recipe) => signRecipe(door.loaded, door.routes, recipe)));
    links = signed.flatMap((link) => link ?? []);
  }, 30_000);

  afterAll(async () => {
    client?.close();
    await door?.stop();
  });

  /** Sends the request of `link` changed by `ops`; the failure when the property breaks. */
  async function check(link: GenuineLink, ops: readonly Op[], draft = replay(link, ops)) {
    const request = serialize(draft);
    const answer: Answer = await client.send(request, draft.method === 'HEAD');
    const broken = violation(origin, door.routes, link, request, answer);
    return { answer, failure: broken && failureOf(spec.name, seed, link, ops, request, answer.status as number, broken) };
  }

  /** The failure with as few operations as still fail. */
  async function shrink(link: GenuineLink, failure: RegressionCase): Promise<RegressionCase> {
    let smallest = failure;
    for (let i = 0; i < smallest.ops.length; ) {
      const ops = smallest.ops.filter((_, j) => j !== i);
      const { failure: still } = await check(link, ops);
      if (still === undefined) i++;
      else smallest = still;
    }
    return smallest;
  }

  it('serves the genuine links of files as they are: the door reaches the origin, within what each covers', async () => {
    const files = links.filter((link) => !link.path.endsWith('/'));
    const unserved: string[] = [];
    const failures: RegressionCase[] = [];
    for (const link of files) {
      const { answer, failure } = await check(link, []);
      if (failure !== undefined) failures.push(failure);
      else if (typeof answer.status !== 'number' || answer.status >= 300) unserved.push(`${answer.status} ${link.path}`);
    }
    found.push(...failures);
    notes.push(`  ${spec.name}: ${files.length - unserved.length} of ${files.length} genuine links of files served`);
    expect(failures.map(report), failures.map(report).join('\n\n')).toEqual([]);
    // A door that served nothing would pass every other case here vacuously.
    expect(unserved.length, unserved.join('\n')).toBeLessThan(files.length / 10);
  });

  it('replays every kept regression case: no 2xx outside what its token covers', async () => {
    const failures: string[] = [];
    let replayed = 0;
    for (const kept of readRegressions()) {
      const link = await signRecipe(door.loaded, door.routes, kept.link);
      if (link === undefined) continue; // a route this door's config has not, or a link the signer no longer makes
      replayed++;
      const { failure } = await check(link, kept.ops);
      if (failure !== undefined) failures.push(report(failure));
    }
    notes.push(`  ${spec.name}: ${replayed} regression case(s) replayed, ${failures.length} failed`);
    expect(failures, failures.join('\n\n')).toEqual([]);
  }, 60_000);

  it(
    `${requests} seeded requests from genuine links: every 2xx carries a file its token covers`,
    async () => {
      const started = Date.now();
      const generator = new RequestGenerator(seed, links, [...origin.byPath.keys()], door.routes);
      const statuses = new Map<string, number>();
      const failures: { generated: Generated; failure: RegressionCase }[] = [];
      await pooled(requests, concurrency, async () => {
        const generated = generator.next();
        const { answer, failure } = await check(generated.link, generated.ops, generated.draft);
        const status = typeof answer.status === 'number' ? `${Math.floor(answer.status / 100)}xx` : answer.status;
        statuses.set(status, (statuses.get(status) ?? 0) + 1);
        if (failure !== undefined) failures.push({ generated, failure });
      });
      // One shrunk example of each kind, the rest counted.
      const kinds = new Map<string, { example: RegressionCase; count: number }>();
      for (const { generated, failure } of failures) {
        const kind = classOf(failure.link, failure.ops);
        const seen = kinds.get(kind);
        if (seen !== undefined) seen.count++;
        else kinds.set(kind, { example: await shrink(generated.link, failure), count: 1 });
      }
      found.push(...[...kinds.values()].map(({ example }) => example));
      const spread = [...statuses]
        .sort()
        .map(([status, count]) => `${status} ${count}`)
        .join(', ');
      notes.push(
        `  ${spec.name}: ${requests} requests in ${((Date.now() - started) / 1000).toFixed(1)} s (${spread}; ` +
          `${client.opened} connections), ${failures.length} failure(s) of ${kinds.size} kind(s)`,
      );
      const summary = [...kinds.values()].map(({ example, count }) => `${count} × ${report(example)}`).join('\n\n');
      expect(failures.length, summary).toBe(0);
    },
    120_000 + requests * 20,
  );
});
