/**
 * The validation kit: config, schemes and the signing API read their input through it, so one
 * mistake gets the same words everywhere and every problem is listed with its path
 * (`routes[2].options.algorithm: must be "sha256", "sha1" or "md5"`), never only the first.
 * A reader returns the typed value (or its fallback when the input is wrong); the caller looks
 * at `Problems.list` once, at the end.
 */

export type Json = Readonly<Record<string, unknown>>;

/** A secret given by reference, never inline: a file's path or an environment variable's name. */
export type SecretSource = { readonly file: string } | { readonly env: string };

/** `"a", "b" or "c"`: how every message names a closed set of values. */
export function quotedList(values: readonly string[]): string {
  const quoted = values.map((value) => `"${value}"`);
  return quoted.length < 2 ? (quoted[0] ?? '') : `${quoted.slice(0, -1).join(', ')} or ${quoted.at(-1)}`;
}

const envNamePattern = /^[A-Za-z_][A-Za-z0-9_]*$/;
const headerNamePattern = /^[A-Za-z0-9-]{1,64}$/;
const originPattern = /^(https?):\/\/([A-Za-z0-9.-]{1,253})(?::([0-9]{1,5}))?$/;

/** Collects every problem with its path instead of stopping at the first. */
export class Problems {
  readonly list: string[] = [];
  /** The same problems with their path apart (`body.header.name`), for answers that point at fields. */
  readonly entries: { readonly path: string; readonly message: string }[] = [];

  add(path: string, message: string): void {
    this.list.push(`${path}: ${message}`);
    this.entries.push({ path, message });
  }

  get empty(): boolean {
    return this.list.length === 0;
  }

  /** Reads an object field by field; `done()` then reports every field no reader asked for. */
  fields(value: unknown, path: string): Fields {
    if (typeof value !== 'object' || value === null || Array.isArray(value)) {
      this.add(path, 'must be an object');
      return new Fields(this, {}, path);
    }
    return new Fields(this, value as Json, path);
  }

  /** An array's entries, unread; `[]` with the problem `rule` ("must be a non-empty array ...") otherwise. */
  array(value: unknown, path: string, rule: string, mayBeEmpty = false): readonly unknown[] {
    if (Array.isArray(value) && (mayBeEmpty || value.length > 0)) return value;
    this.add(path, rule);
    return [];
  }
}

/**
 * A public base URL: `http(s)://host[:port]`, nothing else, as the URL parser writes it. A path
 * would change the path the proxy sees, which is not the path that was signed; credentials,
 * query and fragment have no place. Undefined when absent or refused (the problem is recorded).
 */
