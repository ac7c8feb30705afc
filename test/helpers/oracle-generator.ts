/**
 * The origin oracle's request generator: a seeded choice of a genuine link, most often a file
 * it does not cover (one that shares the most of its path, one in a nested route inside its
 * scope, or any), and a few operations (oracle-mutations.ts), the path's spellings aimed where
 * the target's path leaves the link's.
 */
import { covers, decodePath, type GenuineLink } from './oracle-links.js';
import { apply, directoryOf, type Op } from './oracle-mutations.js';
import { type Draft, draftOf } from './oracle-request.js';
import type { OracleRoute } from './oracle-routes.js';
import {
  clientHeaders,
  dotDots,
  dotSeparators,
  hostHeaders,
  methods,
  pathInserts,
  pathParameters,
  pathSuffixes,
  queryPairs,
  singleDots,
  slashes,
  targetForms,
  uriHeaders,
} from './oracle-spellings.js';

/** mulberry32: a small seeded generator, the same numbers for a seed on every run. */
export function seeded(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

type Random = () => number;
const pick = <T>(random: Random, items: readonly T[]): T => items[Math.floor(random() * items.length)]!;
const int = (random: Random, below: number) => Math.floor(random() * below);

export interface Generated {
  readonly link: GenuineLink;
  readonly ops: readonly Op[];
  readonly draft: Draft;
}

/** How alike two paths are: the characters they share at the start and at the end. */
function likeness(a: string, b: string): number {
  let start = 0;
  while (start < a.length && a[start] === b[start]) start++;
  let end = 0;
  while (end < a.length - start && end < b.length - start && a[a.length - 1 - end] === b[b.length - 1 - end]) end++;
  return start + end;
}

/** The `count` files most like `path` (a near miss: a sibling, one character apart...), of a length closest to it on a tie. */
const nearest = (files: readonly string[], path: string, count: number) =>
  [...files]
    .sort((a, b) => likeness(b, path) - likeness(a, path) || Math.abs(a.length - path.length) - Math.abs(b.length - path.length))
    .slice(0, count);

/** Where the draft's path stops sharing the link's directory: spellings aim there most of the time. */
function divergence(path: string, linkPath: string): number {
  let i = 0;
  while (i < path.length && path[i] === linkPath[i]) i++;
  return Math.min(path.lastIndexOf('/', i) + 1, Math.max(0, path.length - 1));
}

export class RequestGenerator {
  private readonly random: Random;
  private readonly byRoute: Map<string, GenuineLink[]>;
  /** The sweep's requests still to send (taken from the end). */
  private readonly planned: (readonly [GenuineLink, Op])[];

  constructor(
    seed: number,
    links: readonly GenuineLink[],
    private readonly files: readonly string[],
    private readonly routes: readonly OracleRoute[],
  ) {
    this.random = seeded(seed);
    this.byRoute = new Map();
    for (const link of links) this.byRoute.set(link.recipe.route, [...(this.byRoute.get(link.recipe.route) ?? []), link]);
    const sweep = this.sweep(links);
    this.planned = links.flatMap((link, i) => sweep[i]!.map((op) => [link, op] as const));
    // Shuffled (Fisher-Yates with the seed): a short run still sweeps every route a little.
    for (let i = this.planned.length - 1; i > 0; i--) {
      const j = int(this.random, i + 1);
      [this.planned[i], this.planned[j]] = [this.planned[j]!, this.planned[i]!];
    }
  }

  /** A route at random, then one of its links, scoped ones (the widest reach) more often. */
  private link(): GenuineLink {
    const links = pick(this.random, [...this.byRoute.values()]);
    const scoped = links.filter((link) => link.scope.kind !== 'exact');
    return scoped.length > 0 && this.random() < 0.6 ? pick(this.random, scoped) : pick(this.random, links);
  }

  /** A file the link does not cover, most often one near it; sometimes any file. */
  private target(link: GenuineLink): string {
    const outside = this.files.filter((file) => !covers(this.routes, link, file));
    const r = this.random();
    if (outside.length === 0 || r < 0.2) return pick(this.random, this.files);
    const base = link.scope.kind === 'prefix' ? link.scope.prefix : directoryOf(decodePath(link.path));
    const inside = outside.filter((file) => file.startsWith(base));
    if (inside.length > 0 && r < 0.55) return pick(this.random, inside);
    return pick(this.random, r < 0.8 ? nearest(outside, decodePath(link.path), 4) : outside);
  }

  private position(draft: Draft, linkPath: string): number {
    const from = this.random() < 0.7 ? divergence(draft.path, linkPath) : 0;
    return from + int(this.random, Math.max(1, draft.path.length - from));
  }

  private slash(draft: Draft, linkPath: string): number {
    const at = [...draft.path.matchAll(/\//g)].map((m) => m.index);
    const from = divergence(draft.path, linkPath) - 1;
    const aimed = at.filter((i) => i >= from);
    return pick(this.random, aimed.length > 0 && this.random() < 0.7 ? aimed : at);
  }

  private spelling(draft: Draft, linkPath: string): Op {
    const r = this.random;
    const escapesIn = Math.max(1, [...draft.path.matchAll(/%[0-9A-Fa-f]{2}/g)].length);
    const slash = () => this.slash(draft, linkPath);
    // Weighted: escapes, dot-segments, parameters and target forms most, where past bypasses were.
    const choices: [number, () => Op][] = [
      [3, () => ({ op: 'escape', at: this.position(draft, linkPath), upper: r() < 0.5 })],
      [1, () => (r() < 0.5 ? { op: 'unescape', nth: int(r, escapesIn) } : { op: 'hexCase', nth: int(r, escapesIn) })],
      [1, () => ({ op: 'splice', at: slash(), length: 1, text: pick(r, slashes) })],
      [
        2,
        () => {
          const text =
            r() < 0.4
              ? `${pick(r, singleDots)}${pick(r, dotSeparators)}`
              : r() < 0.6
                ? `x${pick(r, dotSeparators)}${pick(r, dotDots)}${pick(r, dotSeparators)}`
                : `${pick(r, dotDots)}${pick(r, dotSeparators)}`;
          return { op: 'splice', at: slash() + 1, length: 0, text };
        },
      ],
      [
        2,
        () => {
          const at = slash();
          return { op: 'splice', at: at > 0 ? at : draft.path.length, length: 0, text: pick(r, pathParameters) };
        },
      ],
      [1, () => ({ op: 'caseFlip', at: this.position(draft, linkPath) })],
      [
        1,
        () => ({
          op: 'splice',
          at: r() < 0.4 ? draft.path.length : this.position(draft, linkPath),
          length: 0,
          text: pick(r, pathInserts),
        }),
      ],
      [1, () => (r() < 0.5 ? { op: 'fold' } : { op: 'raw' })],
      [1, () => ({ op: 'splice', at: draft.path.length, length: 0, text: pick(r, pathSuffixes) })],
      [2, () => ({ op: 'form', text: pick(r, targetForms) })],
    ];
    let roll = r() * choices.reduce((sum, [weight]) => sum + weight, 0);
    for (const [weight, make] of choices) {
      roll -= weight;
      if (roll < 0) return make();
    }
    return choices[0]![1]();
  }

  private tokenPlace(draft: Draft): Op {
    const r = this.random;
    const count = Math.max(1, (draft.query ?? '').split('&').length);
    const choices: (() => Op)[] = [
      () => ({ op: 'dropToken' }),
      () => ({ op: 'queryInsert', at: int(r, count + 1), pair: pick(r, queryPairs) }),
      () => ({ op: 'queryDuplicate', nth: int(r, count) }),
      () => ({ op: 'queryRotate' }),
      () => ({ op: 'nameUpper', nth: int(r, count) }),
      () => ({ op: 'nameEscape', nth: int(r, count) }),
      () => ({ op: 'separator', text: pick(r, [';', '&&', '&amp;', '%26']) }),
      () => ({ op: 'queryLead', text: pick(r, ['?', '&', '&&', ';']) }),
      () => ({ op: 'fragment', text: pick(r, ['#', '#x', '#/../premium/', '%23']) }),
      () => ({ op: 'toCookie' }),
      () => ({ op: 'streamCookie' }),
      () => ({ op: 'toHeader', name: pick(r, ['X-Tokengate', 'Authorization', 'X-Original-URI']) }),
      () => ({ op: 'toPathParameter' }),
      () => ({ op: 'toQuery' }),
    ];
    return pick(r, choices)();
  }

  private request(): Op {
    const r = this.random;
    const kind = int(r, 3);
    if (kind === 0) {
      const [method, body, extra] = pick(r, methods);
      return { op: 'method', method, body, headers: extra };
    }
    if (kind === 1) {
      const [name, value] = pick(r, clientHeaders);
      return { op: 'header', name, value };
    }
    return { op: 'host', value: pick(r, hostHeaders) };
  }

  /**
   * Before the random requests: each link against the files most like its own that it does not
   * cover, spelled as links are and with raw UTF-8, in an order the seed shuffles.
   */
  private sweep(links: readonly GenuineLink[]): Op[][] {
    return links.map((link) => {
      const outside = this.files.filter((file) => !covers(this.routes, link, file));
      return nearest(outside, decodePath(link.path), 2).flatMap((file) => [
        { op: 'retarget', file },
        { op: 'retarget', file, raw: true },
      ]);
    });
  }

  /** One request: its link, its operations and the draft they make. */
  next(): Generated {
    const planned = this.planned.pop();
    if (planned !== undefined) {
      const [link, op] = planned;
      return { link, ops: [op], draft: apply(draftOf(link), op, link.path) };
    }
    const link = this.link();
    const r = this.random;
    let draft = draftOf(link);
    const ops: Op[] = [];
    const add = (op: Op) => {
      ops.push(op);
      draft = apply(draft, op, link.path);
    };
    const retargeted = r() < 0.7;
    if (retargeted) {
      const file = this.target(link);
      const kind = r();
      if (kind < 0.55) add({ op: 'retarget', file, ...(r() < 0.3 ? { raw: true } : {}) });
      else if (kind < 0.92) {
        const depth = directoryOf(link.path).split('/').length - 2;
        add({
          op: 'climb',
          file,
          levels: r() < 0.5 ? depth : 1 + int(r, depth),
          dots: pick(r, dotDots),
          sep: pick(r, dotSeparators),
        });
      } else add({ op: 'inject', name: pick(r, uriHeaders), file });
    }
    const more = retargeted ? int(r, 3) : 1 + int(r, 3);
    for (let i = 0; i < more; i++) {
      const family = r();
      add(family < 0.6 ? this.spelling(draft, link.path) : family < 0.8 ? this.tokenPlace(draft) : this.request());
    }
    return { link, ops, draft };
  }
}

/** A regression case's request again: the same operations on a fresh link of the same recipe. */
export function replay(link: GenuineLink, ops: readonly Op[]): Draft {
  return ops.reduce((draft, op) => apply(draft, op, link.path), draftOf(link));
}
