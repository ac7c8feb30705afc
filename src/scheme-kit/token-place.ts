import type { Fields } from '../base/problems.js';
import { isRejection, type Rejection, rejection, Verdict } from '../base/verdict.js';
import { cookieValue } from '../request/cookie-value.js';
import type { TokenHeaders } from '../request/token-headers.js';
import { tokenParamReader } from '../request/token-params.js';

/** Where a route's token travels: a query parameter, a cookie, or a request header of its own. */
export type Carrier = 'query' | 'cookie' | 'header';

export interface TokenPlace {
  readonly carrier: Carrier;
  /** Parameter or cookie name as configured; a header name in lowercase. */
  readonly name: string;
}

const noToken = rejection(Verdict.missing, 'no token');
const repeatedHeader = rejection(Verdict.malformed, 'the token header or cookie appears more than once');

/**
 * Reads the raw token text from where the route says it travels: one query parameter (raw, never
 * percent-decoded), one cookie, or one header; absent is `missing`, repeated is `malformed`.
 */
export function tokenReader({ carrier, name }: TokenPlace): (query: string, headers: TokenHeaders) => string | Rejection {
  if (carrier === 'query') {
    const read = tokenParamReader([name]);
    return (query) => {
      const values = read(query);
      return isRejection(values) ? values : (values[0] as string);
    };
  }
  const header = carrier === 'cookie' ? 'cookie' : name;
  return (_query, headers) => {
    const raw = headers.get(header);
    if (raw === null) return repeatedHeader;
    const value = raw === undefined ? undefined : carrier === 'cookie' ? cookieValue(raw, name) : raw;
    if (value === null) return repeatedHeader;
    return value === undefined || value === '' ? noToken : value;
  };
}

/** The request header a route with this place reads, if any (what the engines must capture). */
export function tokenHeadersOf({ carrier, name }: TokenPlace): readonly string[] {
  return carrier === 'query' ? [] : [carrier === 'cookie' ? 'cookie' : name];
}

const carriers: readonly Carrier[] = ['query', 'cookie', 'header'];
const namePattern = /^[A-Za-z0-9_-]{1,64}$/;

/**
 * The `carrier` and `name` options a format with a movable token reads, checked alike for every
 * format; `defaults` names the token per carrier.
 */
export function readTokenPlace(fields: Fields, defaults: Readonly<Record<Carrier, string>>): TokenPlace {
  const carrier = fields.oneOf('carrier', carriers, 'query');
  const name = fields.matching('name', namePattern, 'must be a parameter, cookie or header name of letters, digits, "-" and "_"');
  if (carrier === 'header' && name?.includes('_')) {
    fields.add(
      'name',
      'header names with "_" (such as __token__) are dropped by nginx and other proxies (and hang the uWS engine): choose another name',
    );
  }
  const chosen = name ?? defaults[carrier];
  return { carrier, name: carrier === 'header' ? chosen.toLowerCase() : chosen };
}
