import type { ServerResponse } from 'node:http';
import type { AdminListenerConfig } from '../config/config.js';
import { isReady, type RunningListener, type ServiceState } from '../http/engine.js';
import { hardenedServer, listen, refuseVersion } from '../http/node-server.js';
import type { Logger } from '../log.js';
import type { ServiceMetrics } from '../metrics/exposition.js';
import { type SigningContext, sendJson, serveSigningApi } from './signing-api.js';
import { serveSigningPage } from './signing-page.js';

/**
 * The admin listener (/healthz, /readyz, /metrics, and with `signing` the signing API), always
 * on node:http whatever the auth engine: it is not on the hot path, and one implementation
 * answers HEAD like GET everywhere.
 */
export function listenAdmin(
  admin: AdminListenerConfig,
  state: ServiceState,
  metrics: ServiceMetrics,
  logger: Logger,
  signing?: SigningContext,
): Promise<RunningListener> {
  const plain = (res: ServerResponse, status: number, body: string) => {
    res.writeHead(status, {
      'Content-Type': 'text/plain; charset=utf-8',
      'Cache-Control': 'no-store',
      'Content-Length': Buffer.byteLength(body),
    });
    res.end(body);
  };
  const server = hardenedServer('admin', logger, (req, res) => {
    if (refuseVersion(req, res)) return;
    const path = req.url?.split('?')[0] ?? '';
    if (signing !== undefined && serveSigningPage(signing, req, res, path)) return;
    if (signing !== undefined && path.startsWith('/api/')) {
      serveSigningApi(signing, req, res, path).catch((error: unknown) => {
        logger.limited('signing-error', 'error', 'signing API: internal error', {
          error: String((error as Error)?.stack ?? error),
        });
        if (!res.headersSent) sendJson(res, 500, { error: 'internal error' });
      });
      return;
    }
    if (req.method !== 'GET' && req.method !== 'HEAD') plain(res, 404, 'not found\n');
    else if (path === '/healthz') plain(res, 200, 'ok\n');
    else if (path === '/readyz') isReady(state) ? plain(res, 200, 'ready\n') : plain(res, 503, 'not ready\n');
    else if (path === '/metrics') {
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
    } else plain(res, 404, 'not found\n');
  });
  // Signing requests carry a body: allow it more than the head limit of the auth listeners.
  server.requestTimeout = 10_000;
  return listen(server, 'admin', admin.host, admin.port);
}
