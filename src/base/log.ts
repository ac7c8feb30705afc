/**
 * Structured JSON lines on stderr through pino: `{"level":"info","time":"<ISO 8601>",...fields,"msg":"..."}`.
 * Callers pass only fields that are safe to log: route names, reasons, key ids, counts. Never
 * tokens, secrets or full query strings (docs/security.md rule 5); the redaction below is a second line
 * of defence for field names that could carry them.
 */
import { pino } from 'pino';

export const logLevels = ['debug', 'info', 'warn', 'error', 'fatal', 'silent'] as const;
export type LogLevel = (typeof logLevels)[number];

export interface Logger {
  log(level: Exclude<LogLevel, 'silent'>, msg: string, fields?: Record<string, unknown>): void;
  /** At most `perWindow` lines per key per window, then one "suppressed" count: an attack cannot flood the disk. */
  limited(key: string, level: Exclude<LogLevel, 'silent'>, msg: string, fields?: Record<string, unknown>): void;
}

/** The level TOKENGATE_LOG_LEVEL names (default info); undefined when it names none. */
export function logLevelFrom(env: Readonly<Record<string, string | undefined>>): LogLevel | undefined {
  const value = env.TOKENGATE_LOG_LEVEL ?? 'info';
  return (logLevels as readonly string[]).includes(value) ? (value as LogLevel) : undefined;
}

const redacted = ['secret', 'token', 'query', 'st', 'password', '*.secret', '*.token', '*.query'];

/**
 * `write` replaces stderr (tests). Lines are written synchronously: a fatal line before
 * process.exit() is never lost, and log volume is small (denials are rate limited).
 */
export function createLogger(
  minLevel: LogLevel = 'info',
  write?: (line: string) => void,
  perWindow = 10,
  windowMs = 10_000,
): Logger {
  const base = pino(
    {
      level: minLevel,
      base: null,
      timestamp: pino.stdTimeFunctions.isoTime,
      formatters: { level: (label) => ({ level: label }) },
      redact: { paths: redacted, censor: '[redacted]' },
    },
    write === undefined ? pino.destination({ fd: 2, sync: true }) : { write },
  );
  const windows = new Map<string, { startMs: number; count: number }>();
  const log: Logger['log'] = (level, msg, fields) => {
    if (fields === undefined) base[level](msg);
    else base[level](fields, msg);
  };
  return {
    log,
    limited(key, level, msg, fields) {
      const nowMs = Date.now();
      let window = windows.get(key);
      if (window === undefined || nowMs - window.startMs >= windowMs) {
        if (window !== undefined && window.count > perWindow) {
          log(level, 'log lines suppressed by rate limit', { limit: key, suppressed: window.count - perWindow });
        }
        if (windows.size > 1000) windows.clear();
        window = { startMs: nowMs, count: 0 };
        windows.set(key, window);
      }
      if (++window.count <= perWindow) log(level, msg, fields);
    },
  };
}
