import type { Fields, Problems } from '../base/problems.js';
import { isRejection } from '../base/verdict.js';
import { parseRequestTarget } from '../request/request-target.js';
import type { StreamScope } from '../request/signed-path.js';
import type { Scheme } from '../scheme-kit/scheme-definition.js';
import { canonicalSpelling, unreservedEscape } from '../scheme-kit/signable-path.js';
import { findScheme, schemes } from '../schemes/registry.js';
import type { KeySource, RouteConfig } from './config.js';
import { parseRouteLimits } from './parse-limits.js';
import { parseRouteRevocation } from './parse-state.js';

const keyIdPattern = /^[A-Za-z0-9_-]{1,32}$/;

function parseKey(fields: Fields, scheme: Scheme | undefined): KeySource {
  const id = fields.string('id');
  if (id !== '' && !keyIdPattern.test(id)) fields.add('id', 'must be 1 to 32 characters from [A-Za-z0-9_-]');
  // Checked against the scheme's encodings once the scheme is known (an unknown one is its own problem).
  const encoding =
    !fields.has('encoding') || scheme === undefined
      ? undefined
      : fields.oneOf('encoding', scheme.keyEncodings, scheme.keyEncodings[0]!, `the encodings scheme ${scheme.id} reads`);
  const source = fields.exactlyOne(
    ['file', 'env', 'publicDemoSecret'],
    'needs exactly one of "file" or "env" ("publicDemoSecret" for published demo keys only)',
  );
  const value = source === undefined ? undefined : source === 'env' ? fields.envName('env') : fields.string(source);
  fields.done();
  if (source === undefined) return { id };
  return { id, [source]: value, ...(encoding === undefined ? {} : { encoding }) };
}

function parseStream(fields: Fields, prefix: string): StreamScope {
  const playlist = fields.string('playlist');
  const target = parseRequestTarget(`/${playlist}`);
  if (playlist !== '' && (playlist.includes('/') || playlist.includes('?') || isRejection(target))) {
    fields.add('playlist', 'must be a file name (one path segment), e.g. "index.m3u8"');
  }
  const depth = fields.optionalInt('depth', 1, 16);
  if (depth !== undefined && !prefix.endsWith('/')) fields.add('depth', 'needs a route prefix that ends with "/"');
  fields.done();
  return { playlist, depth };
}

/** What a token opens unless its route says more: reading the file, and its headers alone. */
export const defaultMethods: readonly string[] = Object.freeze(['GET', 'HEAD']);

const methodPattern = /^[A-Z][A-Z_-]{0,31}$/;

/** `methods`: names as the client sent them (case-sensitive; nginx's `$request_method` is capitals, "_" and "-"). */
function parseMethods(fields: Fields): readonly string[] {
  if (!fields.has('methods')) return defaultMethods;
  const raw = fields.array('methods', 'must be a non-empty array of method names, e.g. ["GET", "HEAD", "OPTIONS"]');
  if (raw.length === 0) return defaultMethods;
  raw.forEach((method: unknown, i) => {
    if (typeof method !== 'string' || !methodPattern.test(method)) {
      fields.add(`methods[${i}]`, 'must be a method name in capitals, as clients send it ("GET", "HEAD", "OPTIONS"...)');
    } else if (raw.indexOf(method) !== i) {
      fields.add(`methods[${i}]`, `duplicate method "${method}"`);
    }
  });
  return Object.freeze(raw.filter((method): method is string => typeof method === 'string'));
}

/** `prefix`: a plain path as the service matches it, one spelling only. */
function parsePrefix(fields: Fields): string {
  const prefix = fields.string('prefix');
  if (prefix === '') return prefix;
  const target = parseRequestTarget(prefix);
  if (prefix.includes('?') || isRejection(target)) {
    fields.add('prefix', `must be a plain path starting with "/"${isRejection(target) ? ` (${target.detail})` : ''}`);
  } else if (/;|%3b/i.test(prefix)) {
    fields.add('prefix', 'must not contain ";" (Tomcat and Jetty cut path parameters: the prefix would name two paths)');
  } else if (unreservedEscape.test(prefix)) {
    fields.add('prefix', `must spell letters, digits and "-._~" as themselves, not escaped (${canonicalSpelling(prefix)})`);
  }
  return prefix;
}

/** `keys`: the first signs, every key verifies; ids are unique within the route. */
function parseKeys(fields: Fields, scheme: Scheme | undefined, fetched: boolean): KeySource[] {
  // A route whose keys are all fetched (a JWKS URL) may list none of its own.
  if (fetched && fields.value('keys') === undefined) return [];
  const raw = fields.array('keys', 'must be a non-empty array (the first key signs, every key verifies)', fetched);
  const keys = raw.map((key, i) => parseKey(fields.problems.fields(key, `${fields.path}.keys[${i}]`), scheme));
  const ids = keys.map((key) => key.id);
  ids.forEach((id, i) => {
    if (id !== '' && ids.indexOf(id) !== i) fields.add(`keys[${i}].id`, `duplicate key id "${id}"`);
  });
  return keys;
}

/** A route, or undefined when its scheme or options are refused (the problem is recorded). */
export function parseRoute(raw: unknown, path: string, p: Problems): RouteConfig | undefined {
  const fields = p.fields(raw, path);
  const prefix = parsePrefix(fields);
  const schemeId = fields.string('scheme');
  const scheme = findScheme(schemeId);
  if (schemeId !== '' && scheme === undefined) {
    fields.add('scheme', `unknown scheme "${schemeId}" (known: ${schemes.map((s) => s.id).join(', ')})`);
  }
  const options = scheme?.readOptions(fields.value('options'), `${path}.options`, p);
  const keys = parseKeys(fields, scheme, (options?.remoteDocuments.length ?? 0) > 0);
  const streamFields = fields.object('stream');
  const stream = streamFields === undefined ? undefined : parseStream(streamFields, prefix);
  const verdictCache = fields.optionalBool('verdictCache');
  const name = fields.string('name', prefix);
  const methods = parseMethods(fields);
  const publicBaseUrl = fields.baseUrl('publicBaseUrl');
  const revocation = parseRouteRevocation(fields);
  const limits = parseRouteLimits(fields, scheme);
  const expiredStatus = fields.value('expiredStatus');
  if (expiredStatus !== undefined && expiredStatus !== 410 && expiredStatus !== 403) {
    fields.add('expiredStatus', "must be 410 or 403 (leave it out for the listener's)");
  }
  fields.done();
  if (scheme === undefined || options === undefined) return undefined;
  return {
    name,
    prefix,
    scheme,
    keys,
    options,
    stream,
    verdictCache,
    publicBaseUrl,
    methods,
    revocation,
    limits,
    expiredStatus: expiredStatus === 403 || expiredStatus === 410 ? expiredStatus : undefined,
  };
}
