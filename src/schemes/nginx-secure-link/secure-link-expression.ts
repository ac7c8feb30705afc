/**
 * nginx complex values as `secure_link` and `secure_link_md5` hold them: literal text and `$name`
 * or `${name}` variables. Only the variables tokengate can compute are accepted: $uri (and
 * $document_uri), $secure_link_expires, $remote_addr, $arg_NAME, $http_NAME, $cookie_NAME, and
 * $secret, which stands where the nginx config had its secret text.
 */

/** Where a value of the request comes from: a query parameter, a request header or a cookie (names lowercase). */
export interface ValueSource {
  readonly from: 'arg' | 'http' | 'cookie';
  readonly name: string;
}

/** One piece of an expression: literal text, or a variable. */
export type ExpressionItem =
  | { readonly literal: string }
  | { readonly variable: 'secure_link_expires' | 'uri' | 'remote_addr' | 'secret' }
  | { readonly variable: 'value'; readonly source: ValueSource };

const nameChar = /[A-Za-z0-9_]/;

/** The variable as nginx names it: `$arg_md5`, `$http_x_user`, `$cookie_sid`. */
export function describeSource(source: ValueSource): string {
  return `$${source.from}_${source.from === 'http' ? source.name.replaceAll('-', '_') : source.name}`;
}

export function sameSource(a: ValueSource, b: ValueSource): boolean {
  return a.from === b.from && a.name === b.name;
}

/** The request value an item reads, if it reads one. */
export function sourceOf(item: ExpressionItem | undefined): ValueSource | undefined {
  return item !== undefined && 'source' in item ? item.source : undefined;
}

/**
 * Parses an nginx complex value: literal text and `$name` or `${name}` variables, names of
 * letters, digits and "_". Returns the items, or why the text is not one tokengate can compute.
 */
export function parseExpression(text: string): ExpressionItem[] | string {
  const items: ExpressionItem[] = [];
  let literal = '';
  let i = 0;
  while (i < text.length) {
    const char = text[i]!;
    if (char !== '$') {
      literal += char;
      i++;
      continue;
    }
    let name = '';
    if (text[i + 1] === '{') {
      const close = text.indexOf('}', i + 2);
      if (close < 0) return `"\${" at ${i} has no "}"`;
      name = text.slice(i + 2, close);
      if (!/^[A-Za-z0-9_]+$/.test(name)) return `"\${${name}}" is not a variable name`;
      i = close + 1;
    } else {
      let j = i + 1;
      while (j < text.length && nameChar.test(text[j]!)) j++;
      name = text.slice(i + 1, j);
      if (name === '') return `"$" at ${i} is not followed by a variable name (nginx refuses it too)`;
      i = j;
    }
    if (literal !== '') items.push({ literal });
    literal = '';
    const variable = readVariable(name.toLowerCase());
    if (typeof variable === 'string') return variable;
    items.push(variable);
  }
  if (literal !== '') items.push({ literal });
  return items;
}

function readVariable(name: string): ExpressionItem | string {
  if (name === 'uri' || name === 'document_uri') return { variable: 'uri' };
  if (name === 'secure_link_expires' || name === 'remote_addr' || name === 'secret') return { variable: name };
  for (const from of ['arg', 'http', 'cookie'] as const) {
    const prefix = `${from}_`;
    if (name.startsWith(prefix) && name.length > prefix.length && name.length <= prefix.length + 64) {
      const rest = name.slice(prefix.length);
      return { variable: 'value', source: { from, name: from === 'http' ? rest.replaceAll('_', '-') : rest } };
    }
  }
  return `$${name} is not a variable tokengate computes (it knows $secure_link_expires, $uri, $remote_addr, $arg_NAME, $http_NAME, $cookie_NAME, and $secret for the route's key)`;
}
