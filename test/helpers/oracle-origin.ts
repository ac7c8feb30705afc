/**
 * The origin oracle's file tree: every file's body names its own path, and every file has a
 * size no other file has, so an answer names the file it carries even without its body (a HEAD
 * answer's Content-Length, a range answer's Content-Range total).
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';

export interface OriginFile {
  /** The path as the file system holds it, from the root: text (non-ASCII as itself), never escaped. */
  readonly path: string;
  readonly size: number;
}

export interface Origin {
  readonly root: string;
  readonly files: readonly OriginFile[];
  readonly byPath: ReadonlyMap<string, OriginFile>;
  readonly bySize: ReadonlyMap<number, OriginFile>;
}

const marker = 'oracle-file ';

/** The body of a file: "oracle-file <base64url of its path>\n<its path>\n", padded to its size. */
function bodyOf(file: OriginFile): Buffer {
  // base64url has no "." so nginx's sub_filter (".m3u8", ".ts") never rewrites the first line.
  const head = Buffer.from(`${marker}${Buffer.from(file.path).toString('base64url')}\n${file.path}\n`);
  if (head.length > file.size) throw new Error(`${file.path}: its head is longer than its size`);
  return Buffer.concat([head, Buffer.alloc(file.size - head.length, 0x2d)]);
}

/** Writes `paths` under `root`, each with a size of its own (sorted, so a path keeps its size from run to run). */
export function writeOrigin(root: string, paths: readonly string[]): Origin {
  const files = [...new Set(paths)].sort().map((path, i) => ({ path, size: 700 + 7 * i }));
  for (const file of files) {
    const on = join(root, file.path);
    mkdirSync(dirname(on), { recursive: true });
    writeFileSync(on, bodyOf(file));
  }
  return {
    root,
    files,
    byPath: new Map(files.map((file) => [file.path, file])),
    bySize: new Map(files.map((file) => [file.size, file])),
  };
}

/** What a 2xx answer carried: the file, or why it cannot say. */
export type Served = { readonly file: OriginFile } | { readonly unknown: string };

/** The file a 2xx answer carries: by its body when it has the whole first line, else by its Content-Range total or Content-Length. */
export function servedFile(
  origin: Origin,
  answer: { readonly status: number; readonly headers: ReadonlyMap<string, readonly string[]>; readonly body: Buffer },
): Served {
  const text = answer.body.toString('latin1');
  const lineEnd = text.indexOf('\n');
  if (answer.status !== 206 && text.startsWith(marker) && lineEnd > 0) {
    const path = Buffer.from(text.slice(marker.length, lineEnd), 'base64url').toString();
    const file = origin.byPath.get(path);
    if (file !== undefined) return { file };
    return { unknown: `a body naming ${JSON.stringify(path)}, which is no file of the origin` };
  }
  // A range answer: its Content-Range, or for several ranges the first part's.
  const range = answer.headers.get('content-range')?.[0] ?? /content-range: *bytes [0-9]+-[0-9]+\/[0-9]+/i.exec(text)?.[0];
  const total = range === undefined ? undefined : /\/([0-9]+)\s*$/.exec(range)?.[1];
  const length = total ?? (answer.status === 206 ? undefined : answer.headers.get('content-length')?.[0]);
  const file = length === undefined ? undefined : origin.bySize.get(Number(length));
  if (file !== undefined) return { file };
  return { unknown: `no file of the origin has ${length === undefined ? 'an unknown size' : `size ${length}`}` };
}
