import { UsageError } from '../base/exit-codes.js';

/** What every command handler gets: its parsed options and arguments, the config file and the clock. */
export interface CommandInput {
  readonly values: Readonly<Record<string, string | boolean | undefined>>;
  /** The positional arguments after the command name. */
  readonly rest: readonly string[];
  /** --config, else TOKENGATE_CONFIG; undefined: the embedded demo config. */
  readonly configFile: string | undefined;
  /** --now, else the clock, in unix seconds. */
  readonly nowSec: number;
}

/** Runs one command; resolves with the exit code, or -1 when the process runs on (serve). */
export type CommandHandler = (input: CommandInput) => Promise<number> | number;

/** A string option's value (parseArgs typed it by the command's option table). */
export function text(values: CommandInput['values'], name: string): string | undefined {
  return values[name] as string | undefined;
}

export function wholeNumber(value: string | undefined, flag: string, unit: string): number | undefined {
  if (value === undefined) return undefined;
  if (!/^[0-9]{1,10}$/.test(value)) throw new UsageError(`--${flag} must be a whole number of ${unit}`);
  return Number(value);
}

export const seconds = (value: string | undefined, flag: string) => wholeNumber(value, flag, 'seconds');