export function parseBaseUrl(value: unknown, path: string, problems: Problems): string | undefined {
  if (value === undefined) return undefined;
  let url: URL | undefined;
  try {
    url = typeof value === 'string' ? new URL(value) : undefined;
  } catch {
    url = undefined;
  }
  if (
    url === undefined ||
    (url.protocol !== 'https:' && url.protocol !== 'http:') ||
    url.username !== '' ||
    url.password !== '' ||
    url.pathname !== '/' ||
    url.search !== '' ||
    url.hash !== '' ||
    !/^https?:\/\/[^/?#]+\/?$/.test(value as string)
  ) {
    problems.add(path, 'must be an http(s) origin like "https://media.example.com" (no path, query or credentials)');
    return undefined;
  }
  return url.origin;
}

function unknownField(known: readonly string[]): string {
  return known.length === 0 ? 'unknown field (there are none here)' : `unknown field (known: ${known.join(', ')})`;
}

/**
 * One object's fields. Every reader marks its field as known, so read each field unconditionally
 * (a default may depend on another field's value, the reading may not): `done()` names the rest.
 * An explicit `null` is a mistake, never "the default".
 */
export class Fields {
  private readonly known: string[] = [];

  constructor(
    readonly problems: Problems,
    readonly raw: Json,
    readonly path: string,
  ) {}

  /** A field's raw value, marking it known; for readers the kit does not have. */
  value(name: string): unknown {
    if (!this.known.includes(name)) this.known.push(name);
    return this.raw[name];
  }

  has(name: string): boolean {
    return this.value(name) !== undefined;
  }

  /** A problem with this field. */
  add(name: string, message: string): void {
    this.problems.add(`${this.path}.${name}`, message);
  }

  /** A required non-empty string, or the fallback when the field is absent. */
  string(name: string, fallback?: string): string {
    const value = this.value(name) ?? fallback;
    if (typeof value === 'string' && value.length > 0) return value;
    this.add(name, value === undefined ? 'is required' : 'must be a non-empty string');
    return fallback ?? '';
  }

  /** An optional non-empty string. */
  optionalString(name: string): string | undefined {
    return this.has(name) ? this.string(name) : undefined;
  }

  /** A required environment variable's name (a secret's source: the value is never inline). */
  envName(name: string): string {
    const value = this.string(name);
    if (value !== '' && !envNamePattern.test(value)) this.add(name, 'must be an environment variable name');
    return value;
  }

  /** A string of a strict grammar; `rule` says it in words ("must be ..."). Undefined when absent and optional. */
  matching(name: string, pattern: RegExp, rule: string, fallback?: string): string | undefined {
    const value = this.value(name) ?? fallback;
    if (value === undefined) return undefined;
    if (typeof value === 'string' && pattern.test(value)) return value;
    this.add(name, rule);
    return fallback;
  }

  /** One of a closed set of strings; `why` adds what each means. */
  oneOf<const T extends string>(name: string, values: readonly T[], fallback: T, why?: string): T {
    const value = this.value(name) ?? fallback;
    if (typeof value === 'string' && (values as readonly string[]).includes(value)) return value as T;
    this.add(name, `must be ${quotedList(values)}${why === undefined ? '' : ` (${why})`}`);
    return fallback;
  }

  bool(name: string, fallback: boolean): boolean {
    const value = this.value(name) ?? fallback;
    if (typeof value === 'boolean') return value;
    this.add(name, 'must be true or false');
    return fallback;
  }

  /** An optional integer from `min` to `max`: undefined when absent. */
  optionalInt(name: string, min: number, max: number): number | undefined {
    return this.has(name) ? this.int(name, min, min, max) : undefined;
  }

  /** An optional boolean: undefined when absent. */
  optionalBool(name: string): boolean | undefined {
    return this.has(name) ? this.bool(name, false) : undefined;
  }

  int(name: string, fallback: number, min: number, max: number): number {
    const value = this.value(name) ?? fallback;
    if (typeof value === 'number' && Number.isInteger(value) && value >= min && value <= max) return value;
    this.add(name, `must be an integer from ${min} to ${max}`);
    return fallback;
  }

  /** A secret by reference (`{ "file": PATH }` or `{ "env": NAME }`); undefined when absent. */
  secret(name: string): SecretSource | undefined {
    const value = this.value(name);
    if (value === undefined) return undefined;
    if (typeof value === 'object' && value !== null && !Array.isArray(value)) {
      const entries = Object.entries(value);
      const [kind, text] = entries[0] ?? [];
      if (entries.length === 1 && typeof text === 'string' && text !== '') {
        if (kind === 'file') return { file: text };
        if (kind === 'env') return { env: text };
      }
    }
    this.add(name, 'must be { "file": PATH } or { "env": NAME } (a secret, never inline)');
    return undefined;
  }

  /**
   * An optional request header name, in lowercase; undefined when absent. Letters, digits and
   * "-" only: proxies drop names with "_", and the uWS build hangs on them (docs/engines.md).
   */
  headerName(name: string): string | undefined {
    const value = this.value(name);
    if (value === undefined) return undefined;
    if (typeof value === 'string' && headerNamePattern.test(value)) return value.toLowerCase();
    this.add(name, 'must be a header name of letters, digits and "-"');
    return undefined;
  }

  requiredHeaderName(name: string): string {
    if (this.value(name) === undefined) {
      this.add(name, 'is required');
      return '';
    }
    return this.headerName(name) ?? '';
  }

  /**
   * A required `http(s)://host[:port]` with no path, as a signer writes it before the path, in
   * lowercase (host names are case-insensitive; browsers and CDNs send them in lowercase).
   */
  origin(name: string): string {
    const value = this.value(name);
    const match = typeof value === 'string' ? originPattern.exec(value) : null;
    const port = match?.[3] === undefined ? undefined : Number(match[3]);
    if (match !== null && (port === undefined || (port >= 1 && port <= 65535))) return (value as string).toLowerCase();
    this.add(
      name,
      value === undefined
        ? 'is required: the "https://host[:port]" signers write before the path'
        : 'must be "http(s)://host[:port]": no path, no trailing "/"',
    );
    return 'https://invalid';
  }

  /** A public base URL (`parseBaseUrl`); undefined when absent. */
  baseUrl(name: string): string | undefined {
    return parseBaseUrl(this.value(name), `${this.path}.${name}`, this.problems);
  }

  /** An array's entries, unread; `[]` with the problem `rule` ("must be a non-empty array ...") otherwise. */
  array(name: string, rule: string, mayBeEmpty = false): readonly unknown[] {
    return this.problems.array(this.value(name), `${this.path}.${name}`, rule, mayBeEmpty);
  }

  /**
   * Which one of fields that exclude each other is given (a source: file, env...); undefined with
   * the problem `rule` ("needs exactly one of ...") on the object when none or several are.
   */
  exactlyOne<const T extends string>(names: readonly T[], rule: string): T | undefined {
    const given = names.filter((name) => this.has(name));
    if (given.length === 1) return given[0];
    this.problems.add(this.path, rule);
    return undefined;
  }

  /** A nested object's fields (undefined when absent). */
  object(name: string): Fields | undefined {
    const value = this.value(name);
    return value === undefined ? undefined : this.problems.fields(value, `${this.path}.${name}`);
  }

  /** Reports every field of the object that no reader asked for. */
  done(): void {
    for (const name of Object.keys(this.raw)) {
      if (!this.known.includes(name)) this.add(name, unknownField(this.known));
    }
  }
}
