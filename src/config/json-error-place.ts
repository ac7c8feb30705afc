/**
 * Where a JSON text first breaks the grammar (RFC 8259), as an offset, found by a scan of its
 * own: Node 20's JSON.parse gives no position for "Unexpected token" and quotes the text around
 * the error, which must never reach a log (a key file passed as --config would leak). Linear in
 * the text, no recursion (nesting depth does not matter).
 */
const number = /-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?/y;
const escapes = new Set(['"', '\\', '/', 'b', 'f', 'n', 'r', 't']);

export function jsonErrorOffset(text: string): number | undefined {
  let i = 0;
  const skipSpace = () => {
    while (i < text.length && (text[i] === ' ' || text[i] === '\t' || text[i] === '\n' || text[i] === '\r')) i++;
  };
  /** At a '"': moves past the string, or returns the offset of its error. */
  const string = (): number | undefined => {
    i++;
    for (;;) {
      if (i >= text.length) return i;
      const c = text.charCodeAt(i);
      if (c === 0x22) {
        i++;
        return undefined;
      }
      if (c < 0x20) return i;
      if (c === 0x5c) {
        const next = text[i + 1];
        if (next === 'u') {
          if (!/^[0-9a-fA-F]{4}$/.test(text.slice(i + 2, i + 6))) return i + 1;
          i += 6;
        } else if (next !== undefined && escapes.has(next)) i += 2;
        else return i + 1;
      } else i++;
    }
  };
  const open: string[] = [];
  let expect: 'value' | 'key' | 'after' = 'value';
  for (;;) {
    skipSpace();
    if (expect === 'key') {
      if (text[i] !== '"') return i;
      const broken = string();
      if (broken !== undefined) return broken;
      skipSpace();
      if (text[i] !== ':') return i;
      i++;
      expect = 'value';
    } else if (expect === 'value') {
      const c = text[i];
      if (c === '{' || c === '[') {
        i++;
        skipSpace();
        if (text[i] === (c === '{' ? '}' : ']')) {
          i++;
          expect = 'after';
        } else {
          open.push(c);
          expect = c === '{' ? 'key' : 'value';
        }
      } else if (c === '"') {
        const broken = string();
        if (broken !== undefined) return broken;
        expect = 'after';
      } else {
        const literal = ['true', 'false', 'null'].find((word) => text.startsWith(word, i));
        if (literal !== undefined) i += literal.length;
        else {
          number.lastIndex = i;
          if (!number.test(text)) return i;
          i = number.lastIndex;
        }
        expect = 'after';
      }
    } else {
      const top = open.at(-1);
      if (top === undefined) return i < text.length ? i : undefined;
      if (text[i] === ',') {
        i++;
        expect = top === '{' ? 'key' : 'value';
      } else if (text[i] === (top === '{' ? '}' : ']')) {
        i++;
        open.pop();
      } else return i;
    }
  }
}

/** " at line L, column C" (1-based, in characters) of the first error, or "" if the scan finds none. */
export function jsonErrorPlace(text: string): string {
  const offset = jsonErrorOffset(text);
  if (offset === undefined) return '';
  const before = text.slice(0, offset);
  const line = before.split('\n').length;
  return ` at line ${line}, column ${offset - before.lastIndexOf('\n')}`;
}
