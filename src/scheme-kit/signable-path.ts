import { isRejection } from '../base/verdict.js';
import { parseRequestTarget } from '../request/request-target.js';
import { type SignOption, type SignRequest, SignRequestError, signOptions } from './sign-request.js';

/** A path every signer may sign: it passes the service's URI rules, so the link can work. */
export interface SignablePath {
  /** The path as signed and as it goes into the link (ASCII, percent-encoded). */
  readonly path: string;
  /** True when raw non-ASCII text was percent-encoded as UTF-8 to get `path`. */
  readonly encoded: boolean;
}

/** A path a signer refuses; `code` is stable for programs, the message says why. */
export class UnsignablePathError extends SignRequestError {
  readonly code = 'UNSIGNABLE_PATH';
  constructor(message: string) {
    super('path', message);
  }
}

const nonAscii = /[^\x00-\x7f]/;

/** An escape of a letter, digit, "-", ".", "_" or "~": RFC 3986 says write the character itself. */
export const unreservedEscape = /%(?:3[0-9]|4[1-9a-f]|5[0-9a]|6[1-9a-f]|7[0-9a]|2[de]|5f|7e)/i;

/** `path` with every escape of an unreserved character written as the character (RFC 3986 6.2.2.2). */
export function canonicalSpelling(path: string): string {
  return path.replace(new RegExp(unreservedEscape.source, 'gi'), (hex) => String.fromCharCode(Number.parseInt(hex.slice(1), 16)));
}

/**
 * Checks a path with the same URI rules as the service (docs/security.md rule 10), so no signer hands
 * out a link the service refuses or one that opens another file. Raw non-ASCII text is
 * percent-encoded as UTF-8, the only encoding the service accepts, and only when that is
 * unambiguous: the path holds no "%" already (is "%41" an escape or three characters?).
 */
export function signablePath(text: string): SignablePath {
  if (typeof text !== 'string' || text === '') throw new UnsignablePathError('the path is empty');
  let path = text;
  const encoded = nonAscii.test(text);
  if (encoded) {
    if (text.includes('%')) {
      throw new UnsignablePathError(
        'the path mixes raw non-ASCII text with "%": give it either as text without "%", or fully percent-encoded (UTF-8)',
      );
    }
    try {
      path = text.replace(/[^\x00-\x7f]+/g, (run) => encodeURIComponent(run));
    } catch {
      throw new UnsignablePathError('the path is not well-formed Unicode text (a lone surrogate)');
    }
  }
  if (path.includes('?')) throw new UnsignablePathError('the path contains "?": sign the path only, without a query');
  const target = parseRequestTarget(path);
  if (isRejection(target)) throw new UnsignablePathError(`the service would refuse this path: ${target.detail}`);
  // Origins read "%70" as "p": one file, two spellings, and the route is chosen on the plain one (rule 12).
  if (unreservedEscape.test(path)) {
    throw new UnsignablePathError(
      `the path escapes a letter, digit or "-._~", which origins read as the character itself: sign ${canonicalSpelling(path)}`,
    );
  }
  return { path, encoded };
}

/**
 * What every scheme's `sign` checks first: the path is signable as it is (callers ran
 * `signablePath`), and no option is set that the format cannot sign. A start time, client IP,
 * scope or session silently dropped would hand out a token that is wider than asked.
 */
export function checkSignRequest(request: SignRequest, supported: readonly SignOption[], schemeId: string): void {
  if (signablePath(request.path).path !== request.path)
    throw new UnsignablePathError('the path must be percent-encoded (UTF-8) before signing');
  for (const option of signOptions) {
    if (request[option] !== undefined && request[option] !== false && !supported.includes(option)) {
      throw new SignRequestError(
        option,
        `${schemeId} tokens cannot sign ${option}${supported.length > 0 ? ` (they sign: ${supported.join(', ')})` : ' (they sign only the path and the end time)'}`,
      );
    }
  }
}
