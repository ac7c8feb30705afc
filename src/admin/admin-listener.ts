import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Server as HttpsServer } from 'node:https';
import type { Logger } from '../base/log.js';
import type { AdminListenerConfig, SigningListenerConfig } from '../config/config.js';
import { isReady, type RunningListener, type ServiceState } from '../http/engine.js';
import { hardenedServer, listen, refuseVersion } from '../http/node-server.js';
import type { ServiceMetrics } from '../metrics/exposition.js';
import { type IpRange, parseIpRange } from '../request/client-ip.js';
import { adminClient } from './admin-client.js';
import { AllowedHosts } from './allowed-hosts.js';
import { problem, sendProblem } from './api-answers.js';
import { type SigningContext, serveSigningApi } from './signing-api.js';
import { isPagePath, serveSigningPage } from './signing-page.js';

const misdirected = 'this admin listener does not answer for that Host: name it in admin.allowedHosts';

/** A plain-text answer no cache keeps. */
function plain(res: ServerResponse, status: number, body: string): void {
  res.writeHead(status, {
    'Content-Type': 'text/plain; charset=utf-8',
    'Cache-Control': 'no-store',
    'Content-Length': Buffer.byteLength(body),
  });
  res.end(body);
}

/** The exposition, rendered when Prometheus asks (a failure answers 500 and is logged, rate-limited). */
function serveMetrics(res: ServerResponse, metrics: ServiceMetrics, logger: Logger): void {
  metrics.render().then(
    (text) => {
      if (res.destroyed) return;
      res.writeHead(200, {
        'Content-Type': metrics.contentType,
        'Cache-Control': 'no-store',
        'Content-Length': Buffer.byteLength(text),
      });
      res.end(text);
    },
    (error: unknown) => {
      logger.limited('metrics-error', 'error', 'cannot render metrics', { error: String(error) });
      if (!res.destroyed) plain(res, 500, 'metrics unavailable\n');
    },
  );
}

/**
 * The page and the API for a listener: true when `path` was theirs (answered, or refused for
 * another Host: DNS rebinding), false for the listener's other paths.
 */
function signingHandler(
  signing: SigningContext,
  hosts: AllowedHosts,
  trusted: readonly IpRange[],
  logger: Logger,
): (req: IncomingMessage, res: ServerResponse, path: string) => boolean {
  return (req, res, path) => {
    const api = path.startsWith('/api/');
    if (!api && !isPagePath(path)) return false;
    // A reload that removed `signing` took the page and the API away (a restart brings them back).
    if (signing.current().config.signing === undefined) return false;
    if (!hosts.allows(req.headers.host, signing.current().config)) {
      refuseHost(req, res, path, trusted, logger, api);
      return true;
    }
    if (serveSigningPage(signing, req, res, path, trusted)) return true;
    if (!api) return false;
    serveSigningApi(signing, req, res, path, trusted).catch((error: unknown) => {
      logger.limited('signing-error', 'error', 'signing API: internal error', {
        error: String((error as Error)?.stack ?? error),
      });
      if (!res.headersSent) sendProblem(res, problem('internal-error', 500, 'internal error (logged)'));
    });
    return true;
  };
}

function refuseHost(
  req: IncomingMessage,
  res: ServerResponse,
  path: string,
  trusted: readonly IpRange[],
  logger: Logger,
  api: boolean,
): void {
  logger.limited('admin-host', 'warn', 'admin listener: request for another host refused', {
    host: req.headers.host?.slice(0, 256),
    path: path.slice(0, 256),
    caller: adminClient(req, trusted).address,
  });
  if (api) sendProblem(res, problem('misdirected-request', 421, misdirected));
  else plain(res, 421, `${misdirected}\n`);
}

/**
 * The admin listener (/healthz, /readyz, /metrics, and with `signing` on it the signing page and
 * API), always on node:http whatever the auth engine: it is not on the hot path, and one
 * implementation answers HEAD like GET everywhere. What can be read or done here (/metrics, the
 * page, the API) answers only for the listener's own host names (AllowedHosts: DNS rebinding);
 * the probes answer whatever Host they name, and reveal nothing.
 */
export function listenAdmin(
  admin: AdminListenerConfig,
  state: ServiceState,
  metrics: ServiceMetrics,
  logger: Logger,
  signing?: SigningContext,
): Promise<RunningListener> {
  const trusted = admin.trustedProxies.map((text) => parseIpRange(text)!);
  const hosts = new AllowedHosts(admin);
  const signingHere = signing === undefined ? undefined : signingHandler(signing, hosts, trusted, logger);
  const server = hardenedServer('admin', logger, (req, res) => {
    if (refuseVersion(req, res)) return;
    const path = req.url?.split('?')[0] ?? '';
    if (signingHere?.(req, res, path)) return;
    if (path === '/metrics' && !hosts.allows(req.headers.host, signing?.current().config)) {
      refuseHost(req, res, path, trusted, logger, false);
      return;
    }
    if (req.method !== 'GET' && req.method !== 'HEAD') plain(res, 404, 'not found\n');
    else if (path === '/healthz') plain(res, 200, 'ok\n');
    else if (path === '/readyz') isReady(state) ? plain(res, 200, 'ready\n') : plain(res, 503, 'not ready\n');
    else if (path === '/metrics') serveMetrics(res, metrics, logger);
    else plain(res, 404, 'not found\n');
  });
  // Signing requests carry a body: allow it more than the head limit of the auth listeners.
  server.requestTimeout = 10_000;
  return listen(server, 'admin', admin.host, admin.port);
}

/** The signing listener: its TLS certificate can be swapped (a reload reads the files again). */
export interface SigningListener extends RunningListener {
  /** Serves new connections with this certificate and key (https listeners only). */
  reloadTls(tls: { readonly cert: Buffer; readonly key: Buffer } | undefined): void;
}

/**
 * `signing.listener`: the page and the API on a listener of their own, over https when given
 * certificate files, so they can face colleagues while /metrics and the probes stay on the
 * admin listener's private network. Nothing else answers here.
 */
export async function listenSigning(
  listener: SigningListenerConfig,
  tls: { readonly cert: Buffer; readonly key: Buffer } | undefined,
  signing: SigningContext,
  logger: Logger,
): Promise<SigningListener> {
  const trusted = listener.trustedProxies.map((text) => parseIpRange(text)!);
  const handle = signingHandler(signing, new AllowedHosts(listener), trusted, logger);
  const server = hardenedServer(
    'signing',
    logger,
    (req, res) => {
      if (refuseVersion(req, res)) return;
      const path = req.url?.split('?')[0] ?? '';
      if (!handle(req, res, path)) plain(res, 404, 'not found\n');
    },
    tls,
  );
  server.requestTimeout = 10_000;
  const running = await listen(server, 'signing', listener.host, listener.port);
  return {
    ...running,
    reloadTls(next) {
      if (next !== undefined && tls !== undefined)
        (server as unknown as HttpsServer).setSecureContext({ cert: next.cert, key: next.key });
    },
  };
}
