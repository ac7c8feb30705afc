/**
 * CloudFront policies (docs/formats/cloudfront.md): the canned one as CloudFront writes it, and
 * custom ones read strictly: JSON of exactly the documented shape, one statement, each key once,
 * integers for times, nothing unknown.
 *   {"Statement":[{"Resource":"<url with * and ?>",
 *                  "Condition":{"DateLessThan":{"AWS:EpochTime":<t>},
 *                               "DateGreaterThan":{"AWS:EpochTime":<t>},
 *                               "IpAddress":{"AWS:SourceIp":"<a.b.c.d[/n]>"}}}]}
 * A small parser of its own (strict-json.ts): JSON.parse keeps the last of two equal keys. The
 * text is read before its signature is checked (the signature covers these bytes; the policy's
 * end time and Resource are needed whatever the verdict cache says), so it stays short (at most
 * 4096 bytes, nesting at most 6) and linear, and its messages name the place in the shape, never
 * the policy's own text: they reach the decision log.
 */

import { type Json, JsonError, type JsonObject, readStrictJson } from './strict-json.js';

export interface SourceRange {
  readonly text: string;
  readonly network: number;
  readonly mask: number;
}

export interface CloudFrontPolicy {
  /** undefined: the statement has no Resource (every URL the key is trusted for). */
  readonly resource: string | undefined;
  readonly dateLessThan: number;
  readonly dateGreaterThan: number | undefined;
  readonly sourceIp: SourceRange | undefined;
}

export const maxPolicyBytes = 4096;

/** The canned policy for a URL and end time, byte for byte as CloudFront and its SDKs write it. */
export function cannedPolicy(url: string, expires: number): string {
  return `{"Statement":[{"Resource":${JSON.stringify(url)},"Condition":{"DateLessThan":{"AWS:EpochTime":${expires}}}}]}`;
}

const isObject = (value: Json | undefined): value is JsonObject =>
  typeof value === 'object' && value !== null && !Array.isArray(value);

function onlyKeys(object: JsonObject, where: string, required: readonly string[], optional: readonly string[]): void {
  for (const key of Object.keys(object)) {
    if (!required.includes(key) && !optional.includes(key)) throw new JsonError(`${where} has an unknown field`);
  }
  for (const key of required) if (!Object.hasOwn(object, key)) throw new JsonError(`${where} has no "${key}"`);
}

function epochTime(condition: Json | undefined, where: string): number {
  if (!isObject(condition)) throw new JsonError(`${where} must be an object`);
  onlyKeys(condition, where, ['AWS:EpochTime'], []);
  const time = condition['AWS:EpochTime'];
  if (typeof time !== 'number' || time > 9_999_999_999) throw new JsonError(`${where}."AWS:EpochTime" must be unix seconds`);
  return time;
}

/** An IPv4 address with an optional /0-32 mask, canonical dotted quad. */
function sourceRange(text: string): SourceRange | undefined {
  const match = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})(?:\/(\d{1,2}))?$/.exec(text);
  if (match === null) return undefined;
  const octets = match.slice(1, 5).map((octet) => (octet.length > 1 && octet.startsWith('0') ? 256 : Number(octet)));
  const bits = match[5] === undefined ? 32 : match[5].length > 1 && match[5].startsWith('0') ? 33 : Number(match[5]);
  if (octets.some((octet) => octet > 255) || bits > 32) return undefined;
  const mask = bits === 0 ? 0 : (0xffffffff << (32 - bits)) >>> 0;
  const address = ((octets[0]! << 24) | (octets[1]! << 16) | (octets[2]! << 8) | octets[3]!) >>> 0;
  return { text, network: (address & mask) >>> 0, mask };
}

