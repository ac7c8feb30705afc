/**
 * The JSON reader for CloudFront policies (cloudfront-policy.ts): JSON.parse keeps the last of two
 * equal keys without a word, and reads more than a policy holds. Nesting at most 6, no floats,
 * no negative numbers, no literals (true, false, null).
 */

const maxDepth = 6;

export type Json = string | number | JsonObject | Json[];
export interface JsonObject {
  readonly [key: string]: Json;
}

/** A refusal of the policy's text: its message names the place in the shape, never the text. */
export class JsonError extends Error {}

const simpleEscapes: Readonly<Record<string, string>> = {
  '"': '"',
  '\\': '\\',
  '/': '/',
  b: '\b',
  f: '\f',
  n: '\n',
  r: '\r',
  t: '\t',
};

/** A strict JSON reader: objects with unique keys, arrays, strings, non-negative integers; nothing else. */
class StrictJson {
  private i = 0;

  constructor(private readonly text: string) {}

  read(): Json {
    const out = this.value(0);
    this.space();
    if (this.i !== this.text.length) throw new JsonError('text after the policy');
    return out;
  }

  private space(): void {
    const text = this.text;
    while (
      this.i < text.length &&
      (text[this.i] === ' ' || text[this.i] === '\t' || text[this.i] === '\n' || text[this.i] === '\r')
    )
      this.i++;
  }

  private expect(char: string): void {
    this.space();
    if (this.text[this.i] !== char) throw new JsonError(`expected "${char}"`);
    this.i++;
  }

  /** True (and past it) when the object or array closes at once. */
  private closes(close: string): boolean {
    this.space();
    if (this.text[this.i] !== close) return false;
    this.i++;
    return true;
  }

  /** After an item: true when "," follows (another item comes), false when the closing character does. */
  private more(close: string): boolean {
    this.space();
    if (this.text[this.i] === ',') {
      this.i++;
      return true;
    }
    this.expect(close);
    return false;
  }

  private string(): string {
    this.expect('"');
    const text = this.text;
    let out = '';
    for (;;) {
      const char = text[this.i++];
      if (char === undefined) throw new JsonError('unterminated string');
      if (char === '"') return out;
      if (char.charCodeAt(0) < 0x20) throw new JsonError('control character in a string');
      if (char !== '\\') {
        out += char;
        continue;
      }
      const escaped = text[this.i++];
      if (escaped !== undefined && simpleEscapes[escaped] !== undefined) out += simpleEscapes[escaped];
      else if (escaped === 'u' && /^[0-9A-Fa-f]{4}$/.test(text.slice(this.i, this.i + 4))) {
        out += String.fromCharCode(Number.parseInt(text.slice(this.i, this.i + 4), 16));
        this.i += 4;
      } else throw new JsonError('bad escape in a string');
    }
  }

  private value(depth: number): Json {
    if (depth > maxDepth) throw new JsonError('nested too deeply');
    this.space();
    const char = this.text[this.i];
    if (char === '"') return this.string();
    if (char === '{') return this.object(depth);
    if (char === '[') return this.array(depth);
    const digits = /^(0|[1-9][0-9]{0,10})(?![0-9.eE])/.exec(this.text.slice(this.i, this.i + 12));
    if (digits === null) throw new JsonError(char === undefined ? 'unexpected end' : 'unexpected text where a value belongs');
    this.i += digits[1]!.length;
    return Number(digits[1]);
  }

  private object(depth: number): JsonObject {
    this.i++;
    // No prototype: "__proto__" is a key like any other (and an unknown one).
    const object: Record<string, Json> = Object.create(null);
    if (this.closes('}')) return object;
    do {
      const key = this.string();
      if (Object.hasOwn(object, key)) throw new JsonError('an object has a key twice');
      this.expect(':');
      object[key] = this.value(depth + 1);
    } while (this.more('}'));
    return object;
  }

  private array(depth: number): Json[] {
    this.i++;
    const array: Json[] = [];
    if (this.closes(']')) return array;
    do array.push(this.value(depth + 1));
    while (this.more(']'));
    return array;
  }
}

/** The value of a policy's JSON text, read strictly (StrictJson); throws JsonError. */
export function readStrictJson(text: string): Json {
  return new StrictJson(text).read();
}
