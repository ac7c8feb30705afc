import { type Rejection, rejection, Verdict } from '../base/verdict.js';
import { maxUriBytes } from './request-target.js';

/**
 * nginx's `$uri` and `$args` of a raw request target (`$request_uri`), computed as nginx 1.22
 * computes them (ngx_http_parse_request_line, then ngx_http_parse_complex_uri with
 * `merge_slashes on`, the default): percent-escapes decoded ("%2F" included, except that "%25",
 * "%23" and "%3F" stay the plain bytes "%", "#" and "?"), "." and ".." segments resolved
 * (decoded ones too), runs of "/" merged, the path cut at the first raw "?". What nginx answers
 * 400 to is refused here: a malformed escape, "%00", ".." above the root, a control byte or
 * space. Refused here although nginx accepts them: a raw "#" (nginx drops it and what follows,
 * so the URL a proxy or origin behind it reads is not the one checked; clients never send one)
 * and raw non-ASCII (clients percent-encode; the engines refuse it before this).
 *
 * Used only by formats that sign `$uri` (nginx `secure_link_md5`): for them the file nginx serves
 * is named by this value, so the signed bytes and the served file agree. Every other format
 * signs the raw path and refuses these spellings instead (request-target.ts).
 */
export interface NginxTarget {
  /** `$uri` as bytes, one character per byte (a latin1 string): "%C3%A9" is two characters. */
  readonly path: string;
  /** `$args`: raw, never decoded. */
  readonly query: string;
}

const tooLong = rejection(Verdict.badUri, `the URI is longer than ${maxUriBytes} bytes`);
const notOrigin = rejection(Verdict.badUri, 'the URI does not start with "/" (absolute-form or asterisk-form target)');
const badByte = rejection(
  Verdict.badUri,
  'the URI contains a space, a control byte or raw non-ASCII (nginx answers 400 to the first two; percent-encode the third)',
);
const badEscape = rejection(Verdict.badUri, 'the URI contains "%" not followed by two hex digits (nginx answers 400)');
const nulEscape = rejection(Verdict.badUri, 'the path contains "%00" (nginx answers 400)');
const fragment = rejection(Verdict.badUri, 'the URI contains "#" (nginx would drop it and what follows)');
const aboveRoot = rejection(Verdict.badUri, 'the path climbs above the root with ".." (nginx answers 400)');

const SLASH = 0x2f;
const DOT = 0x2e;
const PERCENT = 0x25;
const QUESTION = 0x3f;
const HASH = 0x23;

// States of ngx_http_parse_complex_uri.
const USUAL = 0;
const AFTER_SLASH = 1;
const AFTER_DOT = 2;
const AFTER_DOT_DOT = 3;

function hexValue(code: number): number {
  if (code >= 48 && code <= 57) return code - 48;
  const lower = code | 0x20;
  if (lower >= 97 && lower <= 102) return lower - 87;
  return -1;
}

const scratch = new Uint8Array(maxUriBytes + 1);
const scratchBuffer = Buffer.from(scratch.buffer, scratch.byteOffset, scratch.byteLength);

/**
 * Splits and normalises a raw request target as nginx does. One pass over the target, each
 * byte looked at a bounded number of times except the backward scan of a "..", which only
 * walks back over output it removes (linear overall).
 */
export function nginxTarget(uri: string): NginxTarget | Rejection {
  const length = uri.length;
  if (length > maxUriBytes) return tooLong;
  if (uri.charCodeAt(0) !== SLASH) return notOrigin;
  let end = length;
  let simple = true;
  for (let i = 0; i < length; i++) {
    const code = uri.charCodeAt(i);
    if (code <= 0x20 || code >= 0x7f) return badByte;
    if (code === HASH) return fragment;
    if (i >= end) continue;
    if (code === QUESTION) {
      end = i;
    } else if (code === PERCENT || ((code === DOT || code === SLASH) && uri.charCodeAt(i - 1) === SLASH)) {
      simple = false;
    }
  }
  const query = end < length ? uri.slice(end + 1) : '';
  if (simple) return { path: uri.slice(0, end), query };

  const out = scratch;
  let u = 0;
  let state = USUAL;
  let i = 0;
  while (i < end) {
    let code = uri.charCodeAt(i++);
    if (code === PERCENT) {
      const high = i < end ? hexValue(uri.charCodeAt(i)) : -1;
      const low = i + 1 < end ? hexValue(uri.charCodeAt(i + 1)) : -1;
      if (high < 0 || low < 0) return badEscape;
      i += 2;
      code = (high << 4) | low;
      if (code === 0) return nulEscape;
      // nginx writes these three decoded bytes as plain text, never as syntax.
      if (code === PERCENT || code === HASH || code === QUESTION) {
        out[u++] = code;
        state = USUAL;
        continue;
      }
    }
    if (code === SLASH) {
      if (state === AFTER_SLASH) continue; // merge_slashes
      if (state === AFTER_DOT) {
        state = AFTER_SLASH; // "/./": the "." goes, the "/" before it stays
        u--;
        continue;
      }
      if (state === AFTER_DOT_DOT) {
        u = climb(out, u);
        if (u < 0) return aboveRoot;
        state = AFTER_SLASH;
        continue;
      }
      out[u++] = code;
      state = AFTER_SLASH;
      continue;
    }
    if (code === DOT && (state === AFTER_SLASH || state === AFTER_DOT)) {
      out[u++] = code;
      state = state === AFTER_SLASH ? AFTER_DOT : AFTER_DOT_DOT;
      continue;
    }
    out[u++] = code;
    state = USUAL;
  }
  // The end of the path (or a raw "?") closes a "." or ".." segment like a "/".
  if (state === AFTER_DOT) u--;
  else if (state === AFTER_DOT_DOT) {
    u = climb(out, u);
    if (u < 0) return aboveRoot;
  }
  return { path: scratchBuffer.toString('latin1', 0, u), query };
}

/** After "/..": removes it and the segment before it, keeping that segment's leading "/"; -1 above the root. */
function climb(out: Uint8Array, u: number): number {
  // out[u - 3] is the "/" before "..": step over it, then back to the previous "/".
  let p = u - 4;
  for (;;) {
    if (p < 0) return -1;
    if (out[p] === SLASH) return p + 1;
    p--;
  }
}
