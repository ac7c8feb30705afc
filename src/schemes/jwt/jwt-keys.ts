import { createPrivateKey, createPublicKey, createSecretKey, hash, type JsonWebKey, type KeyObject } from 'node:crypto';
import type { RouteKey } from '../../scheme-kit/scheme-definition.js';
import type { JwtAlgorithm } from './jwt-options.js';

/** One verification key of a route: the `kid` tokens name it by, the algorithm it serves, and its private half when given. */
export interface JwtKey {
  readonly kid: string;
  readonly algorithm: JwtAlgorithm;
  /** What verifies: a public key, or the HS256 secret. */
  readonly verifyKey: KeyObject;
  /** What signs (`tokengate sign`, the signing API): the private key or the secret; undefined for a public key. */
  readonly signKey: KeyObject | undefined;
}

/** A JSON Web Key as a key file or a JWKS holds it; only what tokengate reads is typed. */
interface Jwk extends JsonWebKey {
  readonly kid?: unknown;
  readonly use?: unknown;
  readonly alg?: unknown;
  readonly key_ops?: unknown;
}

/** The algorithm an asymmetric key serves, or why it serves none (RSA under 2048 bits, other curves, RSA-PSS keys). */
function algorithmOf(key: KeyObject): JwtAlgorithm | { readonly problem: string } {
  const details = key.asymmetricKeyDetails ?? {};
  if (key.asymmetricKeyType === 'rsa') {
    return (details.modulusLength ?? 0) >= 2048 ? 'RS256' : { problem: 'the RSA key is shorter than 2048 bits' };
  }
  if (key.asymmetricKeyType === 'ec') {
    return details.namedCurve === 'prime256v1' ? 'ES256' : { problem: 'the EC key is not on P-256 (ES256)' };
  }
  if (key.asymmetricKeyType === 'ed25519') return 'EdDSA';
  return { problem: `keys of type ${key.asymmetricKeyType ?? 'unknown'} serve none of RS256, ES256, EdDSA` };
}

/** A PEM public or private key (its public half verifies). */
function fromPem(kid: string, text: string): JwtKey | string {
  let verifyKey: KeyObject;
  let signKey: KeyObject | undefined;
  try {
    if (text.includes('PRIVATE KEY')) {
      signKey = createPrivateKey(text);
      verifyKey = createPublicKey(signKey);
    } else verifyKey = createPublicKey(text);
  } catch {
    return 'the key file is not a PEM public or private key that Node can read';
  }
  const algorithm = algorithmOf(verifyKey);
  return typeof algorithm === 'string' ? { kid, algorithm, verifyKey, signKey } : algorithm.problem;
}

/** One JWK: a signature key (`use` "sig" or absent) whose `alg`, when given, is the one its type serves. */
function fromJwk(jwk: Jwk, fallbackKid: string): JwtKey | string {
  if (typeof jwk !== 'object' || jwk === null || Array.isArray(jwk)) return 'a JWK must be an object';
  const kid = jwk.kid === undefined ? fallbackKid : jwk.kid;
  if (typeof kid !== 'string' || kid.length === 0 || kid.length > 256)
    return 'a JWK "kid" must be a string of 1 to 256 characters';
  if (jwk.use !== undefined && jwk.use !== 'sig') return `JWK "${kid}": "use" is not "sig"`;
  if (jwk.key_ops !== undefined && !(Array.isArray(jwk.key_ops) && jwk.key_ops.includes('verify'))) {
    return `JWK "${kid}": "key_ops" does not allow "verify"`;
  }
  if (jwk.kty === 'oct') return `JWK "${kid}": symmetric JWKs are not read (give an HS256 secret as a key file)`;
  let verifyKey: KeyObject;
  let signKey: KeyObject | undefined;
  try {
    if (jwk.d !== undefined) {
      signKey = createPrivateKey({ key: jwk, format: 'jwk' });
      verifyKey = createPublicKey(signKey);
    } else verifyKey = createPublicKey({ key: jwk, format: 'jwk' });
  } catch {
    return `JWK "${kid}" is not a key that Node can read`;
  }
  const algorithm = algorithmOf(verifyKey);
  if (typeof algorithm !== 'string') return `JWK "${kid}": ${algorithm.problem}`;
  if (jwk.alg !== undefined && jwk.alg !== algorithm) {
    return `JWK "${kid}": "alg" ${JSON.stringify(jwk.alg)} is not what its key serves (${algorithm})`;
  }
  return { kid, algorithm, verifyKey, signKey };
}

