import { connect } from 'node:net';
import { parseResponses } from './raw-http.js';

/** Raw bytes for the byte matrices: controls, space, DEL, and 0x80-0xFF (lone, UTF-8 lead and continuation bytes). */
export const probeBytes: readonly number[] = [
  0x00, 0x01, 0x08, 0x09, 0x0a, 0x0b, 0x0c, 0x0d, 0x1f, 0x20, 0x7f, 0x80, 0x85, 0x9c, 0xa0, 0xac, 0xc3, 0xe6, 0xfe, 0xff,
];
export const positions = ['start', 'middle', 'end'] as const;
export type Position = (typeof positions)[number];

/** `text` with `byte` inserted at its start, at `middle` (default: halfway) or at its end. */
export function insert(text: string, byte: number, position: Position, middle = Math.floor(text.length / 2)): string {
  const b = String.fromCharCode(byte);
  if (position === 'start') return b + text;
  if (position === 'end') return text + b;
  return text.slice(0, middle) + b + text.slice(middle);
}

/** What a connection got, as one comparable value: the first status, or how it ended without one. */
export type Result = number | 'closed' | 'silent';

/**
 * Writes `bytes` (latin1) on a fresh connection and waits up to `windowMs` for the first answer
 * or the close; `settledMs`: how long that took, undefined when neither came. The window is long
 * because it only ends a wait that has already failed; assert speed on `settledMs`.
 */
export function firstAnswer(
  port: number,
  bytes: string,
  windowMs = 10_000,
): Promise<{ result: Result; settledMs: number | undefined }> {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1');
    let received = '';
    let writtenAt = 0;
    let settled = false;
    socket.setEncoding('latin1');
    socket.on('error', () => {});
    const finish = (result: Result, settledMs: number | undefined) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      socket.destroy();
      resolve({ result, settledMs });
    };
    const timer = setTimeout(() => finish('silent', undefined), windowMs);
    socket.on('data', (data: string) => {
      received += data;
      const [response] = parseResponses(received);
      if (response !== undefined) finish(response.status, Date.now() - writtenAt);
    });
    socket.once('close', () => finish('closed', Date.now() - writtenAt));
    socket.once('connect', () => {
      writtenAt = Date.now();
      socket.write(bytes, 'latin1');
    });
  });
}

/** Runs `count` jobs, at most `limit` at a time. */
export async function pooled<T>(count: number, limit: number, job: (i: number) => Promise<T>): Promise<T[]> {
  const results: T[] = new Array(count);
  let next = 0;
  await Promise.all(
    Array.from({ length: limit }, async () => {
      while (next < count) {
        const i = next++;
        results[i] = await job(i);
      }
    }),
  );
  return results;
}
