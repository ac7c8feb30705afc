import type { Fields, Problems } from '../base/problems.js';
import type { AuthListenerConfig, GrpcListenerConfig, ListenerBase } from './config.js';

/** The gRPC listener's connection limits; HTTP listeners have fixed ones (src/http/node-server.ts). */
const grpcLimitFields = ['handshakeTimeoutMs', 'idleTimeoutMs', 'requestTimeoutMs', 'maxConnections'];

/** The fields of HTTP listeners only: where the original URI and method come from. */
const httpSourceFields = ['uriHeader', 'pathPrefix', 'methodHeader', 'clientIpInPath'];

/**
 * The client IP headers Envoy itself sets in a gRPC check (x-forwarded-for: the address it appends
 * with use_remote_address). Every other header there is the client's own: Envoy forwards the
 * request's headers and, unlike HTTP mode's headers_to_add, adds none.
 */
const envoyClientIpHeaders = ['x-forwarded-for', 'x-envoy-external-address'];

const pathPrefixPattern = /^(\/[A-Za-z0-9._~-]+)+$/;

type Protocol = 'http' | 'envoy-grpc';

/** What both kinds of listener read. */
function parseBase(fields: Fields, protocol: Protocol): ListenerBase {
  const clientIpHeader = fields.headerName('clientIpHeader');
  const clientIpHop = fields.optionalInt('clientIpHop', 1, 16);
  if (clientIpHop !== undefined && clientIpHeader === undefined) {
    fields.add('clientIpHop', 'needs clientIpHeader (the header with the address list, e.g. X-Forwarded-For)');
  }
  const expiredStatus = fields.value('expiredStatus') ?? 410;
  if (expiredStatus !== 410 && expiredStatus !== 403) fields.add('expiredStatus', 'must be 410 or 403');
  return {
    name: fields.string('name', protocol === 'envoy-grpc' ? 'envoy-grpc' : 'auth'),
    host: fields.string('host', '127.0.0.1'),
    port: fields.int('port', protocol === 'envoy-grpc' ? 8081 : 8080, 0, 65535),
    clientIpHeader,
    clientIpHop,
    expiredStatus: expiredStatus === 403 ? 403 : 410,
    cacheMaxAgeSec: fields.int('cacheMaxAgeSec', 60, 0, 86_400),
  };
}

/** An Envoy gRPC listener: the URI and method come from the check's attributes, never a header. */
function parseGrpc(fields: Fields, base: ListenerBase): GrpcListenerConfig {
  for (const field of ['uriHeader', 'pathPrefix']) {
    if (fields.has(field)) fields.add(field, 'does not apply to "envoy-grpc" (the URI is attributes.request.http.path)');
  }
  if (fields.has('methodHeader'))
    fields.add('methodHeader', 'does not apply to "envoy-grpc" (the method is attributes.request.http.method)');
  const { clientIpHeader } = base;
  if (clientIpHeader !== undefined && !envoyClientIpHeaders.includes(clientIpHeader)) {
    fields.add(
      'clientIpHeader',
      `"${clientIpHeader}" is whatever the client sent (in gRPC mode Envoy forwards the client's headers and sets only x-forwarded-for and x-envoy-external-address): use "x-forwarded-for" with "clientIpHop": 1 (the address Envoy appends with use_remote_address: true), or "x-envoy-external-address"`,
    );
  }
  return {
    ...base,
    handshakeTimeoutMs: fields.int('handshakeTimeoutMs', 2000, 100, 60_000),
    idleTimeoutMs: fields.int('idleTimeoutMs', 10_000, 1000, 3_600_000),
    requestTimeoutMs: fields.int('requestTimeoutMs', 2000, 100, 60_000),
    maxConnections: fields.int('maxConnections', 512, 1, 100_000),
  };
}

/** An HTTP listener: the original URI from a header or the target, the client IP from a header or the target. */
function parseHttp(fields: Fields, base: ListenerBase): AuthListenerConfig {
  for (const field of grpcLimitFields) {
    if (fields.has(field))
      fields.add(field, 'applies to "envoy-grpc" listeners only (HTTP listeners: 10 s idle, 1.5 s for a request head)');
  }
  fields.exactlyOne(
    ['uriHeader', 'pathPrefix'],
    'needs exactly one of "uriHeader" (nginx, Traefik, Caddy) or "pathPrefix" (Envoy HTTP mode)',
  );
  const uriHeader = fields.headerName('uriHeader');
  const pathPrefix = fields.optionalString('pathPrefix');
  if (pathPrefix !== undefined && !pathPrefixPattern.test(pathPrefix)) {
    fields.add('pathPrefix', 'must be a path like "/tokengate" (segments of letters, digits and ._~-; no trailing "/")');
  }
  const clientIpInPath = fields.bool('clientIpInPath', false);
  if (clientIpInPath && pathPrefix === undefined)
    fields.add('clientIpInPath', 'needs pathPrefix (the target is <pathPrefix>/<client ip><original uri>)');
  if (clientIpInPath && base.clientIpHeader !== undefined)
    fields.add('clientIpInPath', 'and clientIpHeader are two client IP sources: keep one');
  // Undefined: the auth request's own method (Envoy HTTP mode); nginx, Traefik and Caddy send GET and name the method in a header.
  const methodHeader = fields.headerName('methodHeader');
  if (methodHeader !== undefined && (methodHeader === uriHeader || methodHeader === base.clientIpHeader))
    fields.add('methodHeader', 'must be a header of its own, not the URI or client IP source');
  return { ...base, uriHeader, pathPrefix, clientIpInPath, methodHeader };
}

/** An HTTP listener, or (`"protocol": "envoy-grpc"`) an Envoy gRPC listener. */
export function parseListener(
  raw: unknown,
  path: string,
  p: Problems,
): { protocol: 'http'; listener: AuthListenerConfig } | { protocol: 'envoy-grpc'; listener: GrpcListenerConfig } {
  const fields = p.fields(raw, path);
  const protocol = fields.oneOf('protocol', ['http', 'envoy-grpc'], 'http');
  const base = parseBase(fields, protocol);
  const parsed =
    protocol === 'envoy-grpc' ? { protocol, listener: parseGrpc(fields, base) } : { protocol, listener: parseHttp(fields, base) };
  // The other kind's fields are read (and refused) above: only names neither kind knows are unknown.
  for (const field of [...grpcLimitFields, ...httpSourceFields]) fields.value(field);
  fields.done();
  return parsed;
}
