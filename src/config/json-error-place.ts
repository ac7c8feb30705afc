/**
 * Where a JSON text first breaks the grammar (RFC 8259), as an offset, found by a scan of its
 * own: Node 20's JSON.parse gives no position for "Unexpected token" and quotes the text around
 * the error, which must never reach a log (a key file passed as --config would leak). Linear in
 * the text, no recursion (nesting depth does not matter).
 */
const number = /-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?/y;
const escapes = new Set(['"', '\\', '/', 'b', 'f', 'n', 'r', 't']);

type Expect = 'value' | 'key' | 'after';

/** A scan's position; each step returns what comes next, or the offset of an error (a number). */
class JsonScan {
  i = 0;
  /** The open objects and arrays, innermost last. */
  readonly open: string[] = [];

  constructor(readonly text: string) {}

  skipSpace(): void {
    const { text } = this;
    while (
      this.i < text.length &&
      (text[this.i] === ' ' || text[this.i] === '\t' || text[this.i] === '\n' || text[this.i] === '\r')
    )
      this.i++;
  }

  /** At a '"': moves past the string, or returns the offset of its error. */
  string(): number | undefined {
    const { text } = this;
    this.i++;
    for (;;) {
      if (this.i >= text.length) return this.i;
      const c = text.charCodeAt(this.i);
      if (c === 0x22) {
        this.i++;
        return undefined;
      }
      if (c < 0x20) return this.i;
      if (c === 0x5c) {
        const next = text[this.i + 1];
        if (next === 'u') {
          if (!/^[0-9a-fA-F]{4}$/.test(text.slice(this.i + 2, this.i + 6))) return this.i + 1;
          this.i += 6;
        } else if (next !== undefined && escapes.has(next)) this.i += 2;
        else return this.i + 1;
      } else this.i++;
    }
  }

  /** A member's name and its ":". */
  key(): Expect | number {
    if (this.text[this.i] !== '"') return this.i;
    const broken = this.string();
    if (broken !== undefined) return broken;
    this.skipSpace();
    if (this.text[this.i] !== ':') return this.i;
    this.i++;
    return 'value';
  }

  /** A value, or the opening of an object or array. */
  value(): Expect | number {
    const { text } = this;
    const c = text[this.i];
    if (c === '{' || c === '[') {
      this.i++;
      this.skipSpace();
      if (text[this.i] === (c === '{' ? '}' : ']')) {
        this.i++;
        return 'after';
      }
      this.open.push(c);
      return c === '{' ? 'key' : 'value';
    }
    if (c === '"') return this.string() ?? 'after';
    const literal = ['true', 'false', 'null'].find((word) => text.startsWith(word, this.i));
    if (literal !== undefined) {
      this.i += literal.length;
      return 'after';
    }
    number.lastIndex = this.i;
    if (!number.test(text)) return this.i;
    this.i = number.lastIndex;
    return 'after';
  }

  /** After a value: a ",", the close of the innermost object or array, or the end (undefined: no error). */
  after(): Expect | number | undefined {
    const top = this.open.at(-1);
    if (top === undefined) return this.i < this.text.length ? this.i : undefined;
    if (this.text[this.i] === ',') {
      this.i++;
      return top === '{' ? 'key' : 'value';
    }
    if (this.text[this.i] !== (top === '{' ? '}' : ']')) return this.i;
    this.i++;
    this.open.pop();
    return 'after';
  }
}

export function jsonErrorOffset(text: string): number | undefined {
  const scan = new JsonScan(text);
  let next: Expect | number | undefined = 'value';
  while (typeof next === 'string') {
    scan.skipSpace();
    next = next === 'key' ? scan.key() : next === 'value' ? scan.value() : scan.after();
  }
  return next;
}

/** " at line L, column C" (1-based, in characters) of the first error, or "" if the scan finds none. */
export function jsonErrorPlace(text: string): string {
  const offset = jsonErrorOffset(text);
  if (offset === undefined) return '';
  const before = text.slice(0, offset);
  const line = before.split('\n').length;
  return ` at line ${line}, column ${offset - before.lastIndexOf('\n')}`;
}
