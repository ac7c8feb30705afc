/**
 * What every signer is asked for, one shape everywhere (the CLI, the library, each scheme's
 * `sign`): the path and end time, and the optional fields a format may sign. An optional
 * field set to undefined is absent, so callers pass what they were given without spreads.
 */
export interface SignRequest {
  /** The path as signed: percent-encoded ASCII that passes the service's URI rules (see `signablePath`). */
  readonly path: string;
  /** The end of validity, unix seconds. */
  readonly expiresSec: number;
  /** The start of validity, unix seconds, where the format has one. */
  readonly notBeforeSec?: number | undefined;
  /** A client IP (or, where the format allows, a CIDR range) the token is bound to. */
  readonly clientIp?: string | undefined;
  /** Where the format has scopes: the token covers every path under the first N segments of `path`. */
  readonly scopeDepth?: number | undefined;
  /** Where the format has one: an opaque session id signed into the token. */
  readonly sessionId?: string | undefined;
  /** A per-token random value where the format has one (Alta's salt); random when omitted. */
  readonly nonce?: string | undefined;
  /**
   * Where the format has signed cookies besides signed URLs (cloudfront): the token as cookies,
   * the link without a query. False is the same as absent.
   */
  readonly cookies?: boolean | undefined;
}

/** A sign request a format cannot honour; `field` names the field at fault (forms show the message next to it). */
export class SignRequestError extends TypeError {
  constructor(
    readonly field: keyof SignRequest,
    message: string,
  ) {
    super(message);
  }
}

/** The optional fields of a SignRequest a format may or may not sign. */
export type SignOption = Exclude<keyof SignRequest, 'path' | 'expiresSec'>;

export const signOptions: readonly SignOption[] = ['notBeforeSec', 'clientIp', 'scopeDepth', 'sessionId', 'nonce', 'cookies'];

/** The clock signers read when the caller gives no time: whole unix seconds. */
export function unixNow(): number {
  return Math.floor(Date.now() / 1000);
}
