/**
 * Documents a route's format fetches instead of reading from a file (a jwt route's `jwksUrl`):
 * fetched before a config is loaded, never while deciding, and handed to the load through its
 * file reader, so every thread compiles the very bytes the main thread fetched (the snapshot).
 */
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { parseConfig } from './parse-config.js';

/** What a fetch may take: a key set is a few KiB; a slow or huge answer is a broken endpoint. */
const fetchTimeoutMs = 5_000;
const maxDocumentBytes = 1 << 20;

/** The URLs the routes of a config file name (none when it does not parse: the load says why). */
export function remoteUrls(configFile: string | undefined): { url: string; refreshSec: number }[] {
  if (configFile === undefined) return [];
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(resolve(configFile), 'utf8'));
  } catch {
    return [];
  }
  const config = parseConfig(raw);
  if (Array.isArray(config)) return [];
  return config.routes.flatMap((route) => route.options.remoteDocuments.map(({ url, refreshSec }) => ({ url, refreshSec })));
}

/** The body of a 200 answer from `url`, or an Error whose message says why not (never the body). */
export async function fetchDocument(url: string): Promise<Buffer | Error> {
  const controller = new AbortController();
  // One deadline for the whole answer, body included: a slow body is cut, not waited for.
  const deadline = setTimeout(() => controller.abort(new Error('TimeoutError')), fetchTimeoutMs);
  try {
    const response = await fetch(url, { redirect: 'error', signal: controller.signal });
    if (response.status !== 200) {
      await response.body?.cancel();
      return new Error(`HTTP status ${response.status}`);
    }
    const tooLarge = new Error(`larger than ${maxDocumentBytes} bytes`);
    if (Number(response.headers.get('content-length') ?? 0) > maxDocumentBytes) {
      await response.body?.cancel();
      return tooLarge;
    }
    // Read chunk by chunk and stop past the cap: an endless body must not fill the memory.
    const chunks: Uint8Array[] = [];
    let size = 0;
    const reader = response.body?.getReader();
    while (reader !== undefined) {
      const { done, value } = await reader.read();
      if (done) break;
      size += value.byteLength;
      if (size > maxDocumentBytes) {
        await reader.cancel();
        return tooLarge;
      }
      chunks.push(value);
    }
    return Buffer.concat(chunks);
  } catch (error) {
    const cause = (error as { cause?: { code?: string } }).cause?.code;
    return new Error(controller.signal.aborted ? 'TimeoutError' : (cause ?? (error as Error).name ?? 'fetch failed'));
  } finally {
    clearTimeout(deadline);
  }
}

/** Fetches every URL not in `known` (all at once), and returns the documents with what was known. */
export async function fetchDocuments(
  urls: readonly string[],
  known: ReadonlyMap<string, Buffer> = new Map(),
): Promise<Map<string, Buffer | Error>> {
  const out = new Map<string, Buffer | Error>(known);
  const missing = [...new Set(urls)].filter((url) => !known.has(url));
  const bodies = await Promise.all(missing.map((url) => fetchDocument(url)));
  for (const [i, url] of missing.entries()) out.set(url, bodies[i]!);
  return out;
}

/** A file reader that serves fetched documents by their URL and reads every other path from disk. */
export function readerWith(
  documents: ReadonlyMap<string, Buffer | Error>,
  readFile: (path: string) => Buffer = readFileSync,
): (path: string) => Buffer {
  return (path) => {
    const document = documents.get(path);
    if (document === undefined) return readFile(path);
    if (document instanceof Error) throw Object.assign(new Error(document.message), { code: document.message });
    return document;
  };
}

/** The reader for a config file, with its URLs fetched first: for commands that load a config once. */
export async function fetchingReader(configFile: string | undefined): Promise<(path: string) => Buffer> {
  const urls = remoteUrls(configFile).map(({ url }) => url);
  return urls.length === 0 ? readFileSync : readerWith(await fetchDocuments(urls));
}
