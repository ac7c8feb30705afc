import type { DecisionLogSettings } from '../decision/authorize.js';
import type { LimitSpec } from '../decision/limits.js';
import type { StreamScope } from '../request/signed-path.js';
import type { KeyEncoding, RouteOptions, Scheme } from '../scheme-kit/scheme-definition.js';
import type { RouteRevocationConfig, StateConfig } from './parse-state.js';

/** The validated, frozen shape of a tokengate config file (documented in docs/configuration.md). */

export interface KeySource {
  readonly id: string;
  /** Exactly one of these three is set. */
  readonly file?: string;
  readonly env?: string;
  /** Inline secret, for the published demo keys only: every use is logged as a loud warning. */
  readonly publicDemoSecret?: string;
  /** How the bytes are written; the scheme's default when omitted. */
  readonly encoding?: KeyEncoding;
}

export interface RouteConfig {
  readonly name: string;
  readonly prefix: string;
  /** The format, resolved from the registry while parsing. */
  readonly scheme: Scheme;
  readonly keys: readonly KeySource[];
  /** The route's options, read by its scheme (their type stays inside the scheme). */
  readonly options: RouteOptions;
  /** HLS/DASH: tokens are issued for the stream's playlist and cover its whole directory. */
  readonly stream: StreamScope | undefined;
  /** Cache genuine signatures for this route; undefined: on for stream routes only. */
  readonly verdictCache: boolean | undefined;
  /** Where clients fetch this route's files (`https://host[:port]`), for signed links; overrides `signing.publicBaseUrl`. */
  readonly publicBaseUrl: string | undefined;
  /** The request methods a token opens (exact, case-sensitive names); GET and HEAD by default. */
  readonly methods: readonly string[];
  /** The route checks revocations (config `revocation`); undefined: it never looks at them. */
  readonly revocation: RouteRevocationConfig | undefined;
  /** Limits on each link's use (config `limits`); undefined: the route counts nothing. */
  readonly limits: LimitSpec | undefined;
  /** The status of an expired token on this route (410 or 403); undefined: the listener's `expiredStatus`. */
  readonly expiredStatus: 410 | 403 | undefined;
}

/** The secure-link generator page and the signing API on the admin listener (docs/signing.md). */
/** Where a signer's access token comes from: a file, a variable, its SHA-256 (hex), or made at each start. */
export type SignerCredential = { readonly file: string } | { readonly env: string } | { readonly sha256: string } | 'random';

/**
 * One who signs (`signing.signers[]`): a name for the audit trail, how it proves itself (an access
 * token, or a user a trusted single-sign-on proxy names), and what it may do.
 */
export interface SignerConfig {
  readonly name: string;
  /** Its access token; undefined: it logs in only through single sign-on (`users`, `groups`). */
  readonly credential: SignerCredential | undefined;
  /** The routes it may sign for ("*": every route). */
  readonly routes: readonly string[] | '*';
  /** The longest a link it signs may stay valid, counted from the time of signing; undefined: no bound. */
  readonly maxTtlSec: number | undefined;
  /** Whether it may revoke links and remove revocations (on its routes). */
  readonly revoke: boolean;
  /** Single sign-on users who act as this signer: exact names, or `*@domain` for a whole domain (lowercase). */
  readonly users: readonly string[];
  /** Single sign-on groups whose members act as this signer. */
  readonly groups: readonly string[];
}

/**
 * Single sign-on behind a proxy (oauth2-proxy and the like): the user (and groups) from headers,
 * believed only on connections from `trustedProxies`.
 */
export interface SsoConfig {
  /** Lowercase header name the proxy writes the user into (`x-forwarded-email`, `x-forwarded-user`). */
  readonly userHeader: string;
  /** Lowercase header name of the user's groups, comma-separated; undefined: groups are not read. */
  readonly groupsHeader: string | undefined;
  /** Canonical addresses and ranges of the proxies (the connection's peer), never /0. */
  readonly trustedProxies: readonly string[];
}

/** A listener of the signing page and API's own, apart from the admin listener's metrics and probes. */
export interface SigningListenerConfig extends AdminListenerConfig {
  /** Certificate and key files (PEM), read at start and by each reload; undefined: plain http. */
  readonly tls: { readonly certFile: string; readonly keyFile: string } | undefined;
}

export interface SigningConfig {
  /** Who may sign; a config with one access token (`tokenFile`, `tokenEnv`, `randomToken`) has one signer, "admin". */
  readonly signers: readonly SignerConfig[];
  /** How the config wrote its signers: `signers`, or the one access token of older configs. */
  readonly written: 'signers' | 'tokenFile' | 'tokenEnv' | 'randomToken';
  /** Where clients fetch files (`https://host[:port]`), for full links; undefined: links are paths. */
  readonly publicBaseUrl: string | undefined;
  readonly sso: SsoConfig | undefined;
  /** The page and API's own listener; undefined: they are on the admin listener. */
  readonly listener: SigningListenerConfig | undefined;
}

export interface VerdictCacheConfig {
  /** Per route; every entry has the same size (a digest as key), so this bounds memory too. */
  readonly maxEntries: number;
}

