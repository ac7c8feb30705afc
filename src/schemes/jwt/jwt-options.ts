import type { Fields } from '../../base/problems.js';

/** The algorithms a jwt route may accept, each described once: what key it needs and how it signs. */
export const jwtAlgorithms = ['RS256', 'ES256', 'EdDSA', 'HS256'] as const;
export type JwtAlgorithm = (typeof jwtAlgorithms)[number];

/** Where a route's token travels: a query parameter, a cookie, or `Authorization: Bearer`. */
export interface JwtPlace {
  readonly carrier: 'query' | 'cookie' | 'bearer';
  /** The parameter or cookie name; "authorization" for bearer. */
  readonly name: string;
}

/**
 * How a claim maps onto request paths: `before` + the claim's value + `after`, under the route
 * prefix; `covers` "exact" is that one path, "under" every path below it (the template ends with "/").
 */
export interface PathTemplate {
  readonly before: string;
  readonly after: string;
  readonly covers: 'exact' | 'under';
}

/** A route's options; `carrier` and `name` at the top, as every format lists them (the signing page reads them). */
export interface JwtOptions extends JwtPlace {
  readonly preset: 'mux' | undefined;
  readonly algorithms: readonly JwtAlgorithm[];
  /** The claim that says what the token opens. */
  readonly pathClaim: string;
  /** Undefined: the claim holds a path (exact, or with a final "/" a prefix). Else it holds an id these place. */
  readonly paths: readonly PathTemplate[] | undefined;
  readonly audience: readonly string[] | undefined;
  readonly issuer: readonly string[] | undefined;
  /** The claim that binds a token to a client IP when the token has it; undefined: none is read. */
  readonly clientIpClaim: string | undefined;
  /** Tokens must name their key (`kid`). */
  readonly requireKid: boolean;
  /** A "kid" claim in the payload names the key when the header has none (Mux's signer writes it there). */
  readonly payloadKid: boolean;
  /** Seconds a token stays accepted after its `exp` (signer clocks drift); 0 by default. */
  readonly expLeewaySec: number;
  /** A JWKS fetched at start and every `jwksRefreshSec` (https, or http on loopback); undefined: the route's key files only. */
  readonly jwksUrl: string | undefined;
  readonly jwksRefreshSec: number;
}

/** Mux signed playback: RS256 with the signing key's id as `kid`, `sub` the playback id, `aud` "v", `?token=`. */
const muxPreset = {
  algorithms: ['RS256'],
  pathClaim: 'sub',
  paths: ['{sub}.m3u8', '{sub}/'],
  audience: ['v'],
  requireKid: true,
  payloadKid: true,
} as const;

