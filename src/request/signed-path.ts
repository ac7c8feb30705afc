import { type Rejection, rejection, Verdict } from '../base/verdict.js';

/**
 * Which path a token was signed for, given the path requested. Usually the same path; for HLS
 * and DASH routes, the stream's playlist, so one token issued for `index.m3u8` also covers the
 * variant playlists and segments a player fetches next, without changing the token generator.
 */
export type SignedPathFor = (requestPath: string) => string | Rejection;

export const sameAsRequest: SignedPathFor = (requestPath) => requestPath;

/** `stream` route option: the playlist that signs a whole stream directory. */
export interface StreamScope {
  /** File name the tokens are issued for, e.g. `index.m3u8` or `manifest.mpd`. */
  readonly playlist: string;
  /**
   * How many path segments after the route prefix name the stream directory: with prefix `/tv/`
   * and depth 1, every file under `/tv/<channel>/` is covered by `/tv/<channel>/<playlist>`.
   * Undefined: the playlist in the request's own directory.
   */
  readonly depth: number | undefined;
}

export function streamSignedPath(prefix: string, scope: StreamScope): SignedPathFor {
  const { playlist, depth } = scope;
  if (depth === undefined) {
    return (requestPath) => requestPath.slice(0, requestPath.lastIndexOf('/') + 1) + playlist;
  }
  const tooShallow = rejection(
    Verdict.noRoute,
    `the path is not inside a stream directory of this route (${depth} segment(s) after ${prefix})`,
  );
  return (requestPath) => {
    let end = prefix.length - 1; // index of the slash that ends the prefix
    for (let i = 0; i < depth; i++) {
      end = requestPath.indexOf('/', end + 1);
      if (end < 0) return tooShallow;
    }
    return requestPath.slice(0, end + 1) + playlist;
  };
}

/** The prefix of `path` made of its first `depth` segments, ending with "/", or undefined. */
export function prefixOf(path: string, depth: number): string | undefined {
  let end = 0;
  for (let i = 0; i < depth; i++) {
    end = path.indexOf('/', end + 1);
    if (end < 0) return undefined;
  }
  return path.slice(0, end + 1);
}
