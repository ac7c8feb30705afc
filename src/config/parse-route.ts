import type { Problems } from '../base/problems.js';
import { isRejection } from '../base/verdict.js';
import { parseRequestTarget } from '../request/request-target.js';
import type { StreamScope } from '../request/signed-path.js';
import type { KeyEncoding, Scheme } from '../scheme-kit/scheme-definition.js';
import { canonicalSpelling, unreservedEscape } from '../scheme-kit/signable-path.js';
import { findScheme, schemes } from '../schemes/registry.js';
import type { KeySource, RouteConfig } from './config.js';
import { parseBaseUrl } from './parse-signing.js';

function parseKey(raw: unknown, path: string, p: Problems, scheme: Scheme | undefined): KeySource {
  const obj = p.object(raw, path, ['id', 'file', 'env', 'publicDemoSecret', 'encoding']) ?? {};
  const id = p.string(obj, 'id', path);
  if (id !== '' && !/^[A-Za-z0-9_-]{1,32}$/.test(id)) p.add(`${path}.id`, 'must be 1 to 32 characters from [A-Za-z0-9_-]');
  const encoding = obj.encoding as KeyEncoding | undefined;
  if (encoding !== undefined && scheme !== undefined && !scheme.keyEncodings.includes(encoding)) {
    p.add(`${path}.encoding`, `must be one of ${scheme.keyEncodings.join(', ')} for scheme ${scheme.id}`);
  }
  const sources = (['file', 'env', 'publicDemoSecret'] as const).filter((name) => obj[name] !== undefined);
  if (sources.length !== 1) {
    p.add(path, 'needs exactly one of "file" or "env" ("publicDemoSecret" for published demo keys only)');
    return { id };
  }
  const source = sources[0]!;
  const value = p.string(obj, source, path);
  if (source === 'env' && value !== '' && !/^[A-Za-z_][A-Za-z0-9_]*$/.test(value)) {
    p.add(`${path}.env`, 'must be an environment variable name');
  }
  return { id, [source]: value, ...(encoding === undefined ? {} : { encoding }) };
}

function parseStream(raw: unknown, path: string, prefix: string, p: Problems): StreamScope {
  const obj = p.object(raw, path, ['playlist', 'depth']) ?? {};
  const playlist = p.string(obj, 'playlist', path);
  const target = parseRequestTarget(`/${playlist}`);
  if (playlist !== '' && (playlist.includes('/') || playlist.includes('?') || isRejection(target))) {
    p.add(`${path}.playlist`, 'must be a file name (one path segment), e.g. "index.m3u8"');
  }
  if (obj.depth === undefined) return { playlist, depth: undefined };
  const depth = p.integer(obj, 'depth', path, 1, 1, 16);
  if (!prefix.endsWith('/')) p.add(`${path}.depth`, 'needs a route prefix that ends with "/"');
  return { playlist, depth };
}

/** What a token opens unless its route says more: reading the file, and its headers alone. */
export const defaultMethods: readonly string[] = Object.freeze(['GET', 'HEAD']);

/** `methods`: names as the client sent them (case-sensitive; nginx's `$request_method` is capitals, "_" and "-"). */
function parseMethods(raw: unknown, path: string, p: Problems): readonly string[] {
  if (raw === undefined) return defaultMethods;
  if (!Array.isArray(raw) || raw.length === 0) {
    p.add(path, 'must be a non-empty array of method names, e.g. ["GET", "HEAD", "OPTIONS"]');
    return defaultMethods;
  }
  raw.forEach((method: unknown, i) => {
    if (typeof method !== 'string' || !/^[A-Z][A-Z_-]{0,31}$/.test(method)) {
      p.add(`${path}[${i}]`, 'must be a method name in capitals, as clients send it ("GET", "HEAD", "OPTIONS"...)');
    } else if (raw.indexOf(method) !== i) {
      p.add(`${path}[${i}]`, `duplicate method "${method}"`);
    }
  });
  return Object.freeze(raw.filter((method): method is string => typeof method === 'string'));
}

/** A route, or undefined when its scheme is unknown (the problem is recorded). */
export function parseRoute(raw: unknown, path: string, p: Problems): RouteConfig | undefined {
  const obj =
    p.object(raw, path, ['name', 'prefix', 'scheme', 'keys', 'options', 'stream', 'verdictCache', 'publicBaseUrl', 'methods']) ??
    {};
  if (obj.verdictCache !== undefined && typeof obj.verdictCache !== 'boolean')
    p.add(`${path}.verdictCache`, 'must be true or false');
  const prefix = p.string(obj, 'prefix', path);
  if (prefix !== '') {
    const target = parseRequestTarget(prefix);
    if (prefix.includes('?') || isRejection(target)) {
      p.add(`${path}.prefix`, `must be a plain path starting with "/"${isRejection(target) ? ` (${target.detail})` : ''}`);
    } else if (/;|%3b/i.test(prefix)) {
      p.add(`${path}.prefix`, 'must not contain ";" (Tomcat and Jetty cut path parameters: the prefix would name two paths)');
    } else if (unreservedEscape.test(prefix)) {
      p.add(`${path}.prefix`, `must spell letters, digits and "-._~" as themselves, not escaped (${canonicalSpelling(prefix)})`);
    }
  }
  const schemeId = p.string(obj, 'scheme', path);
  const scheme = findScheme(schemeId);
  if (schemeId !== '' && scheme === undefined) {
    p.add(`${path}.scheme`, `unknown scheme "${schemeId}" (known: ${schemes.map((s) => s.id).join(', ')})`);
  }
  const options = scheme?.readOptions(obj.options, `${path}.options`, p);
  const keys: KeySource[] = [];
  if (!Array.isArray(obj.keys) || obj.keys.length === 0) {
    p.add(`${path}.keys`, 'must be a non-empty array (the first key signs, every key verifies)');
  } else {
    for (const [i, key] of obj.keys.entries()) keys.push(parseKey(key, `${path}.keys[${i}]`, p, scheme));
    const ids = keys.map((key) => key.id);
    ids.forEach((id, i) => {
      if (id !== '' && ids.indexOf(id) !== i) p.add(`${path}.keys[${i}].id`, `duplicate key id "${id}"`);
    });
  }
  const stream = obj.stream === undefined ? undefined : parseStream(obj.stream, `${path}.stream`, prefix, p);
  const verdictCache = typeof obj.verdictCache === 'boolean' ? obj.verdictCache : undefined;
  const name = p.string(obj, 'name', path, prefix);
  const methods = parseMethods(obj.methods, `${path}.methods`, p);
  if (scheme === undefined || options === undefined) return undefined;
  const publicBaseUrl = parseBaseUrl(obj.publicBaseUrl, `${path}.publicBaseUrl`, p);
  return { name, prefix, scheme, keys, options, stream, verdictCache, publicBaseUrl, methods };
}
