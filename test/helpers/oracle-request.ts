/**
 * A request of the origin oracle as data: a draft made from a genuine link, changed by a list
 * of operations (oracle-mutations.ts), written as raw bytes. Strings hold bytes (latin1), so a
 * raw high byte is one character.
 */
import type { GenuineLink } from './oracle-links.js';

export interface Draft {
  method: string;
  /** What comes before the path in the request target: "" (origin form), "http://host", "?"... */
  form: string;
  path: string;
  /** Without its "?"; undefined: no "?". */
  query: string | undefined;
  fragment: string;
  /** Undefined: no Host header. */
  host: string | undefined;
  headers: [string, string][];
  body: string;
}

/** Text as the bytes of its UTF-8 encoding, one character a byte (what a client sends for raw non-ASCII). */
export const utf8Bytes = (text: string): string => Buffer.from(text).toString('latin1');

/** The request a client sends for the genuine link, untouched. */
export function draftOf(link: GenuineLink): Draft {
  const headers: [string, string][] = [];
  if (link.cookies !== undefined) headers.push(['Cookie', link.cookies.map(({ name, value }) => `${name}=${value}`).join('; ')]);
  if (link.header !== undefined) headers.push([link.header.name, link.header.value]);
  return {
    method: 'GET',
    form: '',
    path: utf8Bytes(link.path),
    query: link.query,
    fragment: '',
    host: 'files.example',
    headers,
    body: '',
  };
}

/** The request target of a draft. */
export const targetOf = (draft: Draft): string =>
  `${draft.form}${draft.path}${draft.query === undefined ? '' : `?${draft.query}`}${draft.fragment}`;

/** The request's bytes (latin1): a Content-Length for a body unless the draft frames it itself. */
export function serialize(draft: Draft): string {
  const lines = [`${draft.method} ${targetOf(draft)} HTTP/1.1`];
  if (draft.host !== undefined) lines.push(`Host: ${draft.host}`);
  for (const [name, value] of draft.headers) lines.push(`${name}: ${value}`);
  const framed = draft.headers.some(([name]) => /^(?:content-length|transfer-encoding)$/i.test(name));
  if (draft.body !== '' && !framed) lines.push(`Content-Length: ${draft.body.length}`);
  return `${lines.join('\r\n')}\r\n\r\n${draft.body}`;
}

/** True when the request still carries the link's token somewhere (as sent, or once percent-decoded). */
export function carriesToken(request: string, link: GenuineLink): boolean {
  if (request.includes(link.mark)) return true;
  const decoded = request.replace(/%([0-9A-Fa-f]{2})/g, (_m, hex: string) => String.fromCharCode(Number.parseInt(hex, 16)));
  return decoded.includes(link.mark);
}

/** The request line and headers for a report (bytes outside printable ASCII shown as \xNN, the body's length only). */
export function printable(request: string): string {
  const end = request.indexOf('\r\n\r\n');
  const head = request
    .slice(0, end)
    .replace(/[^\x20-\x7e\r\n]/g, (c) => `\\x${c.charCodeAt(0).toString(16).padStart(2, '0')}`)
    .replaceAll('\r\n', '\n  ');
  const body = request.length - end - 4;
  return body > 0 ? `${head}\n  (body: ${body} bytes)` : head;
}
