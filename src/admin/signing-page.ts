/**
 * The secure-link generator page (docs/signing.md): one HTML page, one script and one style
 * sheet served from dist/admin/assets, nothing from elsewhere (a strict Content-Security-Policy
 * says so to the browser). Logging in with the access token opens a session (an HttpOnly,
 * SameSite=Strict cookie); the page then calls the signing API with it.
 */
import { readFileSync } from 'node:fs';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { TLSSocket } from 'node:tls';
import type { IpRange } from '../request/client-ip.js';
import { adminClient, reachedOverHttps } from './admin-client.js';
import { authenticate, type SigningContext, sameOrigin } from './signing-api.js';

const assetsDir = new URL('./assets/', import.meta.url);
const assets: Record<string, { file: string; type: string }> = {
  '/': { file: 'index.html', type: 'text/html; charset=utf-8' },
  '/login': { file: 'login.html', type: 'text/html; charset=utf-8' },
  '/assets/app.js': { file: 'app.js', type: 'text/javascript; charset=utf-8' },
  '/assets/app.css': { file: 'app.css', type: 'text/css; charset=utf-8' },
};
const loaded = new Map<string, Buffer>();

/** Whether the page serves `path` (for some method): the paths the admin listener's Host check guards. */
export const isPagePath = (path: string) => assets[path] !== undefined || path === '/logout' || path === '/favicon.ico';

const securityHeaders = {
  'Content-Security-Policy':
    "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
  'X-Content-Type-Options': 'nosniff',
  // same-origin, not no-referrer: with no-referrer Chromium sends "Origin: null" on the login form's POST.
  'Referrer-Policy': 'same-origin',
  'Cache-Control': 'no-store',
};

function sendAsset(res: ServerResponse, path: string, status = 200, head = false): void {
  const asset = assets[path]!;
  let body = loaded.get(asset.file);
  if (body === undefined) {
    body = readFileSync(new URL(asset.file, assetsDir));
    loaded.set(asset.file, body);
  }
  res.writeHead(status, { ...securityHeaders, 'Content-Type': asset.type, 'Content-Length': body.length });
  res.end(head ? undefined : body);
}

function redirect(res: ServerResponse, location: string, cookie?: string): void {
  res.writeHead(303, {
    ...securityHeaders,
    Location: location,
    'Content-Length': 0,
    ...(cookie ? { 'Set-Cookie': cookie } : {}),
  });
  res.end();
}

/** The login form's body: `token=<access token>`, form-encoded, at most 1 KiB. */
function readToken(req: IncomingMessage): Promise<string | undefined> {
  return new Promise((resolve) => {
    let body = '';
    req.setEncoding('utf8');
    req.on('data', (chunk: string) => {
      body += chunk;
      if (body.length > 1024) req.destroy();
    });
    req.on('end', () => resolve(new URLSearchParams(body).get('token') ?? undefined));
    req.on('error', () => resolve(undefined));
    req.on('close', () => resolve(undefined));
  });
}

/** Serves the page's paths; false when `path` is not one of them. `trusted`: the trusted proxies' ranges. */
export function serveSigningPage(
  ctx: SigningContext,
  req: IncomingMessage,
  res: ServerResponse,
  path: string,
  trusted: readonly IpRange[],
): boolean {
  const head = req.method === 'HEAD';
  const get = req.method === 'GET' || head;
  if (path.startsWith('/assets/') && get && assets[path] !== undefined) {
    sendAsset(res, path, 200, head);
    return true;
  }
  if (path === '/favicon.ico' && get) {
    // No icon: an empty answer instead of a 404 in every browser console.
    res.writeHead(204, securityHeaders);
    res.end();
    return true;
  }
  if (path === '/' && get) {
    // A page session, or a single-sign-on user a signer names (the proxy in front vouches for it).
    if ('signer' in authenticate(ctx, req, adminClient(req, trusted))) sendAsset(res, '/', 200, head);
    else redirect(res, '/login');
    return true;
  }
  if (path === '/login' && get) {
    sendAsset(res, '/login', 200, head);
    return true;
  }
  if ((path === '/login' || path === '/logout') && req.method === 'POST') {
    if (!sameOrigin(req, true)) {
      res.writeHead(403, { ...securityHeaders, 'Content-Type': 'text/plain; charset=utf-8' });
      res.end('cross-origin requests are refused\n');
      return true;
    }
    const over = reachedOverHttps(req, trusted) ? 'https' : 'http';
    // The listener's own TLS: its session cookie is `__Host-` (sessions.ts).
    const tls = (req.socket as Partial<TLSSocket>).encrypted === true;
    if (path === '/logout') {
      redirect(res, '/login', ctx.sessions.close(req.headers.cookie, over, tls));
      return true;
    }
    const client = adminClient(req, trusted);
    void readToken(req).then((token) => {
      if (res.headersSent) return;
      const result = ctx.access.check(token === '' ? undefined : token, client.key);
      if (typeof result === 'object') {
        const credential = ctx.credentialOf(result.signer)!;
        ctx.logger.log('info', 'signing page: login', { signer: result.signer, caller: client.address, proxy: client.proxy });
        return redirect(res, '/', ctx.sessions.open(over, { signer: result.signer, credential }, tls));
      }
      if (result !== 'missing') {
        ctx.logger.limited('signing-access', 'warn', 'signing page: login refused', {
          caller: client.address,
          proxy: client.proxy,
          result,
        });
      }
      redirect(res, result === 'limited' ? '/login?error=limited' : '/login?error=wrong');
    });
    return true;
  }
  return false;
}
