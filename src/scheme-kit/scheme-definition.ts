import type { Fields, Problems, SecretSource } from '../base/problems.js';
import type { SignOption } from './sign-request.js';
import type { ClientIpUse, RouteKey, TokenScheme } from './token-scheme.js';

export type { SignRequest } from './sign-request.js';
export type { ParsedToken, RouteKey, SignedToken, TokenInput, TokenScheme } from './token-scheme.js';

/** How a route's key bytes are written in their file or environment variable. */
export type KeyEncoding = 'text' | 'hex' | 'base64';

export type { ClientIpUse } from './token-scheme.js';

/**
 * What `create` binds a format to: the route's keys and prefix, and its secret options loaded.
 * `prefix`: a token whose scope reaches outside it never verifies, so a key shared by two routes
 * cannot let one route's token open the other (docs/security.md rule 9). `nested`: the route
 * lies inside another route, so a scope pattern wider than its prefix was signed for that outer
 * route (nested-scope.ts).
 */
export interface SchemeRoute {
  readonly keys: readonly RouteKey[];
  readonly prefix: string;
  readonly nested: boolean;
  /** The options `secretOptions` names, loaded like keys (from a file or the environment), as text. */
  readonly secrets: ReadonlyMap<string, string>;
}

/** What a format is, whatever a route's options: the registry, config, CLI help and docs read these. */
export interface SchemeFacts {
  /** The one name used in config, CLI, docs and metric labels. */
  readonly id: string;
  readonly summary: string;
  /** The SignRequest options the format signs; `sign` refuses any other (docs/security.md rule 10). */
  readonly signOptions: readonly SignOption[];
  /** required: every token is bound to the client IP; optional: tokens may be. */
  readonly clientIp: ClientIpUse;
  /**
   * How a bound IP is checked: "signed" (the token carries the address, so another client is
   * told apart: wrong-ip) or "hashed" (only hashed in, so another client's request is forged).
   * Default: hashed for required, signed for optional.
   */
  readonly ipBinding?: 'signed' | 'hashed';
  /** How a first path segment that carries the token starts (bunny's "bcdn_token="); the route is chosen on the rest. */
  readonly pathToken?: string;
  /**
   * The format signs nginx's `$uri` (nginx-uri.ts: decoded, dot-segments resolved, slashes
   * merged) rather than the raw path: its routes get that path, and routes are then chosen on it.
   */
  readonly nginxUri?: boolean;
  /** The verdict cache is on for this format's routes unless a route says otherwise (verification costs far more than a lookup). */
  readonly verdictCacheByDefault?: boolean;
  /** Accepted key encodings; the first is the default. */
  readonly keyEncodings: readonly KeyEncoding[];
  /** What to change so engine "uws" can serve a route of this format that reads request headers. */
  readonly uwsHint?: string;
  /** Why a loaded secret cannot serve this format, or undefined when it can. */
  keyProblem(secret: Buffer): string | undefined;
}

/**
 * A token format, described once. `O` is its typed route options: read once by `readOptions`,
 * handed as they are to the functions below; nothing outside the format sees their type.
 */
export interface SchemeDefinition<O> extends SchemeFacts {
  /** A route's options (`{}` when absent), read through the kit; problems go to `fields`. */
  readOptions(fields: Fields): O;
  /** Lowercase names of the request headers a route with these options reads (cookie, token header). */
  tokenHeaders(options: O): readonly string[];
  /** Options that are secrets (`{ "file" }` or `{ "env" }`, never inline), by name: loaded like keys into `SchemeRoute.secrets`. */
  secretOptions?(options: O): readonly (readonly [string, SecretSource])[];
  /** What to say loudly at startup about options that are valid but weak (never key material). */
  warnings?(options: O): readonly string[];
  /** Why the route's loaded keys cannot serve these options together (a key of another algorithm, two equal key ids), or undefined. */
  keysProblem?(options: O, keys: readonly RouteKey[], secrets: ReadonlyMap<string, string>): string | undefined;
  /** Documents fetched before the config loads (a JWKS URL), by option name: handed to `create` in `SchemeRoute.secrets`. */
  remoteDocuments?(options: O): readonly RemoteDocument[];
  /** Binds the format to a route: everything derivable is computed here, once. */
  create(route: SchemeRoute, options: O): TokenScheme;
}

/** A document a route's format fetches (never on the hot path): its option, its URL, how often it is fetched again. */
export interface RemoteDocument {
  readonly option: string;
  readonly url: string;
  readonly refreshSec: number;
}

/** A route's options, read: what config needs of them, and the format bound to them. */
export interface RouteOptions {
  /** The options as read, for listings (the signing API's route list); never secret material. */
  readonly value: object;
  readonly tokenHeaders: readonly string[];
  readonly secretOptions: readonly (readonly [string, SecretSource])[];
  readonly warnings: readonly string[];
  keysProblem(keys: readonly RouteKey[], secrets: ReadonlyMap<string, string>): string | undefined;
  readonly remoteDocuments: readonly RemoteDocument[];
  create(route: SchemeRoute): TokenScheme;
}

/** A format as the registry lists it: its facts, and its options reader with their type kept inside. */
export interface Scheme extends SchemeFacts {
  /** Reads a route's `options` (undefined: `{}`); the result is usable once `problems` is empty. */
  readOptions(raw: unknown, path: string, problems: Problems): RouteOptions;
}

/** Closes a definition over its options type: the one place `O` meets the rest of the service. */
export function defineScheme<O extends object>(definition: SchemeDefinition<O>): Scheme {
  const { readOptions, tokenHeaders, secretOptions, warnings, keysProblem, remoteDocuments, create, ...facts } = definition;
  return {
    ...facts,
    readOptions(raw, path, problems) {
      const fields = problems.fields(raw ?? {}, path);
      const options = readOptions(fields);
      fields.done();
      return {
        value: options,
        tokenHeaders: tokenHeaders(options),
        secretOptions: secretOptions?.(options) ?? [],
        warnings: warnings?.(options) ?? [],
        keysProblem: (keys, secrets) => keysProblem?.(options, keys, secrets),
        remoteDocuments: remoteDocuments?.(options) ?? [],
        create: (route) => create(route, options),
      };
    },
  };
}
