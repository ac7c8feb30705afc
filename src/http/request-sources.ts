import { noHeaders, type TokenHeaders } from '../request/token-headers.js';

/** The original-request fields an engine copies out of the auth request, before any parsing. */
export interface SourceFields {
  /** Value of the URI source header; `count` says how many times it appeared. */
  uri: string;
  uriCount: number;
  clientIp: string;
  clientIpCount: number;
  /** The original request's method: the method header's value, or the auth request's own method. */
  method: string;
  methodCount: number;
  /** The headers the gate's routes read (cookies, token headers); noHeaders when none. */
  headers: TokenHeaders;
}

const SLASH = 0x2f;
const QUESTION = 0x3f;
/** The original URI's first character: its path's "/", or the "?" of a target with no path. */
const startsUri = (code: number): boolean => code === SLASH || code === QUESTION;

/** Headers copied out of a request for the schemes; allocated only when some route reads headers. */
export class CapturedHeaders implements TokenHeaders {
  private readonly values = new Map<string, string | null>();

  add(lowercaseName: string, value: string): void {
    const previous = this.values.get(lowercaseName);
    if (previous === undefined) this.values.set(lowercaseName, value);
    // Several Cookie lines are one cookie list (HTTP/2 splits it); any other header must be single.
    else if (lowercaseName === 'cookie' && previous !== null) this.values.set(lowercaseName, `${previous}; ${value}`);
    else this.values.set(lowercaseName, null);
  }

  get(lowercaseName: string): string | undefined | null {
    return this.values.get(lowercaseName);
  }
}

/**
 * One auth request's source fields, filled header by header in a single pass (so a repeated
 * source header is counted, not hidden), plus what the engine must know about its framing.
 * Both engines use it, so both read a request the same way.
 */
export class RequestSources implements SourceFields {
  uri = '';
  uriCount = 0;
  clientIp = '';
  clientIpCount = 0;
  method = '';
  methodCount = 0;
  headers: TokenHeaders = noHeaders;
  /** A body is announced (never waited for: the engine answers and closes). */
  bodyAnnounced = false;
  private lengths = 0;
  private encodings = 0;
  private readonly captured: CapturedHeaders | undefined;

  constructor(
    /** Undefined when the URI comes from the request target (`target`). */
    private readonly uriHeader: string | undefined,
    private readonly clientIpHeader: string | undefined,
    /** Lowercase names of the headers the gate's routes read. */
    private readonly wanted: readonly string[],
    /** Undefined when the method is the auth request's own (`setMethod`). */
    private readonly methodHeader?: string | undefined,
  ) {
    if (wanted.length > 0) this.headers = this.captured = new CapturedHeaders();
  }

  /** One header line; `name` lowercase. */
  add(name: string, value: string): void {
    if (name === this.uriHeader) {
      this.uri = value;
      this.uriCount++;
    } else if (name === this.clientIpHeader) {
      this.clientIp = value;
      this.clientIpCount++;
    } else if (name === this.methodHeader) {
      this.method = value;
      this.methodCount++;
    } else if (name === 'content-length') {
      this.lengths++;
      if (value !== '0') this.bodyAnnounced = true;
    } else if (name === 'transfer-encoding') {
      this.encodings++;
      this.bodyAnnounced = true;
    } else if (this.captured !== undefined && this.wanted.includes(name)) {
      this.captured.add(name, value);
    }
  }

  /**
   * The original URI is the auth request's raw target minus `prefix` (Envoy sends `path_prefix` +
   * the original `:path`, query included; nginx `proxy_pass http://tokengate<prefix>$request_uri`),
   * after the client IP segment with `clientIpInPath`. The URI starts at the first "/" or "?"
   * after them: nginx's `$request_uri` of `GET http://h?x` is "?x", which the URI rules then
   * refuse (403); taken into the IP segment, it let the client write the URI after it. A target
   * outside the prefix leaves the URI missing: a deployment error, answered 503.
   */
  target(rawTarget: string, prefix: string, clientIpInPath: boolean): void {
    if (!rawTarget.startsWith(prefix)) return;
    let uriStart = prefix.length;
    if (clientIpInPath) {
      // "<prefix>/<client ip><original uri>": the IP is the segment up to the URI's first "/" or "?".
      if (rawTarget.charCodeAt(uriStart) !== SLASH) return;
      const ipStart = uriStart + 1;
      uriStart = ipStart;
      while (uriStart < rawTarget.length && !startsUri(rawTarget.charCodeAt(uriStart))) uriStart++;
      if (uriStart === rawTarget.length) return;
      this.clientIp = rawTarget.slice(ipStart, uriStart);
      this.clientIpCount = 1;
    } else if (!startsUri(rawTarget.charCodeAt(uriStart))) {
      return;
    }
    this.setUri(rawTarget.slice(uriStart));
  }

  /** The original method from a field of its own (the auth request's method, Envoy gRPC: `attributes.request.http.method`). */
  setMethod(method: string): void {
    this.method = method;
    this.methodCount = 1;
  }

  /** The original URI from a field of its own (Envoy gRPC: `attributes.request.http.path`). */
  setUri(uri: string): void {
    this.uri = uri;
    this.uriCount = 1;
  }

  /** Two length declarations, or one beside Transfer-Encoding: parsers may frame the body differently. */
  ambiguousFraming(): boolean {
    return this.lengths + this.encodings > 1;
  }
}