/** A JWK, or a JWKS's keys, from a key file's JSON text. */
function fromJson(kid: string, text: string, lenient: boolean): JwtKey[] | string {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    return 'the key file starts with "{" but is not JSON (a JWK or a JWKS)';
  }
  const set = (json as { keys?: unknown }).keys;
  const jwks = set === undefined ? [json] : set;
  if (!Array.isArray(jwks) || jwks.length === 0 || jwks.length > 100) return 'a JWKS needs "keys": an array of 1 to 100 JWKs';
  const keys: JwtKey[] = [];
  for (const [i, jwk] of jwks.entries()) {
    const read = fromJwk(jwk as Jwk, jwks.length === 1 ? kid : `${kid}.${i}`);
    // A fetched set is the issuer's, and may hold encryption keys or keys for other algorithms.
    if (typeof read === 'string') {
      if (lenient) continue;
      return read;
    }
    keys.push(read);
  }
  return keys;
}

/**
 * The keys one route key file holds, for a route of `algorithms`: an HS256 route's file is the
 * secret itself (32 bytes or more); otherwise a PEM key, a JWK, or a JWKS. A key whose algorithm
 * the route does not accept is a problem, never silently unused. A string says why not.
 */
export function readJwtKeys(key: RouteKey, algorithms: readonly string[], fetched = false): JwtKey[] | string {
  if (algorithms.includes('HS256')) {
    if (key.secret.length < 32) return 'an HS256 secret must be 32 bytes or more (RFC 7518, section 3.2)';
    const text = key.secret.toString('latin1');
    if (text.includes('-----BEGIN') || text.startsWith('{')) {
      return 'an HS256 route reads its key file as the secret itself: this one holds a PEM key or JSON (a public key used as an HMAC secret is a known attack)';
    }
    const secret = createSecretKey(key.secret);
    return [{ kid: key.id, algorithm: 'HS256', verifyKey: secret, signKey: secret }];
  }
  const text = key.secret.toString('utf8');
  const read = text.trimStart().startsWith('{') ? fromJson(key.id, text, fetched) : fromPem(key.id, text);
  if (typeof read === 'string') return read;
  const all = Array.isArray(read) ? read : [read];
  // Of a fetched set, the keys this route can use; a key file's keys must all serve it.
  const keys = fetched ? all.filter((k) => algorithms.includes(k.algorithm)) : all;
  if (keys.length === 0) return "no key of the set serves the route's algorithms";
  const refused = keys.find((k) => !algorithms.includes(k.algorithm));
  if (refused !== undefined)
    return `key "${refused.kid}" serves ${refused.algorithm}, which the route's "algorithms" do not list`;
  return keys;
}

/** Every key of a route, in order; kids must be distinct so a token's `kid` names one key. */
export function jwtKeyRing(keys: readonly RouteKey[], algorithms: readonly string[], jwks?: string): JwtKey[] | string {
  const ring: JwtKey[] = [];
  const sources = keys.map((key) => ({ key, from: `key "${key.id}"`, fetched: false }));
  if (jwks !== undefined) {
    if (algorithms.includes('HS256')) return 'an HS256 route has no public keys to fetch: jwksUrl is for public-key algorithms';
    sources.push({ key: { id: 'jwks', secret: Buffer.from(jwks, 'utf8') }, from: 'the JWKS at jwksUrl', fetched: true });
  }
  for (const { key, from, fetched } of sources) {
    const read = readJwtKeys(key, algorithms, fetched);
    if (typeof read === 'string') return `${from}: ${read}`;
    for (const k of read) {
      // A token names its key by kid and algorithm: one key per pair.
      if (ring.some((other) => other.kid === k.kid && other.algorithm === k.algorithm)) {
        return `two ${k.algorithm} keys have the kid "${k.kid}"`;
      }
      ring.push(k);
    }
  }
  return ring;
}

/** A digest of what verifies with a key (its public key, or the secret): the same key in two routes, whatever its file. */
export function keyDigest(key: JwtKey): string {
  const material =
    key.verifyKey.type === 'secret' ? key.verifyKey.export() : key.verifyKey.export({ type: 'spki', format: 'der' });
  return hash('sha256', material, 'hex');
}
