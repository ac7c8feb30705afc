/**
 * An origin that reads paths as servlet containers do (Tomcat's CoyoteAdapter, Jetty): the
 * ";" parameters of each raw segment cut off, then escapes decoded, then dot-segments and empty
 * segments resolved; an encoded or raw "\" or "/" inside a segment, NUL, or a climb above the
 * root is 400. It serves the origin's files from disk, for the door where nginx.example.conf
 * proxies to an application server instead of serving files itself.
 */
import { readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { join } from 'node:path';
import type { Origin } from './oracle-origin.js';

/** The file path a servlet container reads in a raw request target, or undefined where it answers 400. */
export function servletPath(target: string): string | undefined {
  let path = target.replace(/^[a-zA-Z][a-zA-Z0-9+.-]*:\/\/[^/?#]*/, '');
  const end = path.search(/[?#]/);
  if (end >= 0) path = path.slice(0, end);
  if (!path.startsWith('/')) return undefined;
  const resolved: string[] = [];
  const segments = path.split('/').slice(1);
  for (const [i, raw] of segments.entries()) {
    const cut = raw.includes(';') ? raw.slice(0, raw.indexOf(';')) : raw;
    let segment: string;
    try {
      segment = decodeURIComponent(cut);
    } catch {
      return undefined;
    }
    if (/[/\\\0]/.test(segment)) return undefined;
    const last = i === segments.length - 1;
    if (segment === '..') {
      if (resolved.pop() === undefined) return undefined;
      if (last) resolved.push('');
    } else if (segment === '.' || (segment === '' && !last)) {
      if (last) resolved.push('');
    } else resolved.push(segment);
  }
  return `/${resolved.join('/')}`;
}

/** Serves `origin` on a loopback port as a servlet container would read the paths. */
export function startServletOrigin(origin: Origin): Promise<{ port: number; stop(): Promise<void> }> {
  const server: Server = createServer((request, response) => {
    const path = servletPath(request.url ?? '');
    if (path === undefined) {
      response.writeHead(400, { 'content-length': '0' }).end();
      return;
    }
    const file = origin.byPath.get(path.endsWith('/') ? `${path}index.html` : path);
    if (request.method !== 'GET' && request.method !== 'HEAD') {
      response.writeHead(file === undefined ? 404 : 405, { 'content-length': '0' }).end();
      return;
    }
    if (file === undefined) {
      response.writeHead(404, { 'content-length': '0' }).end();
      return;
    }
    const body = readFileSync(join(origin.root, file.path));
    response.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': String(body.length) });
    response.end(request.method === 'HEAD' ? undefined : body);
  });
  return new Promise((resolve) => {
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      resolve({
        port: typeof address === 'object' && address !== null ? address.port : 0,
        stop: () => new Promise((done) => server.close(() => done())),
      });
    });
  });
}
