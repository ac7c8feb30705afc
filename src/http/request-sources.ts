import { noHeaders, type TokenHeaders } from '../core/token-headers.js';

/** The original-request fields an engine copies out of the auth request, before any parsing. */
export interface SourceFields {
  /** Value of the URI source header; `count` says how many times it appeared. */
  uri: string;
  uriCount: number;
  clientIp: string;
  clientIpCount: number;
  /** The headers the gate's routes read (cookies, token headers); noHeaders when none. */
  headers: TokenHeaders;
}

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
   * after the client IP segment with `clientIpInPath`. A target outside the prefix leaves the URI
   * missing: a deployment error, answered 503.
   */
  target(rawTarget: string, prefix: string, clientIpInPath: boolean): void {
    if (!rawTarget.startsWith(prefix) || rawTarget.charCodeAt(prefix.length) !== 0x2f /* "/" */) return;
    let uriStart = prefix.length;
    if (clientIpInPath) {
      // "<prefix>/<client ip><original uri>": the IP is the segment before the URI's own "/".
      const slash = rawTarget.indexOf('/', prefix.length + 1);
      if (slash < 0) return;
      this.clientIp = rawTarget.slice(prefix.length + 1, slash);
      this.clientIpCount = 1;
      uriStart = slash;
    }
    this.setUri(rawTarget.slice(uriStart));
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
