import { createServer } from 'node:net';

/**
 * Binds `host:port` for a moment without SO_REUSEPORT and returns the port (port 0: one the
 * kernel picks). Worker threads listen with SO_REUSEPORT (uws, and node from Node 22.12), which
 * would also let it silently join a port that another tokengate (a stale instance, a second
 * deploy) holds; this plain bind fails instead, so the service refuses to start (exit 71).
 */
export function claimPort(host: string, port: number): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', (error: NodeJS.ErrnoException) =>
      reject(new Error(`cannot listen on ${host}:${port} (${error.code ?? error.message}: address in use or not local)`)),
    );
    server.listen({ host, port, exclusive: true }, () => {
      const bound = (server.address() as { port: number }).port;
      server.close(() => resolve(bound));
    });
  });
}
