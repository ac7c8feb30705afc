/** The logger: JSON lines, levels, rate limiting, and redaction as a second guard. */
import { describe, expect, it, vi } from 'vitest';
import { createLogger } from '../../src/base/log.js';

const capture = (level: Parameters<typeof createLogger>[0] = 'info', perWindow = 10, windowMs = 10_000) => {
  const lines: Record<string, unknown>[] = [];
  const logger = createLogger(level, (line) => lines.push(JSON.parse(line) as Record<string, unknown>), perWindow, windowMs);
  return { logger, lines };
};

describe('logger', () => {
  it('writes JSON lines with level, ISO time, fields and msg, and nothing below its level', () => {
    const { logger, lines } = capture('warn');
    logger.log('info', 'not written');
    logger.log('warn', 'written', { route: 'vod' });
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatchObject({ level: 'warn', msg: 'written', route: 'vod' });
    expect(lines[0]!.time).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
  });

  it('redacts fields named like tokens, secrets and queries, even nested', () => {
    const { logger, lines } = capture();
    logger.log('error', 'oops', {
      token: 'v1~k=k~m=abc',
      secret: 's3cret',
      query: 'st=x&e=1',
      st: 'abc',
      nested: { token: 't' },
    });
    expect(JSON.stringify(lines)).not.toMatch(/v1~k|s3cret|st=x|"abc"|"t"/);
    expect(lines[0]).toMatchObject({
      token: '[redacted]',
      secret: '[redacted]',
      query: '[redacted]',
      nested: { token: '[redacted]' },
    });
  });

  it('rate limits a kind of line and says how many it suppressed', () => {
    const { logger, lines } = capture('info', 3, 50);
    // The 50 ms window moves only when the test moves the clock (a real one could cross it mid-loop).
    let nowMs = Date.now();
    const clock = vi.spyOn(Date, 'now').mockImplementation(() => nowMs);
    try {
      for (let i = 0; i < 10; i++) logger.limited('bad-source:auth', 'warn', 'proxy sent unusable source headers');
      expect(lines).toHaveLength(3);
      nowMs += 60;
      logger.limited('bad-source:auth', 'warn', 'proxy sent unusable source headers');
    } finally {
      clock.mockRestore();
    }
    expect(lines.slice(3).map((line) => [line.msg, line.suppressed])).toEqual([
      ['log lines suppressed by rate limit', 7],
      ['proxy sent unusable source headers', undefined],
    ]);
  });
});
