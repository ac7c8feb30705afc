/**
 * Structured JSON lines on stderr. Callers pass only fields that are safe to log: route names,
 * reasons, key ids, counts. Never tokens, secrets or full query strings (DESIGN.md §3.5).
 */
export type LogLevel = 'debug' | 'info' | 'warn' | 'error' | 'fatal';
const rank: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40, fatal: 50 };

export interface Logger {
  log(level: LogLevel, msg: string, fields?: Record<string, unknown>): void;
  /** At most `perWindow` lines per key per window, then one "suppressed" count: an attack cannot flood the disk. */
  limited(key: string, level: LogLevel, msg: string, fields?: Record<string, unknown>): void;
}

export function createLogger(
  minLevel: LogLevel = 'info',
  write: (line: string) => void = (line) => process.stderr.write(line),
  perWindow = 10,
  windowMs = 10_000,
): Logger {
  const windows = new Map<string, { startMs: number; count: number }>();
  const log: Logger['log'] = (level, msg, fields) => {
    if (rank[level] < rank[minLevel]) return;
    write(`${JSON.stringify({ time: new Date().toISOString(), level, msg, ...fields })}\n`);
  };
  return {
    log,
    limited(key, level, msg, fields) {
      const nowMs = Date.now();
      let window = windows.get(key);
      if (window === undefined || nowMs - window.startMs >= windowMs) {
        if (window !== undefined && window.count > perWindow) {
          log(level, 'log lines suppressed by rate limit', { key, suppressed: window.count - perWindow });
        }
        if (windows.size > 1000) windows.clear();
        window = { startMs: nowMs, count: 0 };
        windows.set(key, window);
      }
      if (++window.count <= perWindow) log(level, msg, fields);
    },
  };
}