/** What every listener shares: where the client IP comes from and how answers are shaped. */
export interface ListenerBase {
  readonly name: string;
  readonly host: string;
  readonly port: number;
  /** Lowercase name of the header carrying the client IP; undefined when none (or `clientIpInPath`). */
  readonly clientIpHeader: string | undefined;
  /**
   * With a comma-separated list in the client IP header (X-Forwarded-For): the client is the
   * Nth address from the right (1: the last, the one the proxy appended). Undefined: the
   * header must hold exactly one address.
   */
  readonly clientIpHop: number | undefined;
  /** 410, or 403 for proxies that cannot intercept a 410 (`X-Token-Status: expired` either way). */
  readonly expiredStatus: 410 | 403;
  /** Upper bound for `Cache-Control: max-age` on an allow (never beyond the token's end). */
  readonly cacheMaxAgeSec: number;
}

/** An HTTP auth listener (nginx auth_request, Envoy HTTP ext_authz, Traefik and Caddy forward auth). */
export interface AuthListenerConfig extends ListenerBase {
  /**
   * Lowercase name of the header carrying the raw original URI (nginx: `$request_uri`,
   * Traefik and Caddy: `X-Forwarded-Uri`); undefined with `pathPrefix`.
   */
  readonly uriHeader: string | undefined;
  /**
   * The original URI is the auth request's own target minus this prefix (Envoy HTTP mode, and
   * nginx with `proxy_pass http://tokengate/<prefix>$request_uri`). The only URI source the uws
   * engine accepts: it trims bytes 0x80-0xFF from both ends of header values, never of the target.
   */
  readonly pathPrefix: string | undefined;
  /**
   * With `pathPrefix`: the client IP is the target's first segment after the prefix
   * (`<prefix>/<ip><original uri>`, nginx: `/<prefix>/$remote_addr$request_uri`), so no signed
   * value comes from a header. The uws engine's only client IP source.
   */
  readonly clientIpInPath: boolean;
  /**
   * Lowercase name of the header carrying the original request's method (nginx:
   * `X-Original-Method: $request_method`, Traefik and Caddy: `X-Forwarded-Method`); undefined:
   * the auth request's own method (Envoy HTTP mode sends the original one).
   */
  readonly methodHeader: string | undefined;
}

/**
 * Envoy's gRPC ext_authz (`envoy.service.auth.v3.Authorization/Check`); the URI is
 * `attributes.request.http.path`. Its connections are bounded by src/http/grpc-door.ts.
 */
export interface GrpcListenerConfig extends ListenerBase {
  /** A connection must send the HTTP/2 preface and SETTINGS within this, or it is closed. */
  readonly handshakeTimeoutMs: number;
  /** A connection without calls this long gets a GOAWAY; a peer that keeps it open is cut 1 s later. */
  readonly idleTimeoutMs: number;
  /** A call whose request has not fully arrived within this is answered DEADLINE_EXCEEDED. */
  readonly requestTimeoutMs: number;
  /** Open connections at most; beyond, a new one is closed at once. */
  readonly maxConnections: number;
}

export interface AdminListenerConfig {
  readonly host: string;
  readonly port: number;
  /**
   * Canonical addresses and CIDR ranges of the reverse proxies in front of the listener: only
   * their `X-Forwarded-For` and `X-Forwarded-Proto` are read (docs/signing.md).
   */
  readonly trustedProxies: readonly string[];
  /** Lowercase host names the listener answers for besides IP literals, `localhost`, its host and the publicBaseUrl hosts. */
  readonly allowedHosts: readonly string[];
}

/**
 * `node` (default): node:http, byte-exact and hardened against any client; `uws`: native
 * uWebSockets.js, the fast engine, for sources in the request target only behind a proxy that
 * sends clean HTTP/1.1 (docs/engines.md).
 */
export type EngineName = 'uws' | 'node';

export interface Config {
  /** HTTP auth listeners (`"protocol": "http"`, the default), served by the configured engine. */
  readonly listeners: readonly AuthListenerConfig[];
  /** Envoy gRPC listeners (`"protocol": "envoy-grpc"`), served on the main thread. */
  readonly grpcListeners: readonly GrpcListenerConfig[];
  readonly admin: AdminListenerConfig;
  readonly clockSkewSec: number;
  /**
   * Auth-listener worker threads sharing each port (SO_REUSEPORT); 1 serves on the main thread.
   * "auto" (uws only): as many as the CPUs the process may use, cgroup limits included (service/cpu-budget.ts).
   */
  readonly workers: number | 'auto';
  /** Per-request decision log lines; undefined: off. */
  readonly decisionLog: DecisionLogSettings | undefined;
  readonly verdictCache: VerdictCacheConfig;
  /** Record decisions for /metrics (on by default; off only to measure what recording costs). */
  readonly metrics: boolean;
  /** Reload when the config file or a key file changes, as on SIGHUP. */
  readonly reloadOnChange: boolean;
  /** On SIGTERM, how long /readyz answers 503 while the auth listeners still serve (load balancers notice). */
  readonly shutdownDelaySec: number;
  /** The engine serving the auth and admin listeners. */
  readonly engine: EngineName;
  /** When `engine` is `uws` and its native module cannot load here: run `node` instead, or refuse to start. */
  readonly engineFallback: 'node' | 'none';
  readonly routes: readonly RouteConfig[];
  /** Off (undefined) unless configured. */
  readonly signing: SigningConfig | undefined;
  /** Where revocations live (config `state`): a file beside the config, or Redis. */
  readonly state: StateConfig;
}
