export type Json = Readonly<Record<string, unknown>>;

/** Collects every problem with its path instead of stopping at the first. */
export class Problems {
  readonly list: string[] = [];
  add(path: string, message: string): void {
    this.list.push(`${path}: ${message}`);
  }
  object(value: unknown, path: string, allowed: readonly string[]): Json | undefined {
    if (typeof value !== 'object' || value === null || Array.isArray(value)) {
      this.add(path, 'must be an object');
      return undefined;
    }
    for (const key of Object.keys(value)) {
      if (!allowed.includes(key)) this.add(`${path}.${key}`, `unknown field (known: ${allowed.join(', ')})`);
    }
    return value as Json;
  }
  string(obj: Json, key: string, path: string, fallback?: string): string {
    // An explicit null is a mistake, never "the default".
    const value = obj[key] === undefined ? fallback : obj[key];
    if (typeof value === 'string' && value.length > 0) return value;
    this.add(`${path}.${key}`, value === undefined ? 'is required' : 'must be a non-empty string');
    return '';
  }
  integer(obj: Json, key: string, path: string, fallback: number, min: number, max: number): number {
    const value = obj[key] === undefined ? fallback : obj[key];
    if (typeof value === 'number' && Number.isInteger(value) && value >= min && value <= max) return value;
    this.add(`${path}.${key}`, `must be an integer from ${min} to ${max}`);
    return fallback;
  }
  headerName(obj: Json, key: string, path: string, required: boolean): string | undefined {
    if (!required && obj[key] === undefined) return undefined;
    const name = this.string(obj, key, path);
    // Underscores: the uWS build hangs on such header names (docs/engines.md), and proxies drop them.
    if (name !== '' && !/^[A-Za-z0-9-]+$/.test(name))
      this.add(`${path}.${key}`, 'must be a header name of letters, digits and "-"');
    return name.toLowerCase();
  }
}
