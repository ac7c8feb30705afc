/** What one token format needs in a test: its route, its keys and a maker of genuine links. */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Gate } from '../../../src/decision/authorize.js';
import { nginxTarget } from '../../../src/request/nginx-uri.js';
import { gateFor } from '../gates.js';

/** A key as a route names it, and the material its env variable (or file) holds. */
export interface FixtureKey {
  readonly id: string;
  readonly env: string;
  readonly material: string;
}

/** When and for whom a genuine link is made. */
export interface LinkRequest {
  /** Default: now. */
  readonly nowSec?: number;
  /** Seconds from `nowSec` to the expiry (default 600; negative: already expired). */
  readonly ttlSec?: number;
  /** The client the link is bound to, where the format signs one (formats that sign none ignore it). */
  readonly clientIp?: string;
}

export interface FormatFixture {
  /** The scheme id of src/schemes/registry.ts. */
  readonly id: string;
  /** The route's prefix: distinct per format, so every fixture's route fits in one config. */
  readonly prefix: string;
  /** The route's options (absent: the format's defaults). */
  readonly options?: Readonly<Record<string, unknown>>;
  /** Two keys: the first signs `link`'s links, a route may list both (rotation). */
  readonly keys: readonly [FixtureKey, FixtureKey];
  /** Who makes `link`'s links: the format's reference generator, or tokengate's own signer. */
  readonly madeBy: string;
  /** A genuine link (path and query) for `path` under `prefix`, signed with the first key. */
  readonly link: (path: string, request?: LinkRequest) => string;
  /** The query parameters the format's token uses (what a token signs besides the path). */
  readonly tokenParams: readonly string[];
  /** True when `link` binds the client IP it is given (the suites then ask from that IP). */
  readonly bindsClientIp: boolean;
  /** nginx secure_link signs nginx's text of the address: an IPv4-mapped client is another address. */
  readonly mappedIsOtherAddress?: true;
  /** Optional token parameters that are signed: a token without one is another token ("forged"). */
  readonly signedOptional?: readonly string[];
  /** The validity window's ends are exclusive (CloudFront: now < DateLessThan). */
  readonly exclusiveWindow?: true;
  /** With `exclusiveWindow`: the start is still inclusive (JWT: valid from nbf, until before exp). */
  readonly inclusiveStart?: true;
}

/** The route of `fixture` as a config file writes it, with the keys at `use` (default: the first) named by env. */
export function fixtureRoute(
  fixture: FormatFixture,
  extra: {
    name?: string;
    prefix?: string;
    use?: readonly (0 | 1)[];
    options?: Record<string, unknown>;
    verdictCache?: boolean;
  } = {},
): Record<string, unknown> {
  const options = extra.options === undefined ? fixture.options : { ...fixture.options, ...extra.options };
  return {
    name: extra.name ?? fixture.id,
    prefix: extra.prefix ?? fixture.prefix,
    scheme: fixture.id,
    keys: (extra.use ?? [0]).map((i) => ({ id: fixture.keys[i]!.id, env: fixture.keys[i]!.env })),
    ...(options === undefined ? {} : { options }),
    ...(extra.verdictCache === undefined ? {} : { verdictCache: extra.verdictCache }),
  };
}

/** The env variables holding the keys of `fixtures`. */
export function fixtureEnv(fixtures: readonly FormatFixture[]): Record<string, string> {
  return Object.fromEntries(fixtures.flatMap((f) => f.keys.map((key) => [key.env, key.material])));
}

/** Writes each key of `fixture` into `dir` and returns the route's keys naming those files. */
export function fixtureKeyFiles(dir: string, fixture: FormatFixture): { id: string; file: string }[] {
  return fixture.keys.map((key) => {
    writeFileSync(join(dir, `${key.env}.key`), key.material);
    return { id: key.id, file: `${key.env}.key` };
  });
}

/** Two keys named after the format, holding `materials`. */
export function twoKeys(
  id: string,
  ids: readonly [string, string],
  materials: readonly [string, string],
): readonly [FixtureKey, FixtureKey] {
  const env = `TG_${id.toUpperCase().replaceAll('-', '_')}`;
  return [
    { id: ids[0], env: `${env}_1`, material: materials[0] },
    { id: ids[1], env: `${env}_2`, material: materials[1] },
  ];
}

export const unixNow = (): number => Math.floor(Date.now() / 1000);

/** The gate of one fixture's route (first key), built once: for formats whose links tokengate's signer makes. */
export function lazyGate(fixture: () => FormatFixture): () => Gate {
  let gate: Gate | undefined;
  return () => {
    const f = fixture();
    gate ??= gateFor([fixtureRoute(f)], fixtureEnv([f]));
    return gate;
  };
}

/** The path and query a format that signs nginx's `$uri` reads (`//` is `/`, `%30` is `0` to it), else the URL itself. */
export function asRead(url: string, nginxUri: boolean): string {
  if (!nginxUri) return url;
  const read = nginxTarget(url);
  return 'verdict' in read ? url : `${read.path}?${read.query}`;
}