/** The policy, or why it is refused. */
export function parsePolicy(text: string): CloudFrontPolicy | string {
  if (text.length > maxPolicyBytes) return `the policy is longer than ${maxPolicyBytes} bytes`;
  try {
    const root = readStrictJson(text);
    if (!isObject(root)) throw new JsonError('the policy must be an object');
    onlyKeys(root, 'the policy', ['Statement'], []);
    const statements = root.Statement;
    if (!Array.isArray(statements) || statements.length !== 1) throw new JsonError('Statement must hold exactly one statement');
    const statement = statements[0];
    if (!isObject(statement)) throw new JsonError('the statement must be an object');
    onlyKeys(statement, 'the statement', ['Condition'], ['Resource']);
    const resource = statement.Resource;
    if (resource !== undefined && (typeof resource !== 'string' || resource === ''))
      throw new JsonError('Resource must be a URL');
    const condition = statement.Condition;
    if (!isObject(condition)) throw new JsonError('Condition must be an object');
    onlyKeys(condition, 'Condition', ['DateLessThan'], ['DateGreaterThan', 'IpAddress']);
    const dateLessThan = epochTime(condition.DateLessThan, 'DateLessThan');
    const dateGreaterThan =
      condition.DateGreaterThan === undefined ? undefined : epochTime(condition.DateGreaterThan, 'DateGreaterThan');
    let sourceIp: SourceRange | undefined;
    if (condition.IpAddress !== undefined) {
      const ip = condition.IpAddress;
      if (!isObject(ip)) throw new JsonError('IpAddress must be an object');
      onlyKeys(ip, 'IpAddress', ['AWS:SourceIp'], []);
      const range = ip['AWS:SourceIp'];
      sourceIp = typeof range === 'string' ? sourceRange(range) : undefined;
      if (sourceIp === undefined) throw new JsonError('"AWS:SourceIp" must be an IPv4 address or CIDR range (a.b.c.d/n)');
    }
    return { resource: resource as string | undefined, dateLessThan, dateGreaterThan, sourceIp };
  } catch (error) {
    if (error instanceof JsonError) return error.message;
    throw error;
  }
}

/**
 * CloudFront's Resource match over the whole URL: "*" any run of characters, "?" exactly one
 * (only with `questionMarkWildcard`; otherwise "?" is itself), the rest literal; except that a
 * "*" other than a trailing one never runs across a "?" of the URL. Why "?" is literal unless a
 * route asks: a canned policy's bytes are also a custom policy, so whoever holds a canned link
 * for "https://cdn/v?id=1" could resend its signature with those bytes as Policy and, with "?"
 * a wildcard, open "/v/id=1". A proxy serves by path: without that rule, a Resource of "https://cdn/users/", a star,
 * then "/avatar.png" would open "/users/bob/secret.pdf?/avatar.png", the fixed text found in the
 * query instead of the path.
 * Greedy leftmost segments; the cost is at most the URL's length times the pattern's, and the
 * pattern is signed (matched only after the signature is genuine).
 */
export function resourceMatches(pattern: string, url: string, questionMarkWildcard = false): boolean {
  const segments = pattern.split('*');
  const matchAt = (segment: string, at: number) => {
    if (at + segment.length > url.length) return false;
    for (let k = 0; k < segment.length; k++) {
      if (segment[k] !== url[at + k] && !(questionMarkWildcard && segment[k] === '?')) return false;
    }
    return true;
  };
  if (segments.length === 1) return pattern.length === url.length && matchAt(pattern, 0);
  const first = segments[0]!;
  const last = segments[segments.length - 1]!;
  if (!matchAt(first, 0)) return false;
  /** The furthest a non-trailing "*" starting at `at` may run: up to the next "?" of the URL. */
  const reach = (at: number) => {
    const question = url.indexOf('?', at);
    return question < 0 ? url.length : question;
  };
  let at = first.length;
  for (let s = 1; s < segments.length - 1; s++) {
    const segment = segments[s]!;
    if (segment === '') continue;
    const limit = reach(at);
    let found = -1;
    for (let p = at; p <= limit && p + segment.length <= url.length; p++) {
      if (matchAt(segment, p)) {
        found = p;
        break;
      }
    }
    if (found < 0) return false;
    at = found + segment.length;
  }
  if (last === '') return true;
  const start = url.length - last.length;
  return start >= at && start <= reach(at) && matchAt(last, start);
}
