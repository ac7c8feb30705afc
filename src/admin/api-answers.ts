/**
 * The signing API's answers: JSON, and every refusal in one shape: RFC 9457 problem details, served as
 * `application/problem+json`. `type` names the kind of problem (a URN clients switch on), `title`
 * says it in words, `detail` says what was wrong with this request, and a request whose fields
 * are at fault lists each in `errors` with a JSON Pointer (RFC 6901) into the body it sent:
 * `{"pointer": "/clientIp", "detail": "..."}`, so a form can put each message next to its field.
 */
import type { ServerResponse } from 'node:http';

const titles = {
  'invalid-request': 'The request is not valid',
  'access-token-required': 'An access token is required',
  'access-token-invalid': 'The access token is not valid',
  'too-many-attempts': 'Too many failed attempts',
  'cross-origin': 'Cross-origin requests are refused',
  'not-permitted': 'This signer may not do that',
  'not-found': 'No such endpoint',
  'method-not-allowed': 'Method not allowed',
  'body-too-large': 'The body is too large',
  'unsupported-media-type': 'The body must be JSON',
  'misdirected-request': 'Not answered for this host name',
  'store-unavailable': 'The revocation store did not answer',
  'internal-error': 'Internal error',
} as const;

export type ProblemKind = keyof typeof titles;

/** Every kind, for the OpenAPI document's enum and its test. */
export const problemKinds = Object.keys(titles) as ProblemKind[];

export const problemTypePrefix = 'urn:tokengate:problem:';

/** One field at fault: where in the request body (a JSON Pointer; "" is the whole body) and what is wrong. */
export interface FieldError {
  readonly pointer: string;
  readonly detail: string;
}

export interface ProblemDetails {
  readonly type: string;
  readonly title: string;
  readonly status: number;
  readonly detail: string;
  readonly errors?: readonly FieldError[];
}

/** A reference token of a JSON Pointer (RFC 6901): "~" and "/" escaped. */
const pointerToken = (name: string) => name.replaceAll('~', '~0').replaceAll('/', '~1');

/**
 * The pointer of a problem path as the validation kit writes it (`body`, `body.header.name`,
 * `body.ids[2]`), relative to `root` (the request body, written `body`).
 */
export function pointerOf(path: string, root = 'body'): string {
  if (path === root) return '';
  const rest = path.startsWith(`${root}.`) || path.startsWith(`${root}[`) ? path.slice(root.length) : `.${path}`;
  let pointer = '';
  for (const match of rest.matchAll(/\.([^.[]+)|\[(\d+)\]/g)) pointer += `/${pointerToken(match[1] ?? match[2]!)}`;
  return pointer;
}

/** The problems of a request body as field errors. */
export function fieldErrors(entries: readonly { readonly path: string; readonly message: string }[]): FieldError[] {
  return entries.map(({ path, message }) => ({ pointer: pointerOf(path), detail: message }));
}

/** What a list of field errors says in one line: `clientIp: ...; expiresSec: ...`. */
function summary(errors: readonly FieldError[]): string {
  return errors
    .map(({ pointer, detail }) => (pointer === '' ? detail : `${pointer.slice(1).replaceAll('/', '.')}: ${detail}`))
    .join('; ');
}

export function problem(kind: ProblemKind, status: number, detail?: string, errors?: readonly FieldError[]): ProblemDetails {
  return {
    type: `${problemTypePrefix}${kind}`,
    title: titles[kind],
    status,
    detail: detail ?? (errors === undefined ? titles[kind] : summary(errors)),
    ...(errors === undefined ? {} : { errors }),
  };
}

/** A JSON answer no cache keeps. */
export function sendJson(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  const text = `${JSON.stringify(body, null, 2)}\n`;
  res.writeHead(status, {
    'Content-Type': 'application/json; charset=utf-8',
    'Cache-Control': 'no-store',
    'X-Content-Type-Options': 'nosniff',
    'Content-Length': Buffer.byteLength(text),
    ...headers,
  });
  res.end(text);
}

export function sendProblem(res: ServerResponse, details: ProblemDetails, headers: Record<string, string> = {}): void {
  const text = `${JSON.stringify(details, null, 2)}\n`;
  res.writeHead(details.status, {
    'Content-Type': 'application/problem+json',
    'Cache-Control': 'no-store',
    'X-Content-Type-Options': 'nosniff',
    'Content-Length': Buffer.byteLength(text),
    ...headers,
  });
  res.end(text);
}

/** A 400 listing every field at fault. */
export function invalidRequest(errors: readonly FieldError[]): ProblemDetails {
  return problem('invalid-request', 400, undefined, errors);
}
