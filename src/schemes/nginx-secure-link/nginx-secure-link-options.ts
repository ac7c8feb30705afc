import type { Fields } from '../../base/problems.js';
import {
  describeSource,
  type ExpressionItem,
  parseExpression,
  sameSource,
  sourceOf,
  type ValueSource,
} from './secure-link-expression.js';

export interface NginxSecureLinkOptions {
  /** `secure_link`: where the hash travels, and the end time if the tokens have one. */
  readonly hash: ValueSource;
  readonly expires: ValueSource | undefined;
  /** `secure_link_md5`, parsed. */
  readonly md5: readonly ExpressionItem[];
}

const maxExpression = 1024;
const defaultHash: ValueSource = { from: 'arg', name: 'md5' };
const secureLinkShape =
  'must be "$arg_NAME" or "$arg_NAME,$arg_NAME" (the hash, then the end time; $cookie_NAME and $http_NAME also work), like nginx\'s secure_link';
const md5Example = 'with $secret where the secret was, e.g. "$secure_link_expires$uri$remote_addr $secret"';

type SecureLink = Pick<NginxSecureLinkOptions, 'hash' | 'expires'>;

/** `secure_link`: one value (the hash) or two separated by "," (the hash, then the end time); undefined when refused. */
function readSecureLink(fields: Fields): SecureLink | undefined {
  const text = fields.value('secureLink') ?? '$arg_md5,$arg_expires';
  const items = typeof text === 'string' && text.length <= maxExpression ? parseExpression(text) : secureLinkShape;
  if (typeof items === 'string') {
    fields.add('secureLink', items);
    return undefined;
  }
  const [first, comma, second] = [sourceOf(items[0]), items[1], sourceOf(items[2])];
  if (items.length === 1 && first !== undefined) return { hash: first, expires: undefined };
  if (items.length === 3 && first !== undefined && second !== undefined && comma !== undefined && 'literal' in comma) {
    if (comma.literal === ',') {
      if (sameSource(first, second)) fields.add('secureLink', 'the hash and the end time must be two values');
      return { hash: first, expires: second };
    }
  }
  fields.add('secureLink', secureLinkShape);
  return undefined;
}

/**
 * `secure_link_md5`: an expression that signs the secret, the path, and the end time when
 * secureLink reads one; checked against secureLink only when secureLink was read.
 */
function readMd5(fields: Fields, secureLink: SecureLink | undefined): ExpressionItem[] {
  const text = fields.value('md5');
  if (typeof text !== 'string' || text === '' || text.length > maxExpression) {
    fields.add(
      'md5',
      text === undefined
        ? `is required: the secure_link_md5 expression ${md5Example}`
        : `must be the secure_link_md5 expression (1 to ${maxExpression} characters) ${md5Example}`,
    );
    return [];
  }
  const items = parseExpression(text);
  if (typeof items === 'string') {
    fields.add('md5', items);
    return [];
  }
  const has = (name: string) => items.some((item) => 'variable' in item && item.variable === name);
  if (!has('secret')) fields.add('md5', "has no $secret: without the route's key in it, anyone can make a token");
  if (!has('uri'))
    fields.add('md5', 'has no $uri: a token would open every path of the route (and of every route sharing the key)');
  if (secureLink === undefined) return items;
  const { hash, expires } = secureLink;
  if (expires !== undefined && !has('secure_link_expires')) {
    fields.add(
      'md5',
      'secureLink reads an end time that the expression does not sign ($secure_link_expires): anyone could extend a link',
    );
  }
  if (expires === undefined && has('secure_link_expires')) {
    fields.add('md5', 'signs $secure_link_expires but secureLink has no end time ("$arg_md5,$arg_expires")');
  }
  for (const item of items) {
    const source = sourceOf(item);
    if (source !== undefined && [hash, expires].some((read) => read !== undefined && sameSource(read, source))) {
      fields.add('md5', `reads ${describeSource(source)}, which secureLink reads for the token`);
    }
  }
  return items;
}

export function readNginxSecureLinkOptions(fields: Fields): NginxSecureLinkOptions {
  const secureLink = readSecureLink(fields);
  // On a problem the route is never built: the fallback only keeps the options' shape.
  return { ...(secureLink ?? { hash: defaultHash, expires: undefined }), md5: readMd5(fields, secureLink) };
}

/** Variables of request values whose end can move into the next one when nothing separates them. */
function variableLength(item: ExpressionItem | undefined): string | undefined {
  if (item === undefined || !('variable' in item)) return undefined;
  if (item.variable === 'uri') return '$uri';
  if (item.variable === 'remote_addr') return '$remote_addr';
  if (item.variable === 'value') return describeSource(item.source);
  return undefined;
}

/** Adjacent request values with no separator: a signed value's end can move into the next (as in nginx). */
export function nginxSecureLinkWarnings(options: NginxSecureLinkOptions): string[] {
  const out: string[] = [];
  for (let i = 0; i + 1 < options.md5.length; i++) {
    const [a, b] = [variableLength(options.md5[i]), variableLength(options.md5[i + 1])];
    // The IP's text never holds "/", and $uri always starts with one: that boundary cannot move.
    if (a === undefined || b === undefined || (a === '$remote_addr' && b === '$uri')) continue;
    out.push(
      `md5: ${a} and ${b} are adjacent with nothing between them, so one value's end can move into the other (with "$uri$remote_addr", a link for /a/b1 from 2.3.4.5 also opens /a/b from 12.3.4.5; nginx reads it the same way): put a separator between them, in this expression and in your signers`,
    );
  }
  return out;
}

/** Lowercase names of the headers a route reads: "cookie" for $cookie_ values, the header of each $http_ value. */
export function nginxSecureLinkHeaders(options: NginxSecureLinkOptions): readonly string[] {
  const sources = [options.hash, options.expires, ...options.md5.map(sourceOf)];
  return [
    ...new Set(
      sources.flatMap((source) =>
        source === undefined || source.from === 'arg' ? [] : [source.from === 'cookie' ? 'cookie' : source.name],
      ),
    ),
  ];
}