const claimPattern = /^[A-Za-z_][A-Za-z0-9_.-]{0,63}$/;
const namePattern = /^[A-Za-z0-9_-]{1,64}$/;
/** A template's fixed text: path characters only, no escapes, no dot-segments (it is joined to the route prefix). */
const templateText = /^[A-Za-z0-9._~!$&'()*+,;=:@/-]*$/;

function readStrings(fields: Fields, name: string, rule: string): readonly string[] | undefined {
  if (!fields.has(name)) return undefined;
  const raw = fields.array(name, rule);
  const out: string[] = [];
  raw.forEach((value, i) => {
    if (typeof value === 'string' && value.length > 0 && value.length <= 256 && !/[\u0000-\u001f\u007f]/.test(value)) {
      out.push(value);
    } else fields.add(`${name}[${i}]`, 'must be a non-empty string of at most 256 printable characters');
  });
  return out;
}

function readAlgorithms(fields: Fields, fallback: readonly JwtAlgorithm[] | undefined): readonly JwtAlgorithm[] {
  const rule = `must be a non-empty array of ${jwtAlgorithms.map((a) => `"${a}"`).join(', ')} ("none" never)`;
  if (!fields.has('algorithms')) {
    if (fallback === undefined) fields.add('algorithms', `is required: ${rule.slice(5)}`);
    return fallback ?? [];
  }
  const raw = fields.array('algorithms', rule);
  const out: JwtAlgorithm[] = [];
  raw.forEach((value, i) => {
    const known = jwtAlgorithms.find((a) => a === value);
    if (known === undefined) fields.add(`algorithms[${i}]`, rule);
    else if (out.includes(known)) fields.add(`algorithms[${i}]`, `duplicate algorithm "${known}"`);
    else out.push(known);
  });
  // A secret and a public key in one route is the algorithm-confusion attack's opening.
  if (out.includes('HS256') && out.length > 1) {
    fields.add('algorithms', 'HS256 (a shared secret) cannot share a route with public-key algorithms: make two routes');
  }
  return out;
}

function readPlace(fields: Fields): JwtPlace {
  const carrier = fields.oneOf('carrier', ['query', 'cookie', 'bearer'] as const, 'query');
  if (carrier === 'bearer') {
    if (fields.has('name')) fields.add('name', 'bearer tokens are read from the Authorization header: no name');
    return { carrier, name: 'authorization' };
  }
  const name = fields.matching('name', namePattern, 'must be a parameter or cookie name of letters, digits, "-" and "_"');
  return { carrier, name: name ?? 'token' };
}

/** The templates of `paths`: each holds `{<claim>}` once, is relative to the route prefix, and is a path or ends with "/". */
function readTemplates(
  fields: Fields,
  claim: string,
  fallback: readonly string[] | undefined,
): readonly PathTemplate[] | undefined {
  const given = readStrings(fields, 'paths', 'must be a non-empty array of path templates such as "{sub}.m3u8" and "{sub}/"');
  const raw = given ?? fallback;
  if (raw === undefined) return undefined;
  const placeholder = `{${claim}}`;
  const out: PathTemplate[] = [];
  raw.forEach((template, i) => {
    const at = template.indexOf(placeholder);
    const before = template.slice(0, Math.max(at, 0));
    const after = template.slice(at + placeholder.length);
    const segments = `/${before}x${after}`.split('/');
    if (
      at < 0 ||
      after.includes(placeholder) ||
      template.startsWith('/') ||
      !templateText.test(before + after) ||
      segments.some((segment, j) => segment === '.' || segment === '..' || (segment === '' && j > 0 && j < segments.length - 1))
    ) {
      fields.add(
        `paths[${i}]`,
        `must hold ${placeholder} once, be relative to the route prefix (no leading "/"), and use plain path characters without "//" or dot-segments`,
      );
      return;
    }
    out.push({ before, after, covers: template.endsWith('/') ? 'under' : 'exact' });
  });
  return out;
}

const loopback = new Set(['127.0.0.1', 'localhost', '[::1]']);

/** `jwksUrl`: https, or http to a loopback address (a sidecar); no credentials, no fragment. */
function readJwksUrl(fields: Fields): string | undefined {
  const raw = fields.value('jwksUrl');
  if (raw === undefined) return undefined;
  let url: URL | undefined;
  try {
    url = typeof raw === 'string' ? new URL(raw) : undefined;
  } catch {
    url = undefined;
  }
  const secure =
    url?.protocol === 'https:' || (url?.protocol === 'http:' && (loopback.has(url.hostname) || /^127\./.test(url.hostname)));
  if (url === undefined || !secure || url.username !== '' || url.password !== '' || url.hash !== '' || url.href !== raw) {
    fields.add(
      'jwksUrl',
      'must be an https:// URL (http:// only to a loopback address), written as a URL parser writes it, without credentials or "#"',
    );
    return undefined;
  }
  return url.href;
}

export function readJwtOptions(fields: Fields): JwtOptions {
  const preset = fields.has('preset') ? fields.oneOf('preset', ['mux'] as const, 'mux') : undefined;
  const defaults = preset === 'mux' ? muxPreset : undefined;
  const algorithms = readAlgorithms(fields, defaults?.algorithms);
  const place = readPlace(fields);
  const pathClaim =
    fields.matching('pathClaim', claimPattern, 'must be a claim name (letters, digits, "_", "." and "-")') ??
    defaults?.pathClaim ??
    'sub';
  const paths = readTemplates(fields, pathClaim, defaults?.paths);
  const audience = readStrings(fields, 'audience', 'must be a non-empty array of accepted "aud" values') ?? defaults?.audience;
  const issuer = readStrings(fields, 'issuer', 'must be a non-empty array of accepted "iss" values');
  const clientIpClaim = fields.matching('clientIpClaim', claimPattern, 'must be a claim name');
  const requireKid = fields.bool('requireKid', defaults?.requireKid ?? false);
  const payloadKid = fields.bool('payloadKid', defaults?.payloadKid ?? false);
  const expLeewaySec = fields.int('expLeewaySec', 0, 0, 300);
  const jwksUrl = readJwksUrl(fields);
  const jwksRefreshSec = fields.int('jwksRefreshSec', 300, 1, 86_400);
  if (fields.has('jwksRefreshSec') && jwksUrl === undefined) fields.add('jwksRefreshSec', 'needs "jwksUrl"');
  // A token that names only an id (templates) carries nothing of the route: its audience must say which.
  if (paths !== undefined && audience === undefined) {
    fields.add(
      'audience',
      'is required with "paths": a token that holds only an id is bound to its route by its "aud" (routes that share a key need different audiences)',
    );
  }
  if (clientIpClaim !== undefined && clientIpClaim === pathClaim) fields.add('clientIpClaim', 'must differ from pathClaim');
  return {
    preset,
    algorithms,
    ...place,
    pathClaim,
    paths,
    audience,
    issuer,
    clientIpClaim,
    requireKid,
    payloadKid,
    expLeewaySec,
    jwksUrl,
    jwksRefreshSec,
  };
}
