import { type Rejection, rejection, Verdict } from './verdict.js';

/** Longest request target accepted (DESIGN.md §3.2); longer ones are denied before any parsing. */
export const maxUriBytes = 8192;

const tooLong = rejection(Verdict.badUri, `the URI is longer than ${maxUriBytes} bytes`);
const notOrigin = rejection(Verdict.badUri, 'the URI does not start with "/" (absolute-form or asterisk-form target)');
const fragment = rejection(Verdict.badUri, 'the URI contains "#"');
const doubleSlash = rejection(Verdict.badUri, 'the path contains "//"');
const dotSegment = rejection(Verdict.badUri, 'the path contains a dot-segment ("." or "..", raw or percent-encoded)');
const badEscape = rejection(Verdict.badUri, 'the URI contains "%" not followed by two hex digits');
const forbiddenEscape = rejection(
  Verdict.badUri,
  'the path percent-encodes "/", "\\", a control byte or a non-ASCII byte (%2F, %5C, %00-%1F, %7F, %80-%FF)',
);
const badPathChar = rejection(
  Verdict.badUri,
  'the path contains a character outside RFC 3986 pchar (raw non-ASCII, control, space, "\\", quote, brackets...)',
);
const badQueryChar = rejection(Verdict.badUri, 'the query contains a raw control, space or non-ASCII character');

/** The raw path and raw query of an origin-form request target; nothing is decoded. */
export interface RequestTarget {
  readonly path: string;
  readonly query: string;
}

// Character classes, indexed by char code < 128: 1 = allowed raw in the path, 2 = allowed raw in the query.
const PATH = 1;
const QUERY = 2;
const charClass = new Uint8Array(128);
{
  const pchar = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~!$&'()*+,;=:@/%";
  for (let c = 0x21; c < 0x7f; c++) charClass[c] = QUERY;
  charClass[0x23] = 0; // '#'
  for (const ch of pchar) charClass[ch.charCodeAt(0)] = PATH | QUERY;
}

function hexValue(code: number): number {
  if (code >= 48 && code <= 57) return code - 48;
  const lower = code | 0x20;
  if (lower >= 97 && lower <= 102) return lower - 87;
  return -1;
}

/** The byte a "%XY" escape at `i` encodes, or -1 when it is malformed. */
function escapedByte(text: string, i: number): number {
  if (i + 2 >= text.length) return -1;
  const high = hexValue(text.charCodeAt(i + 1));
  const low = hexValue(text.charCodeAt(i + 2));
  return high < 0 || low < 0 ? -1 : (high << 4) | low;
}

/**
 * Splits and checks a raw request target, exactly as the client sent it (nginx `$request_uri`).
 * The path is what legacy formats hash, so every form that an origin could read differently
 * from the signer is refused here rather than normalised (DESIGN.md §3.2).
 */
export function parseRequestTarget(uri: string): RequestTarget | Rejection {
  if (uri.length > maxUriBytes) return tooLong;
  if (uri.charCodeAt(0) !== 0x2f) return notOrigin;
  let end = uri.indexOf('?');
  if (end < 0) end = uri.length;
  let segmentStart = 1;
  let dots = 0; // dots in the current segment when it holds nothing but dots, else -1
  for (let i = 1; i <= end; i++) {
    if (i === end || uri.charCodeAt(i) === 0x2f) {
      if (dots === 1 || dots === 2) return dotSegment;
      if (i < end && i === segmentStart) return doubleSlash;
      segmentStart = i + 1;
      dots = 0;
      continue;
    }
    const code = uri.charCodeAt(i);
    if (code >= 128 || (charClass[code]! & PATH) === 0) return code === 0x23 ? fragment : badPathChar;
    if (code === 0x25) {
      const byte = escapedByte(uri, i);
      if (byte < 0) return badEscape;
      if (byte < 0x20 || byte >= 0x7f || byte === 0x2f || byte === 0x5c) return forbiddenEscape;
      dots = byte === 0x2e && dots >= 0 ? dots + 1 : -1;
      i += 2;
    } else {
      dots = code === 0x2e && dots >= 0 ? dots + 1 : -1;
    }
  }
  if (end === uri.length) return { path: uri, query: '' };
  for (let i = end + 1; i < uri.length; i++) {
    const code = uri.charCodeAt(i);
    if (code >= 128 || (charClass[code]! & QUERY) === 0) return code === 0x23 ? fragment : badQueryChar;
    if (code === 0x25) {
      if (escapedByte(uri, i) < 0) return badEscape;
      i += 2;
    }
  }
  return { path: uri.slice(0, end), query: uri.slice(end + 1) };
}
