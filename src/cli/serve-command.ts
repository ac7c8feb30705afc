import { UsageError } from '../base/exit-codes.js';
import { createLogger, logLevelFrom, logLevels } from '../base/log.js';
import { runService } from '../service/main-thread.js';
import type { CommandInput } from './command-input.js';

/** `tokengate serve`: runs the service; the process lives on until a signal stops it (-1). */
export async function serveCommand({ rest, configFile }: CommandInput): Promise<number> {
  if (rest.length > 0) throw new UsageError('serve takes no arguments');
  const level = logLevelFrom(process.env);
  if (level === undefined) {
    throw new UsageError(
      `TOKENGATE_LOG_LEVEL must be one of ${logLevels.join(', ')} (its value is not shown: environment values may be secret)`,
    );
  }
  await runService(configFile, createLogger(level));
  return -1;
}
