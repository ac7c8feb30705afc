import type { Problems } from '../base/problems.js';
import type { AuthListenerConfig, GrpcListenerConfig } from './config.js';

const listenerFields = [
  'name',
  'host',
  'port',
  'protocol',
  'uriHeader',
  'pathPrefix',
  'clientIpHeader',
  'clientIpHop',
  'clientIpInPath',
  'methodHeader',
  'expiredStatus',
  'cacheMaxAgeSec',
  'handshakeTimeoutMs',
  'idleTimeoutMs',
  'requestTimeoutMs',
  'maxConnections',
];

/** The gRPC listener's connection limits; HTTP listeners have fixed ones (src/http/node-server.ts). */
const grpcLimitFields = ['handshakeTimeoutMs', 'idleTimeoutMs', 'requestTimeoutMs', 'maxConnections'];

/**
 * The client IP headers Envoy itself sets in a gRPC check (x-forwarded-for: the address it appends
 * with use_remote_address). Every other header there is the client's own: Envoy forwards the
 * request's headers and, unlike HTTP mode's headers_to_add, adds none.
 */
const envoyClientIpHeaders = ['x-forwarded-for', 'x-envoy-external-address'];

/** An HTTP listener, or (`"protocol": "envoy-grpc"`) an Envoy gRPC listener. */
export function parseListener(
  raw: unknown,
  path: string,
  p: Problems,
): { protocol: 'http'; listener: AuthListenerConfig } | { protocol: 'envoy-grpc'; listener: GrpcListenerConfig } {
  const obj = p.object(raw, path, listenerFields) ?? {};
  const expiredStatus = obj.expiredStatus === undefined ? 410 : obj.expiredStatus;
  if (expiredStatus !== 410 && expiredStatus !== 403) p.add(`${path}.expiredStatus`, 'must be 410 or 403');
  const protocol = obj.protocol === undefined ? 'http' : obj.protocol;
  if (protocol !== 'http' && protocol !== 'envoy-grpc') p.add(`${path}.protocol`, 'must be "http" or "envoy-grpc"');
  const clientIpHeader = p.headerName(obj, 'clientIpHeader', path, false);
  const clientIpHop = obj.clientIpHop === undefined ? undefined : p.integer(obj, 'clientIpHop', path, 1, 1, 16);
  if (clientIpHop !== undefined && clientIpHeader === undefined) {
    p.add(`${path}.clientIpHop`, 'needs clientIpHeader (the header with the address list, e.g. X-Forwarded-For)');
  }
  const base = {
    name: p.string(obj, 'name', path, protocol === 'envoy-grpc' ? 'envoy-grpc' : 'auth'),
    host: p.string(obj, 'host', path, '127.0.0.1'),
    port: p.integer(obj, 'port', path, protocol === 'envoy-grpc' ? 8081 : 8080, 0, 65535),
    clientIpHeader,
    clientIpHop,
    expiredStatus: expiredStatus === 403 ? (403 as const) : (410 as const),
    cacheMaxAgeSec: p.integer(obj, 'cacheMaxAgeSec', path, 60, 0, 86_400),
  };
  if (protocol === 'envoy-grpc') {
    for (const field of ['uriHeader', 'pathPrefix']) {
      if (obj[field] !== undefined)
        p.add(`${path}.${field}`, 'does not apply to "envoy-grpc" (the URI is attributes.request.http.path)');
    }
    if (obj.methodHeader !== undefined)
      p.add(`${path}.methodHeader`, 'does not apply to "envoy-grpc" (the method is attributes.request.http.method)');
    if (clientIpHeader !== undefined && clientIpHeader !== '' && !envoyClientIpHeaders.includes(clientIpHeader)) {
      p.add(
        `${path}.clientIpHeader`,
        `"${clientIpHeader}" is whatever the client sent (in gRPC mode Envoy forwards the client's headers and sets only x-forwarded-for and x-envoy-external-address): use "x-forwarded-for" with "clientIpHop": 1 (the address Envoy appends with use_remote_address: true), or "x-envoy-external-address"`,
      );
    }
    const limits = {
      handshakeTimeoutMs: p.integer(obj, 'handshakeTimeoutMs', path, 2000, 100, 60_000),
      idleTimeoutMs: p.integer(obj, 'idleTimeoutMs', path, 10_000, 1000, 3_600_000),
      requestTimeoutMs: p.integer(obj, 'requestTimeoutMs', path, 2000, 100, 60_000),
      maxConnections: p.integer(obj, 'maxConnections', path, 512, 1, 100_000),
    };
    return { protocol, listener: { ...base, ...limits } };
  }
  for (const field of grpcLimitFields) {
    if (obj[field] !== undefined)
      p.add(`${path}.${field}`, 'applies to "envoy-grpc" listeners only (HTTP listeners: 10 s idle, 1.5 s for a request head)');
  }
  if ((obj.uriHeader === undefined) === (obj.pathPrefix === undefined)) {
    p.add(path, 'needs exactly one of "uriHeader" (nginx, Traefik, Caddy) or "pathPrefix" (Envoy HTTP mode)');
  }
  const uriHeader = p.headerName(obj, 'uriHeader', path, false);
  let pathPrefix: string | undefined;
  if (obj.pathPrefix !== undefined) {
    pathPrefix = p.string(obj, 'pathPrefix', path);
    if (pathPrefix !== '' && !/^(\/[A-Za-z0-9._~-]+)+$/.test(pathPrefix)) {
      p.add(`${path}.pathPrefix`, 'must be a path like "/tokengate" (segments of letters, digits and ._~-; no trailing "/")');
    }
  }
  if (obj.clientIpInPath !== undefined && typeof obj.clientIpInPath !== 'boolean')
    p.add(`${path}.clientIpInPath`, 'must be true or false');
  const clientIpInPath = obj.clientIpInPath === true;
  if (clientIpInPath && pathPrefix === undefined)
    p.add(`${path}.clientIpInPath`, 'needs pathPrefix (the target is <pathPrefix>/<client ip><original uri>)');
  if (clientIpInPath && clientIpHeader !== undefined)
    p.add(`${path}.clientIpInPath`, 'and clientIpHeader are two client IP sources: keep one');
  // Undefined: the auth request's own method (Envoy HTTP mode); nginx, Traefik and Caddy send GET and name the method in a header.
  const methodHeader = p.headerName(obj, 'methodHeader', path, false);
  if (methodHeader !== undefined && methodHeader !== '' && (methodHeader === uriHeader || methodHeader === clientIpHeader))
    p.add(`${path}.methodHeader`, 'must be a header of its own, not the URI or client IP source');
  return { protocol: 'http', listener: { ...base, uriHeader, pathPrefix, clientIpInPath, methodHeader } };
}
