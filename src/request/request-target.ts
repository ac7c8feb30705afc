import { type Rejection, rejection, Verdict } from '../base/verdict.js';

/** Longest request target accepted (docs/security.md rule 2); longer ones are denied before any parsing. */
export const maxUriBytes = 8192;

const tooLong = rejection(Verdict.badUri, `the URI is longer than ${maxUriBytes} bytes`);
const notOrigin = rejection(Verdict.badUri, 'the URI does not start with "/" (absolute-form or asterisk-form target)');
const fragment = rejection(Verdict.badUri, 'the URI contains "#"');
const doubleSlash = rejection(Verdict.badUri, 'the path contains "//"');
const dotSegment = rejection(
  Verdict.badUri,
  'the path contains a dot-segment or an empty segment in some spelling ("..", "%2e%2e", "..;x", ". ", "/;/"...)',
);
const badEscape = rejection(Verdict.badUri, 'the URI contains "%" not followed by two hex digits');
const forbiddenEscape = rejection(
  Verdict.badUri,
  'the path percent-encodes "/", "\\" or a control byte (%2F, %5C, %00-%1F, %7F)',
);
const doubleEscape = rejection(
  Verdict.badUri,
  'the path contains double percent-encoding ("%25" then two hex digits: an origin that decodes twice reads another name)',
);
const badUtf8 = rejection(
  Verdict.badUri,
  'the path percent-encodes bytes that are not well-formed, shortest-form UTF-8 text (overlong, surrogate, truncated, stray or C1 control)',
);
const lookAlike = rejection(
  Verdict.badUri,
  'the path percent-encodes a character that Unicode normalization (NFC or NFKC) turns into "." "/" "\\" ";" "%" "?" or "#"',
);
/**
 * Code points an origin that normalizes Unicode reads as URI syntax: every one whose NFC or NFKC
 * form holds "/" "\\" ";" "%" "?" "#" or is dots only (fullwidth and small forms, dot leaders,
 * "℀" = "a/c", U+037E = ";" even under NFC). "%EF%BC%8E%EF%BC%8E" would be ".." there. Derived
 * from Node 20's ICU data; test/unit/request-target.test.ts derives it again and compares.
 */
export const syntaxLookAlikes: ReadonlySet<number> = new Set([
  0x037e, 0x2024, 0x2025, 0x2026, 0x2047, 0x2048, 0x2049, 0x2100, 0x2101, 0x2105, 0x2106, 0xfe14, 0xfe16, 0xfe19, 0xfe30, 0xfe52,
  0xfe54, 0xfe56, 0xfe5f, 0xfe68, 0xfe6a, 0xff03, 0xff05, 0xff0e, 0xff0f, 0xff1b, 0xff1f, 0xff3c,
]);
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

/** The character at `i` once percent-decoded (a raw character or a "%XY" escape), or -1. */
function decodedAt(text: string, i: number, end: number): number {
  if (i >= end) return -1;
  const code = text.charCodeAt(i);
  return code === 0x25 ? escapedByte(text, i) : code;
}

/** "%25XY" where X and Y are hex digits, raw or themselves escaped: "%" + hex + hex after one decoding. */
function isDoubleEscape(text: string, i: number, end: number): boolean {
  const first = decodedAt(text, i + 3, end);
  if (first < 0 || hexValue(first) < 0) return false;
  const next = i + 3 + (text.charCodeAt(i + 3) === 0x25 ? 3 : 1);
  const second = decodedAt(text, next, end);
  return second >= 0 && hexValue(second) >= 0;
}

/**
 * Splits and checks a raw request target, exactly as the client sent it (nginx `$request_uri`).
 * The path is what legacy formats hash, so every form that an origin could read differently
 * from the signer is refused here rather than normalised (docs/security.md rule 2). One pass, each
 * character looked at a bounded number of times: linear in the URI's length.
 */
export function parseRequestTarget(uri: string): RequestTarget | Rejection {
  if (uri.length > maxUriBytes) return tooLong;
  if (uri.charCodeAt(0) !== 0x2f) return notOrigin;
  let end = uri.indexOf('?');
  if (end < 0) end = uri.length;
  let segmentStart = 1;
  // The segment's head (before a ";" parameter) so far: only dots and spaces (Windows origins strip
  // trailing ones), and how many dots; -1 once it holds anything else or the head has ended.
  let dots = 0;
  let inHead = true;
  // UTF-8 in escapes: continuation bytes still expected, and the range the next one must fall in
  // (narrower after E0, ED, F0, F4, C2: the shortest-form, no-surrogate, no-C1 rules of RFC 3629).
  let pending = 0;
  let low = 0x80;
  let high = 0xbf;
  let codePoint = 0;
  for (let i = 1; i <= end; i++) {
    const code = i === end ? 0x2f : uri.charCodeAt(i);
    if (pending > 0 && code !== 0x25) return badUtf8;
    if (code === 0x2f || code === 0x3b) {
      if (inHead) {
        if (dots > 0) return dotSegment;
        // "//", or an empty head before ";" ("/;x/", which Tomcat reads as "//").
        if (i === segmentStart && (code === 0x3b || i < end)) return code === 0x3b ? dotSegment : doubleSlash;
      }
      if (code === 0x3b) {
        inHead = false;
        continue;
      }
      segmentStart = i + 1;
      dots = 0;
      inHead = true;
      continue;
    }
    if (code >= 128 || (charClass[code]! & PATH) === 0) return code === 0x23 ? fragment : badPathChar;
    if (code !== 0x25) {
      if (inHead) dots = code === 0x2e && dots >= 0 ? dots + 1 : -1;
      continue;
    }
    const byte = escapedByte(uri, i);
    if (byte < 0) return badEscape;
    i += 2;
    if (pending > 0) {
      if (byte < low || byte > high) return badUtf8;
      pending--;
      low = 0x80;
      high = 0xbf;
      codePoint = (codePoint << 6) | (byte & 0x3f);
      if (pending === 0 && syntaxLookAlikes.has(codePoint)) return lookAlike;
      continue;
    }
    if (byte >= 0x80) {
      if (byte < 0xc2 || byte > 0xf4) return badUtf8;
      pending = byte < 0xe0 ? 1 : byte < 0xf0 ? 2 : 3;
      codePoint = byte & (byte < 0xe0 ? 0x1f : byte < 0xf0 ? 0x0f : 0x07);
      if (byte === 0xc2) low = 0xa0;
      else if (byte === 0xe0) low = 0xa0;
      else if (byte === 0xed) high = 0x9f;
      else if (byte === 0xf0) low = 0x90;
      else if (byte === 0xf4) high = 0x8f;
      if (inHead) dots = -1;
      continue;
    }
    if (byte < 0x20 || byte === 0x7f || byte === 0x2f || byte === 0x5c) return forbiddenEscape;
    if (byte === 0x25 && isDoubleEscape(uri, i - 2, end)) return doubleEscape;
    if (byte === 0x3b && inHead) {
      // "%3B" ends the head too, for origins that decode before cutting parameters.
      if (dots > 0 || i - 2 === segmentStart) return dotSegment;
      inHead = false;
      continue;
    }
    if (inHead) dots = (byte === 0x2e || (byte === 0x20 && dots > 0)) && dots >= 0 ? dots + (byte === 0x2e ? 1 : 0) : -1;
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
