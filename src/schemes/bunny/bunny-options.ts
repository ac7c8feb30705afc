import type { Fields } from '../../base/problems.js';

export type BunnyKind = 'hs256' | 'advanced' | 'basic';

export const bunnyKinds: readonly BunnyKind[] = ['hs256', 'advanced', 'basic'];

export interface BunnyOptions {
  /** The generations this route accepts. */
  readonly accept: readonly BunnyKind[];
  /**
   * The zone's "IP validation": advanced and basic tokens hash the client IP, and HS256 tokens
   * must be IP-bound ("1-"); without it, HS256 tokens say themselves whether they are.
   */
  readonly ipValidation: boolean;
  /** Lowercase name of a proxy-set header with the client's ISO country code, for token_countries. */
  readonly countryHeader: string | undefined;
}

const isKind = (value: unknown): value is BunnyKind => bunnyKinds.some((kind) => kind === value);

/** `accept`: some generations, each once (all three when absent). */
function readAccept(fields: Fields): readonly BunnyKind[] {
  const accept = fields.value('accept') ?? bunnyKinds;
  if (Array.isArray(accept) && accept.length > 0 && accept.every(isKind) && new Set(accept).size === accept.length) {
    return accept;
  }
  fields.add('accept', `must list some of "hs256", "advanced", "basic", each once`);
  return bunnyKinds;
}

/** A route's bunny options, each read through the kit; problems go to `fields`. */
export function readBunnyOptions(fields: Fields): BunnyOptions {
  return {
    accept: readAccept(fields),
    ipValidation: fields.bool('ipValidation', false),
    countryHeader: fields.headerName('countryHeader'),
  };
}
