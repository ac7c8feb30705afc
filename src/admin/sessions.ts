import { hash, randomBytes } from 'node:crypto';
import { cookieValue } from '../request/cookie-value.js';

/**
 * Who logged in: the signer, and what it proved itself with (`credential`: a digest of its token,
 * so a session ends when the signer's token is rotated or the signer removed; checked by the caller).
 */
export interface SessionLogin {
  readonly signer: string;
  readonly credential: string;
}

/** How long a page login lasts. */
const sessionMs = 12 * 3600 * 1000;
const maxSessions = 1000;
export const sessionCookie = 'tokengate_session';
/**
 * On a listener that speaks TLS itself the cookie has the `__Host-` prefix: browsers keep it only
 * from a secure origin, for this host alone, so a sibling subdomain cannot plant a session.
 * (Behind a proxy that ends TLS the listener cannot know every request came over https, so its
 * cookie keeps the plain name: one name per listener, never a login that loops.)
 */
const cookieName = (tls: boolean) => (tls ? `__Host-${sessionCookie}` : sessionCookie);
const attributes = { http: '', https: '; Secure' } as const;

/**
 * Logins of the signing page: a random id in an HttpOnly, SameSite=Strict cookie, kept here as
 * its SHA-256 only (memory only: a restart logs everyone out). Bounded: the oldest go first.
 * Over https the cookie is also `Secure`, so the browser never sends it over plain http; over
 * http (a loopback listener opened directly) it cannot be, or the browser would not keep it.
 */
export class Sessions {
  private readonly live = new Map<string, { readonly login: SessionLogin; readonly expires: number }>();

  /** A new session of `login` for a page reached `over` http or https; returns the Set-Cookie value. */
  open(over: 'http' | 'https', login: SessionLogin, tls = false, nowMs: number = Date.now()): string {
    const id = randomBytes(32).toString('base64url');
    if (this.live.size >= maxSessions) this.live.delete(this.live.keys().next().value!);
    this.live.set(hash('sha256', id, 'base64'), { login, expires: nowMs + sessionMs });
    return `${cookieName(tls)}=${id}; HttpOnly; SameSite=Strict; Path=/; Max-Age=${sessionMs / 1000}${attributes[tls ? 'https' : over]}`;
  }

  /** The login of the request's session, or undefined when its Cookie header holds no live one. */
  valid(cookieHeader: string | undefined, tls = false, nowMs: number = Date.now()): SessionLogin | undefined {
    const id = sessionIdOf(cookieHeader, tls);
    if (id === undefined) return undefined;
    const key = hash('sha256', id, 'base64');
    const session = this.live.get(key);
    if (session === undefined) return undefined;
    if (session.expires > nowMs) return session.login;
    this.live.delete(key);
    return undefined;
  }

  /** Ends the request's session; returns the Set-Cookie value that clears the cookie. */
  close(cookieHeader: string | undefined, over: 'http' | 'https', tls = false): string {
    const id = sessionIdOf(cookieHeader, tls);
    if (id !== undefined) this.live.delete(hash('sha256', id, 'base64'));
    return `${cookieName(tls)}=; HttpOnly; SameSite=Strict; Path=/; Max-Age=0${attributes[tls ? 'https' : over]}`;
  }
}

function sessionIdOf(cookieHeader: string | undefined, tls: boolean): string | undefined {
  const id = cookieHeader === undefined ? undefined : cookieValue(cookieHeader, cookieName(tls));
  return typeof id === 'string' && /^[A-Za-z0-9_-]{43}$/.test(id) ? id : undefined;
}
